"""The bot hands conversations over here."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from handoff_service.dependencies import Bot, Ctx, DbSession
from handoff_service.routers.errors import errors
from handoff_service.schemas import HandoffIn, TicketOut
from handoff_service.tickets import create_from_handoff

router = APIRouter(prefix="/v1", tags=["handoffs"])


@router.post(
    "/handoffs",
    response_model=TicketOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": TicketOut, "description": "Replay: the existing ticket."},
        **errors(401, 403, 413, 422),
    },
)
def create_handoff(
    handoff: HandoffIn, ctx: Ctx, session: DbSession, bot: Bot, response: Response
) -> TicketOut:
    """Create the ticket for a conversation (201), or return the one it already has (200).

    ``conversation_id`` is the idempotency key: handing the same conversation over again,
    even concurrently, never creates a second ticket.
    """
    ticket, created = create_from_handoff(ctx, session, handoff, actor=bot.name)
    if not created:
        response.status_code = status.HTTP_200_OK
        ctx.metrics.handoff_replays.inc()
    return TicketOut.model_validate(ticket)
