"""Service levels of open tickets: the paused clock, the due state, and the due notices.

One home for three rules:

* **The clock** stops when a ticket of a pausing request type (``pause_while_waiting`` in
  service_levels.yml) starts waiting on the customer, and starts again when it leaves that
  status; the due instant then moves later by the business time the pause lasted, in the
  business hours of the ticket's queue (:func:`pause_clock`, :func:`resume_clock`).
* **The due state** of a ticket (:func:`due_state`): ``paused``, ``overdue``, ``due_soon``
  (due within ``due_soon_hours``) or ``on_time`` while open; none once resolved or closed. The
  API and the console both show it.
* **The notices** (:func:`announce_due`): every due-soon or overdue ticket is announced once
  by e-mail to the agents of its queue.

Ticket changes reach the service levels through the ticket's session: :func:`bind` puts a
:class:`Clock` (levels, time zone, due-soon window) into the ``info`` of every session the
app's session factory makes, so ``tickets.transition`` (called from the API, the console, the
customer's page and replies by e-mail) needs no extra argument.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, object_session

from handoff_service.due_dates import ServiceLevels
from handoff_service.lifecycle import OPEN
from handoff_service.mail.outbox import enqueue
from handoff_service.models import Account, Ticket, TicketEvent
from handoff_service.vocabulary import EmailKind, Priority, RequestType, Role, Status

if TYPE_CHECKING:
    from handoff_service.context import AppContext

#: The key of the :class:`Clock` in ``Session.info``.
SESSION_KEY = "nivel0.sla_clock"
#: Event data key: business seconds a pause lasted (summed when the due date is recomputed).
PAUSED_SECONDS = "paused_business_seconds"
OPEN_STATUSES = sorted(s.value for s in OPEN)
NOTIFIED_ROLES = (Role.AGENT.value, Role.ADMIN.value)


class DueState(StrEnum):
    ON_TIME = "on_time"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    PAUSED = "paused"


class DueFacts(Protocol):
    """What the due state depends on (a Ticket row has it)."""

    status: Any
    due_at: dt.datetime
    sla_paused_at: dt.datetime | None


@dataclass(frozen=True)
class Clock:
    """What ticket changes need to keep due dates right, bound to the app's sessions."""

    levels: ServiceLevels
    timezone: ZoneInfo
    due_soon_hours: float

    @classmethod
    def of(cls, ctx: AppContext) -> Clock:
        return cls(ctx.levels, ctx.timezone, ctx.settings.due_soon_hours)


def bind(ctx: AppContext) -> None:
    """At startup: give every session of ``ctx.sessions`` the app's :class:`Clock`, after
    checking that the queues with their own business hours exist (a misspelt queue would
    silently get the default hours)."""
    unknown = set(ctx.levels.business_hours.queues) - ctx.rules.queues
    if unknown:
        raise ValueError(
            f"business_hours names queues no routing rule has: {', '.join(sorted(unknown))}"
        )
    ctx.sessions.configure(info={SESSION_KEY: Clock.of(ctx)})


def clock_of(ticket: Ticket) -> Clock:
    """The :class:`Clock` of the session ``ticket`` belongs to."""
    session = object_session(ticket)
    clock = session.info.get(SESSION_KEY) if session is not None else None
    if clock is None:
        raise RuntimeError(
            "ticket changes need a session from AppContext.sessions (sla.bind gives it the "
            "service levels); this ticket has none"
        )
    return clock


def due_state(ticket: DueFacts, now: dt.datetime, due_soon_hours: float) -> DueState | None:
    """The ticket's due state at ``now``; None once it is resolved or closed."""
    if Status(ticket.status) not in OPEN:
        return None
    if ticket.sla_paused_at is not None:
        return DueState.PAUSED
    if ticket.due_at <= now:
        return DueState.OVERDUE
    if ticket.due_at - now <= dt.timedelta(hours=due_soon_hours):
        return DueState.DUE_SOON
    return DueState.ON_TIME


def current_due_state(ticket: Ticket, now: dt.datetime) -> DueState | None:
    """:func:`due_state` with the due-soon window of the ticket's session (the API's view)."""
    return due_state(ticket, now, clock_of(ticket).due_soon_hours)


def due_conditions(
    state: DueState, now: dt.datetime, due_soon_hours: float
) -> list[ColumnElement[bool]]:
    """SQL conditions selecting the tickets whose :func:`due_state` at ``now`` is ``state``."""
    conditions: list[ColumnElement[bool]] = [Ticket.status.in_(OPEN_STATUSES)]
    if state is DueState.PAUSED:
        return [*conditions, Ticket.sla_paused_at.is_not(None)]
    conditions.append(Ticket.sla_paused_at.is_(None))
    soon = now + dt.timedelta(hours=due_soon_hours)
    if state is DueState.OVERDUE:
        return [*conditions, Ticket.due_at <= now]
    if state is DueState.DUE_SOON:
        return [*conditions, Ticket.due_at > now, Ticket.due_at <= soon]
    return [*conditions, Ticket.due_at > soon]


def set_notice_contact(
    account: Account, changes: Mapping[str, Any], known_queues: Collection[str]
) -> None:
    """Set where ``account``'s due notices go: ``changes`` may hold ``email`` (None: no
    notices) and ``queues`` (names from routing_rules.yml). ValueError for a service account
    or an unknown queue."""
    if account.role not in NOTIFIED_ROLES:
        raise ValueError(f"{account.role} accounts get no due notices; only agents and admins")
    queues = changes.get("queues")
    unknown = sorted(set(queues or []) - set(known_queues))
    if unknown:
        raise ValueError(f"unknown queue(s): {', '.join(unknown)}")
    if "email" in changes:
        account.email = changes["email"]
    if queues is not None:
        account.queues = list(dict.fromkeys(queues))


def reset_notices(ticket: Ticket, now: dt.datetime, due_soon_hours: float) -> None:
    """Forget the notices the ticket's new due date makes stale, so that they go out again
    when it becomes due soon or overdue once more."""
    if ticket.due_at > now:
        ticket.overdue_notified_at = None
    if ticket.due_at - now > dt.timedelta(hours=due_soon_hours):
        ticket.due_soon_notified_at = None


def pause_clock(ticket: Ticket, clock: Clock, now: dt.datetime) -> dict[str, Any]:
    """The ticket starts waiting on the customer: stop its clock if its request type pauses.
    Returns what the transition's event records."""
    if ticket.sla_paused_at is not None or not clock.levels.pauses(ticket.request_type):
        return {}
    ticket.sla_paused_at = now
    return {"clock": "paused"}


def resume_clock(ticket: Ticket, clock: Clock, now: dt.datetime) -> dict[str, Any]:
    """The ticket stops waiting: move the due date later by the business time the pause
    lasted (in its queue's hours, weekends and holidays excluded) and restart the clock.
    Returns what the transition's event records."""
    paused_at = ticket.sla_paused_at
    if paused_at is None:
        return {}
    # Whole seconds, the unit the event records, so the due date moves by exactly what the
    # history says: a pause of a few milliseconds must not push a due date that falls at
    # closing time to the next business morning.
    business = clock.levels.business_time(paused_at, now, ticket.queue, clock.timezone)
    paused = dt.timedelta(seconds=int(business.total_seconds()))
    before = ticket.due_at
    ticket.due_at = clock.levels.add_business_time(before, paused, ticket.queue, clock.timezone)
    ticket.sla_paused_at = None
    reset_notices(ticket, now, clock.due_soon_hours)
    return {
        "clock": "resumed",
        PAUSED_SECONDS: int(paused.total_seconds()),
        "due_at_before": before.isoformat(),
        "due_at_after": ticket.due_at.isoformat(),
    }


def on_status_change(ticket: Ticket, before: str, now: dt.datetime) -> dict[str, Any]:
    """Pause or resume the clock for a status change from ``before`` to ``ticket.status``."""
    waiting = Status.WAITING_ON_CUSTOMER.value
    if ticket.status == waiting and before != waiting:
        return pause_clock(ticket, clock_of(ticket), now)
    if before == waiting and ticket.status != waiting and ticket.sla_paused_at is not None:
        return resume_clock(ticket, clock_of(ticket), now)
    return {}


def paused_so_far(events: list[TicketEvent]) -> dt.timedelta:
    """Business time of the ticket's finished pauses, from its history."""
    seconds = sum(int(e.data.get(PAUSED_SECONDS, 0)) for e in events)
    return dt.timedelta(seconds=seconds)


def recompute_due(ticket: Ticket, clock: Clock, now: dt.datetime) -> None:
    """The due date after a priority change: the target counted from the creation, in the
    ticket's current queue, plus the finished pauses (a pause still running is added when it
    ends)."""
    levels = clock.levels
    base = levels.due_at(
        ticket.created_at,
        RequestType(ticket.request_type),
        Priority(ticket.priority),
        clock.timezone,
        ticket.queue,
    )
    ticket.due_at = levels.add_business_time(
        base, paused_so_far(ticket.events), ticket.queue, clock.timezone
    )
    reset_notices(ticket, now, clock.due_soon_hours)


def _claim(
    session: Session,
    column: InstrumentedAttribute[Any],
    conditions: list[ColumnElement[bool]],
    now: dt.datetime,
) -> list[int]:
    """Mark the tickets matching ``conditions`` whose notice (``column``: its
    ``*_notified_at``) has not gone out as announced at ``now``; their ids.

    The once-only guarantee with several processes: the rows are locked (``FOR UPDATE SKIP
    LOCKED`` on PostgreSQL: another announcer's rows are skipped, not waited for, so two
    announcers neither block nor deadlock) and only rows whose column is still empty are
    taken; an announcer that comes after the commit sees the column set. SQLite has one
    writer at a time.
    """
    ids = list(
        session.scalars(
            select(Ticket.id)
            .where(*conditions, column.is_(None))
            .order_by(Ticket.id)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(
            update(Ticket)
            .where(Ticket.id.in_(ids))
            .values({column.key: now})
            .execution_options(synchronize_session=False)
        )
    return ids


def announce_due(ctx: AppContext, session: Session, now: dt.datetime) -> int:
    """E-mail the agents of each ticket's queue, once, when it becomes due soon or overdue;
    returns the number of e-mails queued.

    Recipients: active agent and admin accounts with an e-mail whose queues contain the
    ticket's queue. Overdue tickets are announced as overdue only (no late "due soon" notice);
    paused, resolved and closed tickets are not announced. The claim and the outbox rows are
    one transaction: the caller commits (or rolls back, and the notices stay due).
    """
    hours = ctx.settings.due_soon_hours
    claims = [
        (
            kind,
            _claim(session, column, due_conditions(state, now, hours), now),
        )
        for kind, column, state in (
            (EmailKind.OVERDUE, Ticket.overdue_notified_at, DueState.OVERDUE),
            (EmailKind.DUE_SOON, Ticket.due_soon_notified_at, DueState.DUE_SOON),
        )
    ]
    if not any(ids for _kind, ids in claims):
        return 0
    agents = session.scalars(
        select(Account).where(
            Account.active.is_(True),
            Account.role.in_(NOTIFIED_ROLES),
            Account.email.is_not(None),
        )
    ).all()
    queued = 0
    for kind, ids in claims:
        # populate_existing: rows already in the session get the notice time just written
        query = select(Ticket).where(Ticket.id.in_(ids)).execution_options(populate_existing=True)
        for ticket in session.scalars(query):
            for agent in agents:
                if agent.email and ticket.queue in (agent.queues or []):
                    enqueue(ticket, kind, agent.email, None)
                    queued += 1
    session.flush()
    return queued
