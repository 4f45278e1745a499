"""Personal data: retention periods, and a customer's access to and erasure of their data.

:func:`purge` deletes what is past its period (``HANDOFF_RETENTION_*``): resolved and closed
tickets with everything hanging off them (history and comments, ratings, e-mails: the foreign
keys cascade), unanswered-question records, the bodies of sent e-mails, held and discarded
inbound e-mails and, when ``tracker_store_url`` is set, old events of the bot's conversations in
Rasa's SQL tracker store. The background worker runs it at most once an hour
(:func:`purge_due`); ``cli purge`` runs it at once.

:func:`export` and :func:`erase` find a customer by e-mail address (any letter case): their
tickets, the unanswered questions and the tracker events of those tickets' chats. Every export
and erasure is recorded in ``privacy_requests`` and logged, the address only as a keyed, salted
hash (:func:`email_digest`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import (
    ColumnElement,
    Connection,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy import create_engine as create_sqlalchemy_engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import column, table

from handoff_service.context import AppContext
from handoff_service.models import (
    Counter,
    EmailMessage,
    InboundEmail,
    PrivacyRequest,
    SatisfactionRating,
    Ticket,
    TicketEvent,
    UnansweredQuestion,
    utcnow,
)
from handoff_service.ratelimit import sender_of
from handoff_service.schemas import ExportedTicket, PrivacyExport, TrackerEvent, UnansweredOut
from handoff_service.settings import Settings
from handoff_service.tickets import belongs_to_sender
from handoff_service.vocabulary import EmailStatus, InboundStatus, PrivacyAction, Status

logger = logging.getLogger(__name__)

#: How often the worker purges (it ticks every few seconds).
PURGE_INTERVAL = dt.timedelta(hours=1)
#: The ``counters`` row holding when the last purge started (Unix seconds), shared by replicas.
PURGE_COUNTER = "privacy-purge"
#: Tickets deleted per statement (bounds the IN list).
BATCH = 500

#: The columns of Rasa's ``events`` table (rasa.core.tracker_store.SQLTrackerStore.SQLEvent)
#: this module reads; Rasa creates and owns the table.
EVENTS = table(
    "events",
    column("id"),
    column("sender_id"),
    column("type_name"),
    column("timestamp"),
    column("data"),
)
DONE_STATUSES = (Status.RESOLVED.value, Status.CLOSED.value)
UNDECIDED_INBOUND = (InboundStatus.HELD.value, InboundStatus.DISCARDED.value)


def _cutoff(now: dt.datetime, days: int | None) -> dt.datetime | None:
    return now - dt.timedelta(days=days) if days else None


# --- the e-mail hash ---------------------------------------------------------------------------


def email_digest(settings: Settings, email: str, salt: str) -> str:
    """HMAC-SHA256 (key ``privacy_hash_key``, empty when unset) of ``salt`` and the case-folded
    address: the stand-in for the address in the request log."""
    key = (
        settings.privacy_hash_key.get_secret_value().encode() if settings.privacy_hash_key else b""
    )
    message = salt.encode() + b"\0" + email.strip().casefold().encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def is_request_for(settings: Settings, row: PrivacyRequest, email: str) -> bool:
    """Whether the logged request ``row`` was about ``email``."""
    return hmac.compare_digest(row.email_hash, email_digest(settings, email, row.email_salt))


def _log_request(
    settings: Settings,
    session: Session,
    action: PrivacyAction,
    actor: str,
    email: str,
    counts: dict[str, int],
) -> None:
    salt = secrets.token_hex(16)
    row = PrivacyRequest(
        action=action.value,
        actor=actor,
        email_salt=salt,
        email_hash=email_digest(settings, email, salt),
        counts=counts,
    )
    session.add(row)
    session.flush()
    logger.info(
        "privacy request",
        extra={"action": action.value, "actor": actor, "request_id": row.id, "counts": counts},
    )


# --- the tracker store -------------------------------------------------------------------------


@contextmanager
def tracker_store(settings: Settings) -> Iterator[Connection | None]:
    """A transaction on Rasa's tracker store, or None when ``tracker_store_url`` is unset.

    No pool: the store is used once an hour and on rare requests. Parameters are hidden from
    errors, as in db.make_engine (they are sender ids).
    """
    url = settings.tracker_sqlalchemy_url
    if url is None:
        yield None
        return
    engine = create_sqlalchemy_engine(url, poolclass=NullPool, hide_parameters=True)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def _senders(conversation_ids: Iterable[str]) -> list[str]:
    """The chat senders (tracker ``sender_id``) of these handoffs' conversation ids."""
    return sorted({sender_of(c) for c in conversation_ids})


def _tracker_events(connection: Connection, senders: Sequence[str]) -> list[TrackerEvent]:
    if not senders:
        return []
    rows = connection.execute(
        select(EVENTS.c.sender_id, EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.data)
        .where(EVENTS.c.sender_id.in_(senders))
        .order_by(EVENTS.c.sender_id, EVENTS.c.id)
    )
    events = []
    for sender_id, type_name, timestamp, data in rows:
        try:
            parsed: Any = json.loads(data) if data is not None else None
        except ValueError:
            parsed = data
        events.append(
            TrackerEvent(sender_id=sender_id, type_name=type_name, timestamp=timestamp, data=parsed)
        )
    return events


# --- retention ---------------------------------------------------------------------------------


def _ticket_counts(session: Session, ids: Sequence[int]) -> dict[str, int]:
    """How many rows of each kind hang off these tickets (what deleting them removes)."""
    counts = {"tickets": len(ids)}
    for name, model in (
        ("ticket_events", TicketEvent),
        ("ratings", SatisfactionRating),
        ("inbound_emails", InboundEmail),
        ("outbox_emails", EmailMessage),
    ):
        counts[name] = sum(
            session.scalar(
                select(func.count()).select_from(model).where(model.ticket_id.in_(chunk))
            )
            or 0
            for chunk in _chunks(ids)
        )
    return counts


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def _delete_tickets(session: Session, ids: Sequence[int]) -> dict[str, int]:
    """Delete these tickets; the database cascades to events, ratings and e-mails (every
    foreign key to ``tickets`` is ``ON DELETE CASCADE``; SQLite enforces them, see db.py)."""
    counts = _ticket_counts(session, ids)
    for chunk in _chunks(ids):
        session.execute(
            delete(Ticket).where(Ticket.id.in_(chunk)).execution_options(synchronize_session=False)
        )
    return counts


def _deleted(session: Session, model: type[Any], *where: ColumnElement[bool]) -> int:
    result = session.execute(
        delete(model).where(*where).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def purge(settings: Settings, session: Session, now: dt.datetime) -> dict[str, int]:
    """Delete what is past its retention period as of ``now``, in ``session`` (the caller
    commits) and, if configured, in the tracker store (committed here). Counts by kind."""
    counts: dict[str, int] = {}
    if (cutoff := _cutoff(now, settings.retention_ticket_days)) is not None:
        ids = session.scalars(
            select(Ticket.id).where(
                Ticket.status.in_(DONE_STATUSES),
                func.coalesce(Ticket.resolved_at, Ticket.closed_at) < cutoff,
                or_(Ticket.closed_at.is_(None), Ticket.closed_at < cutoff),
            )
        ).all()
        counts.update(_delete_tickets(session, ids))
    if (cutoff := _cutoff(now, settings.retention_unanswered_days)) is not None:
        counts["unanswered_questions"] = _deleted(
            session, UnansweredQuestion, UnansweredQuestion.occurred_at < cutoff
        )
    if (cutoff := _cutoff(now, settings.retention_email_body_days)) is not None:
        result = session.execute(
            update(EmailMessage)
            .where(
                EmailMessage.status == EmailStatus.SENT.value,
                EmailMessage.sent_at < cutoff,
                or_(EmailMessage.text_body.is_not(None), EmailMessage.html_body.is_not(None)),
            )
            .values(text_body=None, html_body=None)
            .execution_options(synchronize_session=False)
        )
        counts["email_bodies"] = int(result.rowcount)  # type: ignore[attr-defined]
    if (cutoff := _cutoff(now, settings.retention_held_email_days)) is not None:
        counts["held_inbound_emails"] = _deleted(
            session,
            InboundEmail,
            InboundEmail.status.in_(UNDECIDED_INBOUND),
            InboundEmail.received_at < cutoff,
        )
    if (cutoff := _cutoff(now, settings.retention_tracker_days)) is not None:
        with tracker_store(settings) as tracker:
            if tracker is not None:
                result = tracker.execute(
                    delete(EVENTS).where(EVENTS.c.timestamp < cutoff.timestamp())
                )
                counts["tracker_events"] = int(result.rowcount)
    return counts


def _claim_purge(session: Session, now: dt.datetime) -> bool:
    """Whether this process should purge now: the last purge (by any replica) started at least
    :data:`PURGE_INTERVAL` ago. Claimed by a conditional update, so one replica wins."""
    stamp = int(now.timestamp())
    claimed = session.execute(
        update(Counter)
        .where(
            Counter.name == PURGE_COUNTER,
            Counter.value <= stamp - int(PURGE_INTERVAL.total_seconds()),
        )
        .values(value=stamp)
    ).rowcount  # type: ignore[attr-defined]
    if claimed:
        return True
    if session.get(Counter, PURGE_COUNTER) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Counter(name=PURGE_COUNTER, value=stamp))
    except IntegrityError:  # another replica created it first: its purge runs
        return False
    return True


def purge_due(ctx: AppContext, now: dt.datetime) -> int:
    """The worker's job: :func:`purge`, at most once per :data:`PURGE_INTERVAL`; how many
    things it removed."""
    with ctx.sessions() as session:
        if not _claim_purge(session, now):
            session.rollback()
            return 0
        session.commit()
        counts = purge(ctx.settings, session, now)
        session.commit()
    done = sum(counts.values())
    if done:
        logger.info("retention purge", extra={"counts": counts})
    return done


# --- access and erasure ------------------------------------------------------------------------


def tickets_of(session: Session, email: str) -> list[Ticket]:
    """The tickets whose customer e-mail is ``email``, ignoring letter case, oldest first."""
    return list(
        session.scalars(
            select(Ticket)
            .options(
                selectinload(Ticket.events),
                selectinload(Ticket.ratings),
                selectinload(Ticket.inbound_emails),
                selectinload(Ticket.emails),
                selectinload(Ticket.assignee),
            )
            .where(func.lower(Ticket.customer_email) == email.strip().lower())
            .order_by(Ticket.id)
        )
    )


def _unanswered_of(session: Session, senders: Sequence[str]) -> list[UnansweredQuestion]:
    """The unanswered questions asked in these senders' chats (any session of theirs)."""
    rows: list[UnansweredQuestion] = []
    for sender in senders:
        candidates = session.scalars(
            select(UnansweredQuestion)
            .where(UnansweredQuestion.conversation_id.startswith(sender, autoescape=True))
            .order_by(UnansweredQuestion.id)
        )
        rows.extend(q for q in candidates if belongs_to_sender(q.conversation_id, sender))
    return rows


def export(settings: Settings, session: Session, email: str, actor: str) -> PrivacyExport:
    """Everything stored about the customer with ``email``; the request is logged (the caller
    commits)."""
    found = tickets_of(session, email)
    senders = _senders(t.conversation_id for t in found)
    questions = _unanswered_of(session, senders)
    with tracker_store(settings) as tracker:
        conversation = _tracker_events(tracker, senders) if tracker is not None else None
    result = PrivacyExport(
        email=email.strip(),
        generated_at=utcnow(),
        tickets=[ExportedTicket.model_validate(t) for t in found],
        unanswered_questions=[UnansweredOut.model_validate(q) for q in questions],
        conversation_events=conversation,
    )
    counts = {
        "tickets": len(found),
        "ticket_events": sum(len(t.events) for t in found),
        "ratings": sum(len(t.ratings) for t in found),
        "inbound_emails": sum(len(t.inbound_emails) for t in found),
        "outbox_emails": sum(len(t.emails) for t in found),
        "unanswered_questions": len(questions),
    }
    if conversation is not None:
        counts["tracker_events"] = len(conversation)
    _log_request(settings, session, PrivacyAction.EXPORT, actor, email, counts)
    return result


def erase(settings: Settings, session: Session, email: str, actor: str) -> dict[str, int]:
    """Delete everything stored about the customer with ``email``; counts by kind. The request
    is logged (the caller commits; the tracker store's deletion is committed first, so a
    failure there leaves the service's data in place, to be erased again)."""
    found = tickets_of(session, email)
    senders = _senders(t.conversation_id for t in found)
    questions = _unanswered_of(session, senders)
    counts: dict[str, int] = {}
    with tracker_store(settings) as tracker:
        if tracker is not None:
            deleted = 0
            if senders:
                deleted = tracker.execute(
                    delete(EVENTS).where(EVENTS.c.sender_id.in_(senders))
                ).rowcount
            counts["tracker_events"] = int(deleted)
    counts.update(_delete_tickets(session, [t.id for t in found]))
    counts["unanswered_questions"] = _deleted(
        session, UnansweredQuestion, UnansweredQuestion.id.in_([q.id for q in questions])
    )
    for ticket in found:
        session.expunge(ticket)
    counts.update(_erase_from_outboxes(settings, email))
    _log_request(settings, session, PrivacyAction.ERASE, actor, email, counts)
    return counts


def _erase_from_outboxes(settings: Settings, email: str) -> dict[str, int]:
    """Ask every configured action server to delete the customer's undelivered handoffs from
    its outbox; ``outbox_rows`` deleted, and ``action_servers_unreachable`` when one could not
    be asked (logged: erase again once it is back, the call is idempotent)."""
    urls = settings.action_server_urls.split()
    if not urls:
        return {}
    secret = settings.action_secret.get_secret_value() if settings.action_secret else ""
    counts = {"outbox_rows": 0, "action_servers_unreachable": 0}
    for url in urls:
        try:
            response = httpx.post(
                f"{url.rstrip('/')}/privacy/erase",
                json={"email": email},
                headers={"Authorization": f"Bearer {secret}"},
                timeout=10,
            )
            response.raise_for_status()
            counts["outbox_rows"] += int(response.json()["outbox_rows"])
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            logger.warning("erasure: action server %s not asked: %s", url, exc)
            counts["action_servers_unreachable"] += 1
    return counts
