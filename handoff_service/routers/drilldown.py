"""The conversations behind the report figures (admins only): the list a filter selects, and
one conversation (handoff_service.drilldown; definitions: docs/metrics.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from handoff_service import drilldown
from handoff_service.dependencies import Admin, Ctx, DbSession
from handoff_service.drilldown import ConversationDetail, ConversationFilter, ConversationPage
from handoff_service.routers.errors import errors
from handoff_service.schemas import ErrorOut

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=errors(401, 403, 422))


@router.get("/conversations", response_model=ConversationPage)
def conversations(
    selection: Annotated[ConversationFilter, Query()], ctx: Ctx, session: DbSession, _admin: Admin
) -> ConversationPage:
    """The conversations that started in the period and match every filter given, newest
    first: for each outcome (and reason), the total is the outcomes report's count; for an
    article and a feedback, the articles report's."""
    return drilldown.conversations(session, selection, ctx.settings.metrics_return_days)


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationDetail,
    responses={404: {"model": ErrorOut, "description": "No events were reported for it."}},
)
def conversation(
    conversation_id: str, ctx: Ctx, session: DbSession, _admin: Admin
) -> ConversationDetail:
    """One conversation: its summary row, outcome, events in order, unanswered questions and
    ticket number."""
    detail = drilldown.conversation(session, conversation_id, ctx.settings.metrics_return_days)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"conversation {conversation_id} not found")
    return detail
