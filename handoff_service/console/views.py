"""The console's pages: the queue and a ticket (GET only; the forms post to :mod:`.actions`).

The queue also lists the tickets behind a due-date figure of the reports page: the tickets
created on some days of the organisation's calendar (read as the reports page reads them,
:func:`.reports.read_period`) whose due-date result is ``reporting.due_state``'s.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import ColumnElement

from handoff_service import reporting, sla, tickets
from handoff_service.console.filters import day, describe
from handoff_service.console.reports import InvalidFilter, Period, read_period
from handoff_service.console.session import COOKIE_PATH, ConsoleError, Login, take_flash
from handoff_service.console.templating import render
from handoff_service.dependencies import Ctx, DbSession
from handoff_service.lifecycle import EDITABLE, KB_DRAFTABLE, allowed_actions
from handoff_service.mail import links
from handoff_service.models import Ticket, utcnow
from handoff_service.schemas import TICKET_NUMBER_PATTERN, QueueName
from handoff_service.tickets import TicketNotFound
from handoff_service.vocabulary import (
    Category,
    DueResult,
    Language,
    Priority,
    RequestType,
    Status,
)

PAGE_SIZE = 50
DUE_RESULT_WORDS = {
    DueResult.MET: "due date met",
    DueResult.MISSED: "due date missed",
    DueResult.OPEN_NOT_DUE: "open, not due yet",
}
#: The filters only a figure of the reports page sets (no field of the form: a note shows them).
REPORT_FILTERS = frozenset({"created_since", "created_until", "due_result"})

router = APIRouter(prefix=COOKIE_PATH, include_in_schema=False)


class QueueFilters(BaseModel):
    """The queue's filters, validated with the API's types."""

    model_config = ConfigDict(extra="ignore")

    queue: QueueName | None = None
    status: Status | None = None
    priority: Priority | None = None
    tier: int | None = Field(default=None, ge=1, le=3)
    language: Language | None = None
    request_type: RequestType | None = None
    due: sla.DueState | None = None
    created_since: dt.date | None = None
    created_until: dt.date | None = None
    due_result: DueResult | None = None
    offset: int = Field(default=0, ge=0, le=1_000_000)

    def columns(self) -> dict[str, Any]:
        return self.model_dump(exclude={"offset", "due"} | REPORT_FILTERS)

    def kept(self, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The filters in force but ``exclude``, for the page links."""
        values = self.model_dump(exclude={"offset"} | exclude)
        return {k: v for k, v in values.items() if v is not None}


def read_filters(
    raw: dict[str, str], zone: ZoneInfo, now: dt.datetime
) -> tuple[QueueFilters, Period | None]:
    """The filters, and the creation days as the reports page reads them (None when no day is
    given; only one: the four weeks from, or up to, it), which the filters then name."""
    try:
        filters = QueueFilters.model_validate(raw)
    except ValidationError as exc:
        raise InvalidFilter(describe(exc)) from exc
    days = {"since": filters.created_since, "until": filters.created_until}
    if all(value is None for value in days.values()):
        return filters, None
    given = {key: str(value) for key, value in days.items() if value is not None}
    period = read_period(given, zone, now.astimezone(zone).date())
    update = {"created_since": period.first_day, "created_until": period.last_day}
    return filters.model_copy(update=update), period


def conditions(
    filters: QueueFilters, created: Period | None, now: dt.datetime, hours: float
) -> list[ColumnElement[bool]]:
    """SQL for the filters that are no plain column: the due state, the creation days and the
    due-date result (the reports' own expression, so a figure's tickets are the ones it counts)."""
    where = sla.due_conditions(filters.due, now, hours) if filters.due else []
    if created is not None:
        bounds = created.conversations()
        where += [Ticket.created_at >= bounds.since, Ticket.created_at < bounds.until]
    if filters.due_result is not None:
        where.append(reporting.due_state(now) == filters.due_result)
    return where


def report_note(filters: QueueFilters) -> str | None:
    """'Created Mon 02 Nov 2026 to Sun 29 Nov 2026 · due date missed', or None."""
    parts = []
    if filters.created_since is not None and filters.created_until is not None:
        parts.append(f"Created {day(filters.created_since)} to {day(filters.created_until)}")
    if filters.due_result is not None:
        parts.append(DUE_RESULT_WORDS[filters.due_result])
    return " · ".join(parts) or None


@router.get("/", response_class=HTMLResponse)
def queue_page(request: Request, ctx: Ctx, session: DbSession, row: Login) -> HTMLResponse:
    raw = {key: value for key, value in request.query_params.items() if value != ""}
    queues = sorted(ctx.rules.queues)
    options = {
        "queues": queues,
        "statuses": list(Status),
        "priorities": list(Priority),
        "languages": list(Language),
        "tiers": [1, 2, 3],
        "request_types": list(RequestType),
        "due_states": list(sla.DueState),
    }
    now = utcnow()
    hours = ctx.settings.due_soon_hours
    try:
        filters, created = read_filters(raw, ctx.timezone, now)
    except InvalidFilter as exc:
        return render(
            request,
            "queue.html",
            status_code=400,
            row=row,
            flash=[{"level": "error", "text": f"Invalid filter: {exc}"}],
            filters=QueueFilters(),
            report_note=None,
            items=[],
            total=0,
            pages={},
            states={},
            now=now,
            **options,
        )
    total, items = tickets.list_tickets(
        session,
        filters.columns(),
        PAGE_SIZE,
        filters.offset,
        where=conditions(filters, created, now, hours),
    )
    kept = filters.kept()
    pages = {}
    if filters.offset > 0:
        pages["previous"] = {**kept, "offset": max(filters.offset - PAGE_SIZE, 0)}
    if filters.offset + PAGE_SIZE < total:
        pages["next"] = {**kept, "offset": filters.offset + PAGE_SIZE}
    return render(
        request,
        "queue.html",
        row=row,
        flash=take_flash(session, row),
        filters=filters,
        report_filters={k: v for k, v in kept.items() if k in REPORT_FILTERS},
        report_note=report_note(filters),
        without_report=filters.kept(exclude=REPORT_FILTERS),
        items=items,
        total=total,
        pages=pages,
        states={t.id: sla.due_state(t, now, hours) for t in items},
        now=now,
        **options,
    )


def load_ticket(session: DbSession, number: str) -> Ticket:
    """The ticket, or the console's 404 page (also for numbers that cannot be ticket numbers)."""
    if not re.fullmatch(TICKET_NUMBER_PATTERN, number) or len(number) > 20:
        raise ConsoleError(404, f"There is no ticket {number}.")
    try:
        return tickets.get_ticket(session, number)
    except TicketNotFound as exc:
        raise ConsoleError(404, f"There is no ticket {number}.") from exc


@router.get("/tickets/{number}", response_class=HTMLResponse)
def ticket_page(
    request: Request, number: str, ctx: Ctx, session: DbSession, row: Login
) -> HTMLResponse:
    ticket = load_ticket(session, number)
    flash = take_flash(session, row)
    kept = {m["kept"]["action"]: m["kept"]["values"] for m in flash if m.get("kept")}
    return render(
        request,
        "ticket.html",
        row=row,
        flash=flash,
        kept=kept,
        ticket=ticket,
        now=utcnow(),
        actions={action.value for action in allowed_actions(ticket.status)},
        editable=Status(ticket.status) in EDITABLE,
        draftable=Status(ticket.status) in KB_DRAFTABLE,
        escalation_tiers=[tier for tier in (2, 3) if tier > ticket.tier],
        queues=sorted(ctx.rules.queues | {ticket.queue}),
        priorities=list(Priority),
        categories=[c for c in Category if c is not Category.OTHER],
        page_url=links.page_url(ctx.settings, ticket),
        unread_replies=tickets.unread_replies(ticket),
    )
