"""The bot reports the questions it could not answer here; ``kb gaps`` reads them back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from handoff_service import unanswered
from handoff_service.dependencies import Agent, Bot, DbSession
from handoff_service.routers.errors import errors
from handoff_service.schemas import UnansweredIn, UnansweredOut, UnansweredReason, UtcDatetime
from handoff_service.vocabulary import Language

router = APIRouter(prefix="/v1/unanswered", tags=["unanswered"])


@router.post(
    "",
    response_model=UnansweredOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": UnansweredOut, "description": "Replay: the record already stored."},
        **errors(401, 403, 413, 422),
    },
)
def record_unanswered(
    item: UnansweredIn, session: DbSession, _bot: Bot, response: Response
) -> UnansweredOut:
    """Store one unanswered question (201), or return the stored one (200) when the same
    ``conversation_id``, ``reason`` and ``text`` arrive again (a retried delivery)."""
    row, created = unanswered.record(session, item)
    if not created:
        response.status_code = status.HTTP_200_OK
    return UnansweredOut.model_validate(row)


@router.get("", response_model=list[UnansweredOut], responses=errors(401, 403, 422))
def list_unanswered(
    session: DbSession,
    _agent: Agent,
    since: Annotated[UtcDatetime | None, Query(description="occurred at or after")] = None,
    until: Annotated[UtcDatetime | None, Query(description="occurred before")] = None,
    language: Language | None = None,
    reason: UnansweredReason | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[UnansweredOut]:
    """Recorded unanswered questions matching the filters, newest first."""
    rows = unanswered.list_unanswered(session, since, until, language, reason, limit, offset)
    return [UnansweredOut.model_validate(row) for row in rows]
