"""Unanswered questions: recorded once per (conversation, reason, text), listed newest first
or clustered into topics, largest first (docs/metrics.md "Unanswered topics")."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import desc, distinct, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from handoff_service.models import UnansweredQuestion
from handoff_service.schemas import UnansweredIn, UnansweredReason, UnansweredTopic
from handoff_service.vocabulary import Language
from knowledge.gaps import cluster_texts

#: The most asked distinct texts of each language that :func:`topics` clusters: the
#: clustering's time and memory grow with the square of their number (2,000 texts took about
#: a second per language, 500 about a sixteenth of that; the dashboard's top 20 topics are
#: in the most asked texts anyway).
MAX_TOPIC_TEXTS = 500
TOPIC_EXAMPLES = 3


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


def topics(
    session: Session,
    since: dt.datetime,
    until: dt.datetime,
    language: Language | None = None,
    limit: int = 20,
) -> list[UnansweredTopic]:
    """The texts asked in ``[since, until)``, clustered by their words per language
    (``knowledge.gaps.cluster_texts`` without a model): at most :data:`MAX_TOPIC_TEXTS` distinct
    texts per language, the most asked. Largest first (conversations, then language, label)."""
    found: list[UnansweredTopic] = []
    for lang in [language] if language is not None else list(Language):
        found += _language_topics(session, since, until, lang)
    found.sort(key=lambda t: (-t.conversations, t.language, t.label))
    return found[:limit]


def _language_topics(
    session: Session, since: dt.datetime, until: dt.datetime, language: Language
) -> list[UnansweredTopic]:
    q = UnansweredQuestion
    where = (q.occurred_at >= since, q.occurred_at < until, q.language == language.value)
    asked = func.count(distinct(q.conversation_id)).label("asked")
    texts = session.execute(
        select(q.text_hash, q.text, asked)
        .where(*where)
        .group_by(q.text_hash, q.text)
        .order_by(desc(asked), q.text_hash)
        .limit(MAX_TOPIC_TEXTS)
    ).all()
    if not texts:
        return []
    hashes = [row.text_hash for row in texts]
    asked_by: dict[str, set[str]] = {key: set() for key in hashes}
    pairs = select(q.text_hash, q.conversation_id).where(*where, q.text_hash.in_(hashes))
    for key, conversation_id in session.execute(pairs.distinct()):
        asked_by[key].add(conversation_id)
    clusters = cluster_texts(
        [row.text for row in texts], language.value, weights=[row.asked for row in texts]
    )
    result = []
    for cluster in clusters:
        members = [texts[i] for i in cluster.members]
        result.append(
            UnansweredTopic(
                language=language,
                label=members[0].text,
                terms=cluster.terms,
                conversations=len(set().union(*(asked_by[m.text_hash] for m in members))),
                texts=len(members),
                examples=[m.text for m in members[1 : TOPIC_EXAMPLES + 1]],
                # most asked first, as the query read them
                text_hashes=[hashes[i] for i in sorted(cluster.members)],
            )
        )
    return result
