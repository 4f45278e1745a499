"""The conversations behind a figure (GET /v1/reports/conversations, the console's
/console/conversations): the period's conversations that a filter selects, and one
conversation with everything recorded about it.

The filter is written with handoff_service.reporting's own SQL (which conversations are the
period's, their outcome, their handoff reason; an article's latest feedback as the article
report counts it), so the total for a filter is the figure it comes from: the conversations
with outcome ``abandoned`` are exactly the report's ``abandoned`` count (docs/metrics.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.orm import Session

from handoff_service import reporting
from handoff_service.models import (
    ConversationArticle,
    ConversationEvent,
    ConversationSummary,
    UnansweredQuestion,
)
from handoff_service.schemas import ArticleId, ReportPeriod, UnansweredOut
from handoff_service.vocabulary import EventKind, Feedback, HandoffReason, Language, Outcome

S, E, A = ConversationSummary, ConversationEvent, ConversationArticle
#: The most rows one call returns (the console's CSV export asks for this many).
MAX_LIMIT = 10_000
TextHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ConversationFilter(ReportPeriod):
    """Which of the period's conversations: every given criterion applies."""

    outcome: Outcome | None = Field(default=None, description="Only this outcome.")
    reason: HandoffReason | None = Field(
        default=None, description="Only conversations handed over for this reason."
    )
    article_id: ArticleId | None = Field(default=None, description="Only those that showed it.")
    feedback: Feedback | None = Field(
        default=None,
        description="With article_id: the customer's latest feedback on it in the conversation.",
    )
    question: list[TextHash] = Field(
        default_factory=list,
        max_length=50,
        description="Only those that asked one of these unanswered questions (text hashes).",
    )
    offset: int = Field(default=0, ge=0, le=1_000_000)
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)

    @model_validator(mode="after")
    def _feedback_on_an_article(self) -> ConversationFilter:
        if self.feedback is not None and self.article_id is None:
            raise ValueError("feedback needs article_id: feedback on which article")
        return self


class ConversationRow(BaseModel):
    conversation_id: str
    language: Language
    started_at: dt.datetime
    outcome: Outcome
    reason: HandoffReason | None = Field(description="Why it was handed over; null if not.")
    articles: list[str] = Field(description="The articles it showed, in the order first shown.")
    ticket: str | None = Field(description="The number of the ticket made from it, if any.")


class ConversationPage(BaseModel):
    filter: ConversationFilter
    total: int = Field(description="Conversations the filter selects, on every page.")
    rows: list[ConversationRow] = Field(description="Newest first: offset to offset + limit.")


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: EventKind
    occurred_at: dt.datetime
    language: Language
    article_id: str | None
    score: float | None
    helpful: bool | None
    reason: HandoffReason | None


class ConversationDetail(BaseModel):
    conversation_id: str
    language: Language
    started_at: dt.datetime
    outcome: Outcome
    reason: HandoffReason | None
    ticket: str | None
    summary: dict[str, Any] = Field(description="Its conversation_summaries row, as stored.")
    events: list[EventOut] = Field(description="In the order they happened.")
    unanswered: list[UnansweredOut] = Field(description="Its unanswered questions, in order.")


def _article_condition(article_id: str, feedback: Feedback | None) -> ColumnElement[bool]:
    """The summary's conversation showed the article (with that latest feedback on it): its
    ``conversation_articles`` row, which reporting.articles counts."""
    answers = {
        Feedback.HELPFUL: A.feedback.is_(True),
        Feedback.NOT_HELPFUL: A.feedback.is_(False),
        Feedback.NONE: A.feedback.is_(None),
    }
    return (
        exists()
        .where(
            A.conversation_id == S.conversation_id,
            A.article_id == article_id,
            *([] if feedback is None else [answers[feedback]]),
        )
        .correlate(S)
    )


def _shown_articles(session: Session, conversation_ids: list[str]) -> dict[str, list[str]]:
    first_shown = func.min(E.occurred_at)
    rows = session.execute(
        select(E.conversation_id, E.article_id)
        .where(E.kind == EventKind.ARTICLE_SHOWN.value, E.conversation_id.in_(conversation_ids))
        .group_by(E.conversation_id, E.article_id)
        .order_by(first_shown, E.article_id)
    )
    shown: dict[str, list[str]] = {}
    for conversation_id, article_id in rows:
        shown.setdefault(conversation_id, []).append(article_id)
    return shown


def _classified(period: ReportPeriod, return_days: int, *columns: Any) -> Select[Any]:
    """The period's summaries' ``columns`` with each one's outcome, handoff reason and ticket
    number, classified as reporting.outcomes classifies them."""
    classified = reporting.classify(period, return_days)
    return classified.query.add_columns(
        *columns,
        classified.outcome.label("outcome"),
        classified.reason.label("reason"),
        classified.ticket.number.label("ticket"),
    )


def conversations(
    session: Session, filter: ConversationFilter, return_days: int
) -> ConversationPage:
    """The period's conversations that ``filter`` selects: how many, and one page of them,
    newest first (then by id, so pages do not overlap)."""
    reporting.without_jit(session)
    where: list[ColumnElement[bool]] = []
    if filter.article_id is not None:
        where.append(_article_condition(filter.article_id, filter.feedback))
    if filter.question:
        asked = select(UnansweredQuestion.conversation_id).where(
            UnansweredQuestion.text_hash.in_(filter.question)
        )
        where.append(S.conversation_id.in_(asked))
    classified = (
        _classified(filter, return_days, S.conversation_id, S.language, S.started_at)
        .where(*where)
        .subquery()
    )
    c = classified.c
    chosen: list[ColumnElement[bool]] = []
    if filter.outcome is not None:
        chosen.append(c.outcome == filter.outcome.value)
    if filter.reason is not None:
        chosen.append(c.reason == filter.reason.value)
    total = session.scalar(select(func.count()).select_from(classified).where(*chosen)) or 0
    rows = session.execute(
        select(classified)
        .where(*chosen)
        .order_by(c.started_at.desc(), c.conversation_id.desc())
        .offset(filter.offset)
        .limit(filter.limit)
    ).all()
    shown = _shown_articles(session, [row.conversation_id for row in rows])
    return ConversationPage(
        filter=filter,
        total=total,
        rows=[
            ConversationRow(**row._asdict(), articles=shown.get(row.conversation_id, []))
            for row in rows
        ],
    )


def conversation(
    session: Session, conversation_id: str, return_days: int
) -> ConversationDetail | None:
    """Everything recorded about one conversation; None if it has no events (no summary)."""
    started_at = session.scalar(select(S.started_at).where(S.conversation_id == conversation_id))
    if started_at is None:
        return None
    # its outcome does not depend on the period, only that the period holds its start
    period = ReportPeriod(since=started_at, until=started_at + dt.timedelta(seconds=1))
    found = session.execute(
        _classified(period, return_days, S).where(S.conversation_id == conversation_id)
    ).one()
    summary, outcome, reason, ticket = found
    events = session.scalars(
        select(E).where(E.conversation_id == conversation_id).order_by(E.occurred_at, E.id)
    )
    questions = session.scalars(
        select(UnansweredQuestion)
        .where(UnansweredQuestion.conversation_id == conversation_id)
        .order_by(UnansweredQuestion.occurred_at, UnansweredQuestion.id)
    )
    return ConversationDetail(
        conversation_id=summary.conversation_id,
        language=summary.language,
        started_at=summary.started_at,
        outcome=outcome,
        reason=reason,
        ticket=ticket,
        summary={column.key: getattr(summary, column.key) for column in S.__mapper__.column_attrs},
        events=[EventOut.model_validate(event) for event in events],
        unanswered=[UnansweredOut.model_validate(question) for question in questions],
    )
