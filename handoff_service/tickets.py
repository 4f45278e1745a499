"""Ticket operations: creation from a handoff (triage, numbering, idempotency) and the agent
actions. Routers translate HTTP to these calls; the state rules live in lifecycle.py."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from handoff_service import sla
from handoff_service.context import AppContext
from handoff_service.kb_drafts import MAX_DRAFTS_PER_TICKET, write_draft
from handoff_service.lifecycle import (
    KB_DRAFTABLE,
    OPEN,
    Action,
    InvalidTransition,
    check_editable,
    next_status,
)
from handoff_service.mail.outbox import enqueue_for_event
from handoff_service.models import Account, Counter, SatisfactionRating, Ticket, TicketEvent, utcnow
from handoff_service.schemas import HandoffIn, KbDraftIn
from handoff_service.summary import customer_text, summarise
from handoff_service.triage.request_types import classify_request_type
from handoff_service.triage.rules import TicketFacts
from handoff_service.vocabulary import Priority, Status, Visibility

#: The actor name of changes the customer makes (private page, reply by e-mail).
CUSTOMER = "customer"


class TicketNotFound(LookupError):
    pass


class UnknownQueue(ValueError):
    """A queue the routing rules do not name (HTTP 422): a ticket put there would sit in a
    queue nobody watches."""

    def __init__(self, queue: str, known: list[str]) -> None:
        super().__init__(f"unknown queue {queue!r}; the configured queues are: {', '.join(known)}")
        self.queues = known


def check_queue(ctx: AppContext, queue: str) -> None:
    """:class:`UnknownQueue` unless ``queue`` is one of the routing rules' queues."""
    known = sorted(ctx.rules.queues)
    if queue not in known:
        raise UnknownQueue(queue, known)


def new_access_key() -> str:
    """The customer's secret for one ticket: 256 random bits, URL- and e-mail-address-safe."""
    return secrets.token_urlsafe(32)


def next_number(session: Session, year: int) -> str:
    """Allocate ``T-<year>-<000001>`` atomically: an upsert on the year's counter row.

    The row stays locked until the transaction ends, so concurrent creators queue up on
    PostgreSQL; on SQLite the write lock already serialises them. A rolled-back creation
    gives its number back.
    """
    name = f"ticket-{year}"
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(Counter)
        .values(name=name, value=1)
        .on_conflict_do_update(index_elements=[Counter.name], set_={"value": Counter.value + 1})
        .returning(Counter.value)
    )
    value = session.execute(stmt).scalar_one()
    return f"T-{year}-{value:06d}"


def by_conversation(session: Session, conversation_id: str) -> Ticket | None:
    """The ticket handed off from ``conversation_id``, if any (the idempotency key)."""
    return session.scalars(select(Ticket).where(Ticket.conversation_id == conversation_id)).first()


def belongs_to_sender(conversation_id: str, sender: str) -> bool:
    """Whether a handoff's ``conversation_id`` is one of the chat sender's: the bot builds it
    as the sender id, optionally followed by ``:<session start>`` (a Unix time)."""
    if not conversation_id.startswith(sender):
        return False
    suffix = conversation_id[len(sender) :]
    return suffix == "" or (suffix.startswith(":") and suffix[1:].isdigit())


def open_ticket_of_sender(session: Session, sender: str) -> Ticket | None:
    """The newest open ticket handed off from the chat sender ``sender``."""
    candidates = session.scalars(
        select(Ticket)
        .where(
            Ticket.conversation_id.startswith(sender, autoescape=True),
            Ticket.status.in_([s.value for s in OPEN]),
        )
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    )
    return next((t for t in candidates if belongs_to_sender(t.conversation_id, sender)), None)


def create_from_handoff(
    ctx: AppContext, session: Session, handoff: HandoffIn, actor: str
) -> tuple[Ticket, bool]:
    """The ticket for ``handoff.conversation_id``, and whether it was created by this call.

    Triage runs before the database is touched, so no lock is held while classifying. Free
    text arrives already redacted (see schemas.FreeText).
    """
    summary = handoff.summary or summarise(handoff)
    text = customer_text(handoff)
    prediction = ctx.classifier.predict(f"{text}\n{handoff.summary or ''}")
    request_type = classify_request_type(text, handoff.reason)
    customer = handoff.customer.model_dump()
    rule = ctx.rules.route(
        TicketFacts(
            category=prediction.category,
            request_type=request_type,
            priority=prediction.priority,
            language=handoff.language,
            channel=handoff.channel,
            reason=handoff.reason,
            text=f"{text}\n{summary}",
            customer=customer,
        )
    )
    now = utcnow()
    due_at = ctx.levels.due_at(now, request_type, prediction.priority, ctx.timezone, rule.queue)

    existing = by_conversation(session, handoff.conversation_id)
    if existing is not None:
        return existing, False
    ticket = Ticket(
        number=next_number(session, now.astimezone(ctx.timezone).year),
        conversation_id=handoff.conversation_id,
        customer_name=customer["name"],
        customer_email=customer["email"],
        customer_phone=customer["phone"],
        order_number=customer["order_number"],
        language=handoff.language.value,
        channel=handoff.channel.value,
        transcript=[m.model_dump(mode="json", exclude_none=True) for m in handoff.transcript],
        intent_ranking=[i.model_dump(mode="json") for i in handoff.intent_ranking],
        kb_articles=[a.model_dump(mode="json", exclude_none=True) for a in handoff.kb_articles],
        summary=summary,
        handoff_reason=handoff.reason.value,
        category=prediction.category.value,
        category_confidence=prediction.category_confidence,
        priority=prediction.priority.value,
        priority_confidence=prediction.priority_confidence,
        request_type=request_type.value,
        queue=rule.queue,
        routing_rule=rule.name,
        tier=1,
        status=Status.NEW.value,
        access_key=new_access_key(),
        created_at=now,
        updated_at=now,
        due_at=due_at,
    )
    ticket.events = [
        TicketEvent(kind="created", actor=actor, created_at=now, data={"reason": handoff.reason}),
        TicketEvent(
            kind="triaged",
            actor="triage",
            created_at=now,
            data={
                "category": prediction.category.value,
                "category_confidence": prediction.category_confidence,
                "priority": prediction.priority.value,
                "priority_confidence": prediction.priority_confidence,
                "request_type": request_type.value,
                "queue": rule.queue,
                "rule": rule.name,
                "due_at": due_at.isoformat(),
            },
        ),
    ]
    enqueue_for_event(ticket, ticket.events[0])
    session.add(ticket)
    try:
        session.commit()
    except IntegrityError:
        # A concurrent request created the ticket for this conversation first.
        session.rollback()
        existing = by_conversation(session, handoff.conversation_id)
        if existing is None:
            raise
        return existing, False
    ctx.metrics.tickets_created.labels(queue=ticket.queue).inc()
    return ticket, True


def get_ticket(session: Session, number: str, *, lock: bool = False) -> Ticket:
    """The ticket ``number``; with ``lock``, its row stays locked until the transaction ends
    (``SELECT ... FOR UPDATE``), so concurrent actions on one ticket run one after the other
    and each checks its transition against the state the previous one left. (SQLite ignores
    the clause: its transactions are serialised anyway, see db.py.)"""
    query = select(Ticket).where(Ticket.number == number)
    ticket = session.scalars(query.with_for_update() if lock else query).first()
    if ticket is None:
        raise TicketNotFound(f"ticket {number} not found")
    return ticket


def list_tickets(
    session: Session,
    filters: dict[str, Any],
    limit: int,
    offset: int,
    where: Sequence[ColumnElement[bool]] = (),
) -> tuple[int, list[Ticket]]:
    """Tickets matching ``filters`` (column -> value; None = any) and the conditions ``where``
    (e.g. sla.due_conditions), earliest due date first."""
    conditions = [
        getattr(Ticket, column) == value for column, value in filters.items() if value is not None
    ]
    conditions.extend(where)
    total = session.scalar(select(func.count()).select_from(Ticket).where(*conditions)) or 0
    rows = session.scalars(
        select(Ticket)
        .where(*conditions)
        .order_by(Ticket.due_at, Ticket.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return total, list(rows)


def get_by_access_key(session: Session, key: str) -> Ticket:
    """The ticket whose access key is ``key`` (the private page, replies by e-mail)."""
    ticket = session.scalars(select(Ticket).where(Ticket.access_key == key)).first()
    if ticket is None:
        raise TicketNotFound("no ticket for this link")
    return ticket


def _record(ticket: Ticket, actor: Account | str, kind: str, **data: Any) -> TicketEvent:
    """Append an event to the ticket's history, with the e-mail it calls for (same transaction)."""
    now = utcnow()
    ticket.updated_at = now
    name = actor if isinstance(actor, str) else actor.name
    event = TicketEvent(kind=kind, actor=name, data=data, created_at=now)
    ticket.events.append(event)
    enqueue_for_event(ticket, event)
    return event


def transition(ticket: Ticket, actor: Account | str, action: Action, **data: Any) -> None:
    """Apply a lifecycle action (raises InvalidTransition) and record it. Waiting on the
    customer stops the due-date clock and leaving that status restarts it (sla.py); the
    event records the due date's shift."""
    before = ticket.status
    ticket.status = next_status(before, action).value
    due = sla.on_status_change(ticket, before, utcnow())
    _record(ticket, actor, action.value, **{"from": before, "to": ticket.status, **data, **due})


def claim(ticket: Ticket, agent: Account) -> None:
    transition(ticket, agent, Action.CLAIM)
    ticket.assignee = agent


def resolve(ticket: Ticket, agent: Account, note: str) -> None:
    transition(ticket, agent, Action.RESOLVE, resolution_note=note)
    ticket.resolution_note = note
    ticket.resolved_at = ticket.updated_at


def close(ticket: Ticket, agent: Account) -> None:
    transition(ticket, agent, Action.CLOSE)
    ticket.closed_at = ticket.updated_at


def reopen(ticket: Ticket, agent: Account, reason: str) -> None:
    transition(ticket, agent, Action.REOPEN, reason=reason)
    ticket.resolved_at = None
    ticket.closed_at = None
    if ticket.assignee is None:
        ticket.assignee = agent


def escalate(
    ctx: AppContext, ticket: Ticket, agent: Account, tier: int, reason: str, queue: str | None
) -> None:
    if queue is not None and queue != ticket.queue:
        check_queue(ctx, queue)
    if tier <= ticket.tier:
        raise InvalidTransition(
            f"ticket is already at tier {ticket.tier}; escalate to a higher tier"
        )
    transition(
        ticket,
        agent,
        Action.ESCALATE,
        reason=reason,
        from_tier=ticket.tier,
        to_tier=tier,
        **({"queue": queue} if queue else {}),
    )
    ticket.tier = tier
    ticket.assignee = None
    if queue:
        ticket.queue = queue


def comment(ticket: Ticket, agent: Account, body: str, visibility: Visibility) -> None:
    check_editable(ticket.status, "comment")
    _record(ticket, agent, "comment", body=body, visibility=visibility.value)


def change(
    ctx: AppContext, ticket: Ticket, agent: Account, priority: Priority | None, queue: str | None
) -> None:
    check_editable(ticket.status, "change priority or queue")
    if priority is not None and priority.value != ticket.priority:
        _record(
            ticket, agent, "priority_changed", **{"from": ticket.priority, "to": priority.value}
        )
        ticket.priority = priority.value
        sla.recompute_due(ticket, sla.Clock.of(ctx), utcnow())
    if queue is not None and queue != ticket.queue:
        check_queue(ctx, queue)
        _record(ticket, agent, "queue_changed", **{"from": ticket.queue, "to": queue})
        ticket.queue = queue


def make_kb_draft(
    ctx: AppContext, ticket: Ticket, agent: Account, request: KbDraftIn
) -> PurePosixPath:
    """Write the ticket's draft; its path relative to the KB folder (``es/topic.md``), which
    is also what the ticket and its history keep: the server's folders are nobody's business.
    At most :data:`MAX_DRAFTS_PER_TICKET` drafts per ticket."""
    if Status(ticket.status) not in KB_DRAFTABLE:
        raise InvalidTransition(
            f"only resolved or closed tickets can become KB articles; this one is {ticket.status}"
        )
    if sum(e.kind == "kb_draft_created" for e in ticket.events) >= MAX_DRAFTS_PER_TICKET:
        raise InvalidTransition(
            f"this ticket already made {MAX_DRAFTS_PER_TICKET} KB drafts, the most one ticket "
            "may make; edit one of them instead"
        )
    today = utcnow().astimezone(ctx.timezone).date()
    kb_dir = ctx.settings.kb_drafts_dir
    written = write_draft(ticket, request, kb_dir, today)
    path = PurePosixPath(written.relative_to(kb_dir).as_posix())
    ticket.kb_draft_path = str(path)
    _record(ticket, agent, "kb_draft_created", path=str(path))
    return path


def rotate_access_key(ticket: Ticket, agent: Account) -> None:
    """A new secret for the ticket: links and reply addresses sent before stop working."""
    ticket.access_key = new_access_key()
    _record(ticket, agent, "access_key_rotated")


def mark_seen(ticket: Ticket, through: dt.datetime | None = None) -> None:
    """The customer has read the ticket: its replies up to ``through`` (default: now) are no
    longer unread. Never moves back, and never past now."""
    now = utcnow()
    moment = min(through, now) if through is not None else now
    if ticket.customer_seen_at is None or moment > ticket.customer_seen_at:
        ticket.customer_seen_at = moment


def replies(ticket: Ticket) -> list[TicketEvent]:
    """The agents' replies to the customer (customer-visible comments), oldest first."""
    return [
        e
        for e in ticket.events
        if e.kind == "comment" and e.data.get("visibility") == Visibility.CUSTOMER.value
    ]


def unread_replies(ticket: Ticket) -> list[TicketEvent]:
    """Agent replies the customer has not seen yet, oldest first."""
    seen = ticket.customer_seen_at
    return [e for e in replies(ticket) if seen is None or e.created_at > seen]


def customer_reply(ticket: Ticket, body: str, via: str, **data: Any) -> None:
    """The customer writes on an open ticket (``via``: ``page`` or ``email``; ``data``: more
    for the event, e.g. an e-mail's refused attachments). A ticket waiting on the customer goes
    back to in progress: the assignee has work again."""
    if Status(ticket.status) not in OPEN:
        raise InvalidTransition(f"this request is {ticket.status}; reopen it to write again")
    _record(ticket, CUSTOMER, "customer_reply", body=body, via=via, **data)
    if ticket.status == Status.WAITING_ON_CUSTOMER.value:
        transition(ticket, CUSTOMER, Action.RESUME)


def can_reopen(ticket: Ticket, reopen_days: int, now: dt.datetime | None = None) -> bool:
    """Whether the customer may still reopen: resolved (not closed) less than ``reopen_days``
    days ago."""
    if ticket.status != Status.RESOLVED.value or ticket.resolved_at is None:
        return False
    return (now or utcnow()) - ticket.resolved_at < dt.timedelta(days=reopen_days)


def customer_reopen(ticket: Ticket, reason: str, reopen_days: int) -> None:
    """The customer reopens a resolved ticket from its private page, within the window."""
    if not can_reopen(ticket, reopen_days):
        raise InvalidTransition(
            f"a request can be reopened up to {reopen_days} days after it was resolved"
        )
    transition(ticket, CUSTOMER, Action.REOPEN, reason=reason)
    ticket.resolved_at = None
    ticket.closed_at = None


def rate(ticket: Ticket, rating: int, comment: str | None) -> SatisfactionRating:
    """The customer's satisfaction (1-5, optional comment) with a resolved or closed ticket."""
    if Status(ticket.status) not in KB_DRAFTABLE:
        raise InvalidTransition("a request can be rated once it is resolved")
    if not 1 <= rating <= 5:
        raise ValueError("rating must be between 1 and 5")
    row = SatisfactionRating(rating=rating, comment=comment or None, created_at=utcnow())
    ticket.ratings.append(row)
    _record(ticket, CUSTOMER, "rated", rating=rating)
    return row
