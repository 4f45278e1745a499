"""The bot reports what happens in its conversations here (docs/metrics.md)."""

from __future__ import annotations

from fastapi import APIRouter, status

from handoff_service import events
from handoff_service.dependencies import Bot, DbSession
from handoff_service.routers.errors import errors
from handoff_service.schemas import EventsIn, EventsStored

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.post(
    "",
    response_model=EventsStored,
    status_code=status.HTTP_200_OK,
    responses=errors(401, 403, 413, 422),
)
def record_events(body: EventsIn, session: DbSession, _bot: Bot) -> EventsStored:
    """Store a batch of conversation events; an ``event_id`` already stored is skipped (a
    retried delivery), so sending the same batch twice stores it once."""
    stored = events.record(session, body.events)
    return EventsStored(stored=stored, duplicates=len(body.events) - stored)
