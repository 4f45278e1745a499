"""The console's pages: the queue and a ticket (GET only; the forms post to :mod:`.actions`)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from handoff_service import sla, tickets
from handoff_service.console.filters import describe
from handoff_service.console.session import COOKIE_PATH, ConsoleError, Login, take_flash
from handoff_service.console.templating import render
from handoff_service.dependencies import Ctx, DbSession
from handoff_service.lifecycle import EDITABLE, KB_DRAFTABLE, allowed_actions
from handoff_service.mail import links
from handoff_service.models import Ticket, utcnow
from handoff_service.schemas import TICKET_NUMBER_PATTERN, QueueName
from handoff_service.tickets import TicketNotFound
from handoff_service.vocabulary import Category, Language, Priority, Status

PAGE_SIZE = 50

router = APIRouter(prefix=COOKIE_PATH, include_in_schema=False)


class QueueFilters(BaseModel):
    """The queue's filters, validated with the API's types."""

    model_config = ConfigDict(extra="ignore")

    queue: QueueName | None = None
    status: Status | None = None
    priority: Priority | None = None
    tier: int | None = Field(default=None, ge=1, le=3)
    language: Language | None = None
    due: sla.DueState | None = None
    offset: int = Field(default=0, ge=0, le=1_000_000)

    def columns(self) -> dict[str, Any]:
        return self.model_dump(exclude={"offset", "due"})

    def kept(self) -> dict[str, Any]:
        """The filters in force, for the page links."""
        return {k: v for k, v in self.model_dump(exclude={"offset"}).items() if v is not None}


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
        "due_states": list(sla.DueState),
    }
    now = utcnow()
    hours = ctx.settings.due_soon_hours
    try:
        filters = QueueFilters.model_validate(raw)
    except ValidationError as exc:
        return render(
            request,
            "queue.html",
            status_code=400,
            row=row,
            flash=[{"level": "error", "text": f"Invalid filter: {describe(exc)}"}],
            filters=QueueFilters(),
            items=[],
            total=0,
            pages={},
            states={},
            now=now,
            **options,
        )
    due = sla.due_conditions(filters.due, now, hours) if filters.due else []
    total, items = tickets.list_tickets(
        session, filters.columns(), PAGE_SIZE, filters.offset, where=due
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
