"""Conversation events (vocabulary.EventKind) as the bot reports them: stored once per
``event_id``, whatever the number of retried deliveries or bot replicas. The support metrics
are computed from them (handoff_service.reporting, docs/metrics.md)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from handoff_service.models import ConversationEvent
from handoff_service.ratelimit import sender_of
from handoff_service.schemas import ConversationEventIn


def record(session: Session, events: list[ConversationEventIn]) -> int:
    """Store the events not stored yet; returns how many were new. One insert that skips
    known ``event_id`` values, so concurrent deliveries of the same batch store it once."""
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
    session.commit()
    return stored
