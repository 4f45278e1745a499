"""Unanswered questions: recorded once per (conversation, reason, text), listed newest first
or grouped by text, most asked first."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import desc, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from handoff_service.models import UnansweredQuestion
from handoff_service.schemas import UnansweredIn, UnansweredReason
from handoff_service.vocabulary import Language


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record(session: Session, item: UnansweredIn) -> tuple[UnansweredQuestion, bool]:
    """The row for ``item`` and whether this call created it.

    An insert that does nothing on conflict, then a read: concurrent deliveries of the same
    record end with one row and no error on both backends. ``item.text`` is already redacted
    (schemas.FreeText).
    """
    key = text_hash(item.text)
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(UnansweredQuestion)
        .values(
            conversation_id=item.conversation_id,
            language=item.language.value,
            reason=item.reason,
            text=item.text,
            text_hash=key,
            occurred_at=item.occurred_at,
            created_at=dt.datetime.now(dt.UTC),
        )
        .on_conflict_do_nothing(index_elements=["conversation_id", "reason", "text_hash"])
        .returning(UnansweredQuestion.id)
    )
    created_id = session.execute(stmt).scalar_one_or_none()
    session.commit()
    row = session.scalars(
        select(UnansweredQuestion).where(
            UnansweredQuestion.conversation_id == item.conversation_id,
            UnansweredQuestion.reason == item.reason,
            UnansweredQuestion.text_hash == key,
        )
    ).one()
    return row, created_id is not None


def list_unanswered(
    session: Session,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    language: Language | None = None,
    reason: UnansweredReason | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[UnansweredQuestion]:
    """Matching rows, newest first; ``since`` is inclusive, ``until`` exclusive."""
    query = select(UnansweredQuestion)
    if since is not None:
        query = query.where(UnansweredQuestion.occurred_at >= since)
    if until is not None:
        query = query.where(UnansweredQuestion.occurred_at < until)
    if language is not None:
        query = query.where(UnansweredQuestion.language == language.value)
    if reason is not None:
        query = query.where(UnansweredQuestion.reason == reason)
    query = query.order_by(UnansweredQuestion.occurred_at.desc(), UnansweredQuestion.id.desc())
    return list(session.scalars(query.limit(limit).offset(offset)))


@dataclass(frozen=True)
class FrequentQuestion:
    """One redacted text with the number of conversations that asked it and the last time."""

    text: str
    conversations: int
    last_asked: dt.datetime


def most_frequent(
    session: Session,
    since: dt.datetime,
    until: dt.datetime,
    language: Language | None = None,
    limit: int = 20,
) -> list[FrequentQuestion]:
    """The texts asked in ``[since, until)`` (in ``language``, if given), each with the
    conversations that asked it (a conversation asking it with several reasons counts once):
    most asked first, then the most recently asked."""
    q = UnansweredQuestion
    conversations = func.count(func.distinct(q.conversation_id)).label("conversations")
    last_asked = func.max(q.occurred_at).label("last_asked")
    query = (
        select(q.text, conversations, last_asked)
        .where(q.occurred_at >= since, q.occurred_at < until)
        .group_by(q.text_hash, q.text)
        .order_by(desc(conversations), desc(last_asked), q.text)
        .limit(limit)
    )
    if language is not None:
        query = query.where(q.language == language.value)
    return [FrequentQuestion(*row) for row in session.execute(query)]
