"""The agents' API: the queue and the actions on a ticket."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from handoff_service import tickets
from handoff_service.dependencies import Agent, Ctx, DbSession
from handoff_service.lifecycle import Action
from handoff_service.models import Ticket
from handoff_service.routers.errors import errors
from handoff_service.schemas import (
    TICKET_NUMBER_PATTERN,
    CommentIn,
    EscalateIn,
    EventOut,
    KbDraftIn,
    KbDraftOut,
    QueueName,
    ReasonIn,
    ResolveIn,
    TicketListItem,
    TicketOut,
    TicketPage,
    TicketPatch,
    WaitIn,
)
from handoff_service.vocabulary import Language, Priority, Status

router = APIRouter(prefix="/v1/tickets", tags=["agents"], responses=errors(401, 403, 422))
Number = Annotated[
    str, Path(pattern=TICKET_NUMBER_PATTERN, max_length=20, examples=["T-2026-000123"])
]
ACTION = errors(401, 403, 404, 409, 422)


def _save(session: DbSession, ticket: Ticket) -> TicketOut:
    session.commit()
    return TicketOut.model_validate(ticket)


@router.get("", response_model=TicketPage)
def queue(
    session: DbSession,
    _agent: Agent,
    queue: Annotated[QueueName | None, Query()] = None,
    status: Status | None = None,
    priority: Priority | None = None,
    tier: Annotated[int | None, Query(ge=1, le=3)] = None,
    language: Language | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> TicketPage:
    """Tickets matching the filters, earliest due date first."""
    total, rows = tickets.list_tickets(
        session,
        {
            "queue": queue,
            "status": status,
            "priority": priority,
            "tier": tier,
            "language": language,
        },
        limit,
        offset,
    )
    return TicketPage(total=total, items=[TicketListItem.model_validate(t) for t in rows])


@router.get("/{number}", response_model=TicketOut, responses=ACTION)
def get_ticket(number: Number, session: DbSession, _agent: Agent) -> TicketOut:
    return TicketOut.model_validate(tickets.get_ticket(session, number))


@router.get("/{number}/events", response_model=list[EventOut], responses=ACTION)
def history(number: Number, session: DbSession, _agent: Agent) -> list[EventOut]:
    """The ticket's history: every change, who made it and when (oldest first)."""
    return [EventOut.model_validate(e) for e in tickets.get_ticket(session, number).events]


@router.post("/{number}/claim", response_model=TicketOut, responses=ACTION)
def claim(number: Number, session: DbSession, agent: Agent) -> TicketOut:
    """Assign a new ticket to yourself."""
    ticket = tickets.get_ticket(session, number, lock=True)
    tickets.claim(ticket, agent)
    return _save(session, ticket)


@router.post("/{number}/start", response_model=TicketOut, responses=ACTION)
def start(number: Number, session: DbSession, agent: Agent) -> TicketOut:
    ticket = tickets.get_ticket(session, number, lock=True)
    tickets.transition(ticket, agent, Action.START)
    return _save(session, ticket)


@router.post("/{number}/wait-on-customer", response_model=TicketOut, responses=ACTION)
def wait_on_customer(
    number: Number, session: DbSession, agent: Agent, body: WaitIn | None = None
) -> TicketOut:
    """Wait for the customer; ``message`` (optional) says what we need, in the e-mail."""
    ticket = tickets.get_ticket(session, number, lock=True)
    message = body.message if body and body.message else None
    tickets.transition(
        ticket, agent, Action.WAIT_ON_CUSTOMER, **({"message": message} if message else {})
    )
    return _save(session, ticket)


@router.post("/{number}/resume", response_model=TicketOut, responses=ACTION)
def resume(number: Number, session: DbSession, agent: Agent) -> TicketOut:
    ticket = tickets.get_ticket(session, number, lock=True)
    tickets.transition(ticket, agent, Action.RESUME)
    return _save(session, ticket)


@router.post("/{number}/comments", response_model=TicketOut, status_code=201, responses=ACTION)
def comment(number: Number, body: CommentIn, session: DbSession, agent: Agent) -> TicketOut:
    """Add an internal note, or a reply to the customer: e-mailed to them and shown on their
    private page and in the status lookup."""
    ticket = tickets.get_ticket(session, number, lock=True)
    tickets.comment(ticket, agent, body.body, body.visibility)
    return _save(session, ticket)


@router.patch("/{number}", response_model=TicketOut, responses=ACTION)
def change(
    number: Number, body: TicketPatch, ctx: Ctx, session: DbSession, agent: Agent
) -> TicketOut:
    """Change priority (the due date follows) and/or queue (one of the routing rules' queues;
    another is a 422 that lists them)."""
    ticket = tickets.get_ticket(session, number, lock=True)
    tickets.change(ctx, ticket, agent, body.priority, body.queue)
    return _save(session, ticket)


@router.post("/{number}/escalate", response_model=TicketOut, responses=ACTION)
def escalate(
    number: Number, body: EscalateIn, ctx: Ctx, session: DbSession, agent: Agent
) -> TicketOut:
    """Hand the ticket to tier 2 or 3 (reason required); it goes back to ``new``, unassigned."""
    ticket = tickets.get_ticket(session, number, lock=True)
    tickets.escalate(ctx, ticket, agent, body.tier, body.reason, body.queue)
    return _save(session, ticket)


@router.post("/{number}/resolve", response_model=TicketOut, responses=ACTION)
def resolve(number: Number, body: ResolveIn, session: DbSession, agent: Agent) -> TicketOut:
    """Resolve with a resolution note (required: the documented solution)."""
    ticket = tickets.get_ticket(session, number, lock=True)
    tickets.resolve(ticket, agent, body.resolution_note)
    return _save(session, ticket)


@router.post("/{number}/close", response_model=TicketOut, responses=ACTION)
def close(number: Number, session: DbSession, agent: Agent) -> TicketOut:
    ticket = tickets.get_ticket(session, number, lock=True)
    tickets.close(ticket, agent)
    return _save(session, ticket)


@router.post("/{number}/reopen", response_model=TicketOut, responses=ACTION)
def reopen(number: Number, body: ReasonIn, session: DbSession, agent: Agent) -> TicketOut:
    ticket = tickets.get_ticket(session, number, lock=True)
    tickets.reopen(ticket, agent, body.reason)
    return _save(session, ticket)


@router.post("/{number}/kb-article", response_model=KbDraftOut, status_code=201, responses=ACTION)
def make_kb_article(
    number: Number, body: KbDraftIn, ctx: Ctx, session: DbSession, agent: Agent
) -> KbDraftOut:
    """Turn a resolved ticket into a draft KB article (``status: draft``) in the KB folder;
    ``path`` is relative to that folder (``es/topic.md``). A ticket makes at most
    ``kb_drafts.MAX_DRAFTS_PER_TICKET`` drafts (then 409)."""
    ticket = tickets.get_ticket(session, number, lock=True)
    path = tickets.make_kb_draft(ctx, ticket, agent, body)
    session.commit()
    return KbDraftOut(path=str(path), topic=path.stem, language=Language(ticket.language))
