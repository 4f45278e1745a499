"""Conversation events (vocabulary.EventKind) as the bot reports them: stored once per
``event_id``, whatever the number of retried deliveries or bot replicas, and merged into one
summary row per conversation (``ConversationSummary``) and one row per article it showed
(``ConversationArticle``), from which the support metrics are computed
(handoff_service.reporting, docs/metrics.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, delete, insert, not_, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from handoff_service.models import ConversationArticle, ConversationEvent, ConversationSummary
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
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        upsert(ConversationEvent)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(ConversationEvent.id)
    )
    stored = len(session.execute(stmt).scalars().all())
    _merge_summaries(session, upsert, events)
    _derive(session, sorted({event.conversation_id for event in events}))
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


def _merge_summaries(session: Session, upsert: Any, events: list[ConversationEventIn]) -> None:
    """Upsert the batch's summaries, merging each with the stored one column by column (rows in
    conversation order, so concurrent batches lock them in the same order)."""
    by_conversation: dict[str, list[ConversationEventIn]] = {}
    for event in events:
        by_conversation.setdefault(event.conversation_id, []).append(event)
    rows = [_summary(c, by_conversation[c]) for c in sorted(by_conversation)]
    stmt = upsert(ConversationSummary).values(rows)
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


def _derive(session: Session, conversation_ids: list[str]) -> None:
    """Rebuild what depends on a conversation's events in combination from all its stored
    events: its ``ConversationArticle`` rows (each article shown, with the latest feedback on
    it: the last by time, then by arrival), its summary's ``said_no_to_last``, and the
    ``next_epoch`` of its sender's article rows.

    Runs after the summaries' upsert, which locks their rows: a concurrent batch of the same
    conversation waits for this one to commit and then reads its events too (each statement
    sees what was committed before it started), so the last to commit sees every event. A
    concurrent batch of another conversation of the same sender waits likewise on the
    sender's lock (:func:`_lock_senders`). Every batch takes its summary rows, then its
    senders, each in sorted order, so no two batches wait for each other.
    """
    S, E, A = ConversationSummary, ConversationEvent, ConversationArticle
    summaries = {
        row.conversation_id: row
        for row in session.execute(
            select(
                S.conversation_id,
                S.sender,
                S.language,
                S.started_at,
                S.started_epoch,
                S.last_shown_article,
            ).where(S.conversation_id.in_(conversation_ids))
        )
    }
    shown: dict[str, dict[str, bool | None]] = {c: {} for c in conversation_ids}
    said_no: dict[str, set[str]] = {c: set() for c in conversation_ids}
    stored = session.execute(
        select(E.conversation_id, E.kind, E.article_id, E.helpful)
        .where(
            E.conversation_id.in_(conversation_ids),
            E.kind.in_([EventKind.ARTICLE_SHOWN.value, EventKind.FEEDBACK.value]),
            E.article_id.is_not(None),
        )
        .order_by(E.conversation_id, E.occurred_at, E.id)
    )
    latest: dict[tuple[str, str], bool | None] = {}
    for conversation_id, kind, article_id, helpful in stored:
        if kind == EventKind.ARTICLE_SHOWN.value:
            shown[conversation_id].setdefault(article_id, None)
        else:
            latest[conversation_id, article_id] = helpful
            if helpful is False:
                said_no[conversation_id].add(article_id)
    rows = [
        {
            "conversation_id": c,
            "article_id": article_id,
            "sender": summaries[c].sender,
            "language": summaries[c].language,
            "started_at": summaries[c].started_at,
            "started_epoch": summaries[c].started_epoch,
            "feedback": latest.get((c, article_id)),
        }
        for c in conversation_ids
        for article_id in sorted(shown[c])
    ]
    senders = sorted({row.sender for row in summaries.values()})
    _lock_senders(session, senders)
    session.execute(delete(A).where(A.conversation_id.in_(conversation_ids)))
    if rows:
        session.execute(insert(A), rows)
    _link_returns(session, senders)
    session.execute(
        update(S),
        [
            {
                "conversation_id": c,
                "said_no_to_last": summaries[c].last_shown_article in said_no[c],
            }
            for c in conversation_ids
        ],
    )


def _lock_senders(session: Session, senders: list[str]) -> None:
    """On PostgreSQL, hold a transaction lock per sender, taken in sorted order: batches of
    the same customer's conversations link their returns (:func:`_link_returns`) one after
    the other. SQLite has one writer at a time anyway."""
    if senders and session.get_bind().dialect.name == "postgresql":
        session.execute(
            text(
                "SELECT count(pg_advisory_xact_lock(hashtextextended(s, 0)))"
                " FROM (SELECT unnest(CAST(:senders AS text[])) AS s ORDER BY 1) AS sorted"
            ),
            {"senders": senders},
        )


def _link_returns(session: Session, senders: list[str]) -> None:
    """Set every article row of ``senders`` to the start of the same sender's next
    conversation (strictly later) that showed the same article: what "came back on the same
    topic" reads (reporting.came_back)."""
    A = ConversationArticle
    stored = session.execute(
        select(A.conversation_id, A.article_id, A.sender, A.started_epoch, A.next_epoch)
        .where(A.sender.in_(senders))
        .order_by(A.sender, A.article_id, A.started_epoch.desc())
    )
    changes = []
    group: tuple[str, str] | None = None
    starts: list[float] = []  # the group's starts seen so far, latest first
    for conversation_id, article_id, sender, started, current in stored:
        if (sender, article_id) != group:
            group, starts = (sender, article_id), []
        later = [start for start in starts if start > started]
        following = later[-1] if later else None
        if following != current:
            key = {"conversation_id": conversation_id, "article_id": article_id}
            changes.append({**key, "next_epoch": following})
        starts.append(started)
    if changes:
        session.execute(update(A), changes)
