"""Support metrics for managers (admins only): conversation outcomes, article helpfulness,
ticket figures and unanswered topics of a period, computed by handoff_service.reporting and
handoff_service.unanswered (definitions: docs/metrics.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from handoff_service import reporting, unanswered
from handoff_service.dependencies import Admin, Ctx, DbSession
from handoff_service.models import utcnow
from handoff_service.routers.errors import errors
from handoff_service.schemas import (
    ArticlesReport,
    OutcomesReport,
    ReportPeriod,
    TicketReport,
    TicketReportPeriod,
    UnansweredTopicsReport,
)

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=errors(401, 403, 422))


@router.get("/outcomes", response_model=OutcomesReport)
def outcomes(
    period: Annotated[ReportPeriod, Query()], ctx: Ctx, session: DbSession, _admin: Admin
) -> OutcomesReport:
    """The conversations that started in the period, each with exactly one outcome
    (handed_over, resolved_confirmed, resolved_assumed, abandoned), the handoff rate and the
    clarify pick rate."""
    return reporting.outcomes(session, period, ctx.settings.metrics_return_days)


@router.get("/articles", response_model=ArticlesReport)
def articles(
    period: Annotated[ReportPeriod, Query()], session: DbSession, _admin: Admin
) -> ArticlesReport:
    """Per article: conversations of the period that showed it, with the customer's feedback
    (helpful, not helpful, none)."""
    return reporting.articles(session, period)


@router.get("/tickets", response_model=TicketReport)
def tickets(
    period: Annotated[TicketReportPeriod, Query()], session: DbSession, _admin: Admin
) -> TicketReport:
    """The tickets created in the period: first-response and resolution times, due dates met
    per queue and request type, satisfaction and reopen rate, as of now."""
    return reporting.tickets(session, period, utcnow())


@router.get("/unanswered-topics", response_model=UnansweredTopicsReport)
def unanswered_topics(
    period: Annotated[ReportPeriod, Query()],
    session: DbSession,
    _admin: Admin,
    limit: Annotated[int, Query(ge=1, le=100, description="The largest topics only.")] = 20,
) -> UnansweredTopicsReport:
    """The unanswered questions of the period clustered into topics per language by their
    words: the distinct texts (at most the 2,000 most asked per language) whose character
    n-grams of content words are close. Each topic: its most central text, its distinctive
    words, its volume (distinct conversations) and the hashes of its texts."""
    found = unanswered.topics(session, period.since, period.until, period.language, limit)
    return UnansweredTopicsReport(period=period, topics=found)
