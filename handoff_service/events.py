"""Conversation events (vocabulary.EventKind) as the bot reports them: stored once per
``event_id``, whatever the number of retried deliveries or bot replicas, and merged into one
summary row per conversation (``ConversationSummary``) from which the support metrics are
computed (handoff_service.reporting, docs/metrics.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, not_, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from handoff_service.models import ConversationEvent, ConversationSummary
from handoff_service.ratelimit import sender_of
from handoff_service.schemas import ConversationEventIn
from handoff_service.vocabulary import EventKind


def record(session: Session, events: list[ConversationEventIn]) -> int:
    """Store the events not stored yet and merge them into their conversations' summaries;
    returns how many events were new. Known ``event_id`` values are skipped, and the merge is
    order-independent and idempotent, so concurrent or repeated deliveries of the same batch
    give the same rows."""
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "event_id": event.event_id,
            "conversation_id": event.conversation_id,
            "sender": sender_of(event.conversation_id),
            "kind": event.kind.value,
            "language": event.language.value,
            "occurred_at": event.occurred_at,
            "article_id": event.article_id,
            "score": event.score,
            "helpful": event.helpful,
            "reason": None if event.reason is None else event.reason.value,
            "created_at": now,
        }
        for event in events
    ]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(ConversationEvent)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(ConversationEvent.id)
    )
    stored = len(session.execute(stmt).scalars().all())
    _merge_summaries(session, insert, events)
    session.commit()
    return stored


def _summary(conversation_id: str, events: list[ConversationEventIn]) -> dict[str, Any]:
    """The summary row of one conversation's events of this batch (see ConversationSummary)."""
    ordered = sorted(events, key=lambda e: e.occurred_at)  # stable: batch order breaks ties
    started = [e for e in ordered if e.kind is EventKind.CONVERSATION_STARTED]
    start = (started or ordered)[0]
    handoffs = [e for e in ordered if e.kind is EventKind.HANDOFF]
    shown = [e for e in ordered if e.kind is EventKind.ARTICLE_SHOWN]
    kinds = {e.kind for e in ordered}
    return {
        "conversation_id": conversation_id,
        "sender": sender_of(conversation_id),
        "language": start.language.value,
        "started_at": start.occurred_at,
        "started_epoch": start.occurred_at.timestamp(),
        "start_flagged": bool(started),
        "handoff_at": handoffs[0].occurred_at if handoffs else None,
        "handoff_reason": handoffs[0].reason.value if handoffs and handoffs[0].reason else None,
        "helpful": any(e.kind is EventKind.FEEDBACK and e.helpful for e in ordered),
        "clarify_shown": EventKind.CLARIFY_SHOWN in kinds,
        "clarify_picked": EventKind.CLARIFY_PICKED in kinds,
        "last_shown_at": shown[-1].occurred_at if shown else None,
        "last_shown_article": shown[-1].article_id if shown else None,
    }


def _merge_summaries(session: Session, insert: Any, events: list[ConversationEventIn]) -> None:
    """Upsert the batch's summaries, merging each with the stored one column by column (rows in
    conversation order, so concurrent batches lock them in the same order)."""
    by_conversation: dict[str, list[ConversationEventIn]] = {}
    for event in events:
        by_conversation.setdefault(event.conversation_id, []).append(event)
    rows = [_summary(c, by_conversation[c]) for c in sorted(by_conversation)]
    stmt = insert(ConversationSummary).values(rows)
    new, old = stmt.excluded, ConversationSummary.__table__.c
    takes_start = or_(
        and_(new.start_flagged, not_(old.start_flagged)),
        and_(new.start_flagged == old.start_flagged, new.started_at < old.started_at),
    )
    takes_handoff = and_(
        new.handoff_at.is_not(None), or_(old.handoff_at.is_(None), new.handoff_at < old.handoff_at)
    )
    takes_shown = and_(
        new.last_shown_at.is_not(None),
        or_(old.last_shown_at.is_(None), new.last_shown_at >= old.last_shown_at),
    )

    def pick(condition: Any, column: str) -> Any:
        return case((condition, getattr(new, column)), else_=getattr(old, column))

    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["conversation_id"],
            set_={
                "language": pick(takes_start, "language"),
                "started_at": pick(takes_start, "started_at"),
                "started_epoch": pick(takes_start, "started_epoch"),
                "start_flagged": or_(old.start_flagged, new.start_flagged),
                "handoff_at": pick(takes_handoff, "handoff_at"),
                "handoff_reason": pick(takes_handoff, "handoff_reason"),
                "helpful": or_(old.helpful, new.helpful),
                "clarify_shown": or_(old.clarify_shown, new.clarify_shown),
                "clarify_picked": or_(old.clarify_picked, new.clarify_picked),
                "last_shown_at": pick(takes_shown, "last_shown_at"),
                "last_shown_article": pick(takes_shown, "last_shown_article"),
            },
        )
    )
