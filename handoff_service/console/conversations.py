"""The conversations behind a figure of the reports page, for admins: the list
``/console/conversations`` (and its CSV export) and one conversation,
``/console/conversations/{conversation_id}``.

The period is read as the reports page reads it (whole days of the organisation's calendar,
:func:`.reports.read_period`), the other filters are drilldown.ConversationFilter's, and the
rows are handoff_service.drilldown's: a list reached from a figure counts what the figure
counts. The table is a :class:`.reports.Table`, so the CSV holds what the page shows (every
page of it).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff_service import drilldown
from handoff_service.console.filters import LANGUAGE_NAMES, day, describe, local_time
from handoff_service.console.reports import (
    CONVERSATIONS,
    OUTCOME_LABELS,
    Cell,
    InvalidFilter,
    Period,
    Table,
    conversations_link,
    label,
    read_period,
    text_column,
    to_csv,
)
from handoff_service.console.session import COOKIE_PATH, AdminLogin, ConsoleError
from handoff_service.console.templating import SECURITY_HEADERS, render
from handoff_service.dependencies import Ctx, DbSession
from handoff_service.drilldown import ConversationFilter
from handoff_service.models import UnansweredQuestion, utcnow
from handoff_service.vocabulary import Feedback, Outcome

router = APIRouter(prefix=COOKIE_PATH, include_in_schema=False)

PAGE_SIZE = 50
#: The most rows of one CSV export (drilldown's largest page).
MAX_CSV_ROWS = drilldown.MAX_LIMIT
#: The filters besides the period, as the list's query string names them.
CHOICES = {"outcome", "reason", "article_id", "feedback", "question"}
FEEDBACK_WORDS = {
    Feedback.HELPFUL: "the customer said it helped",
    Feedback.NOT_HELPFUL: "the customer said it did not help",
    Feedback.NONE: "the customer said nothing about it",
}


def read_filter(request: Request, zone: ZoneInfo, limit: int) -> tuple[Period, ConversationFilter]:
    """The period (as on the reports page) and the list's filter from the query string;
    ``question`` may repeat. ConsoleError 400 for what cannot be a filter."""
    raw = {key: value for key, value in request.query_params.items() if value != ""}
    try:
        period = read_period(raw, zone, utcnow().astimezone(zone).date())
        values = {key: value for key, value in raw.items() if key in CHOICES | {"offset"}}
        values["question"] = [q for q in request.query_params.getlist("question") if q]
        selection = ConversationFilter.model_validate(
            {**values, **period.conversations().model_dump(), "limit": limit}
        )
    except InvalidFilter as exc:
        raise ConsoleError(400, f"Invalid filter: {exc}") from exc
    except ValidationError as exc:
        raise ConsoleError(400, f"Invalid filter: {describe(exc)}") from exc
    return period, selection


def chosen(selection: ConversationFilter) -> dict[str, str | list[str]]:
    """The filters given besides the period, as query-string values."""
    return selection.model_dump(mode="json", include=CHOICES, exclude_defaults=True)


def _question_texts(session: Session, hashes: list[str]) -> list[str]:
    q = UnansweredQuestion
    return sorted(set(session.scalars(select(q.text).where(q.text_hash.in_(hashes)).distinct())))


def description(period: Period, selection: ConversationFilter, questions: list[str]) -> str:
    """The filter in words: 'Conversations handed over for complaint, that showed x, ...'."""
    clauses = []
    if selection.outcome is not None and not (
        selection.outcome is Outcome.HANDED_OVER and selection.reason is not None
    ):
        clauses.append(f"with outcome “{OUTCOME_LABELS[selection.outcome].lower()}”")
    if selection.reason is not None:
        clauses.append(f"handed over for {selection.reason.value.replace('_', ' ')}")
    if selection.article_id is not None:
        shown = f"that showed {selection.article_id}"
        if selection.feedback is not None:
            shown += f" ({FEEDBACK_WORDS[selection.feedback]}: the latest feedback on it)"
        clauses.append(shown)
    if selection.question:
        asked = " or ".join(f"“{text}”" for text in questions) or "questions no longer stored"
        clauses.append(f"that asked {asked}")
    clauses.append(f"started {day(period.first_day)} to {day(period.last_day)}")
    if period.language is not None:
        clauses.append(f"in {LANGUAGE_NAMES[period.language.value]}")
    return "Conversations " + ", ".join(clauses)


def table(page: drilldown.ConversationPage, zone: ZoneInfo) -> Table:
    result = Table(
        "conversations",
        "Conversations",
        "Newest first. Each conversation links to its events; a ticket, to the ticket.",
        [
            text_column("Conversation"),
            text_column("Started"),
            text_column("Language"),
            text_column("Outcome"),
            text_column("Handoff reason"),
            text_column("Articles shown"),
            text_column("Ticket"),
        ],
        empty="No conversation matches.",
        wide=True,
    )
    for row in page.rows:
        started = row.started_at.astimezone(zone)
        reason = row.reason.value if row.reason else None
        ticket = row.ticket
        result.rows.append(
            [
                label(row.conversation_id, f"{CONVERSATIONS}/{row.conversation_id}"),
                Cell(started.isoformat(timespec="seconds"), local_time(started, zone)),
                label(row.language.value),
                Cell(row.outcome.value, OUTCOME_LABELS[row.outcome]),
                Cell(reason, (reason or "—").replace("_", " ")),
                Cell(" ".join(row.articles), ", ".join(row.articles) or "—"),
                Cell(ticket, ticket or "—", f"{COOKIE_PATH}/tickets/{ticket}" if ticket else None),
            ]
        )
    return result


@router.get("/conversations", response_class=HTMLResponse)
def conversations_page(
    request: Request, ctx: Ctx, session: DbSession, row: AdminLogin
) -> HTMLResponse:
    period, selection = read_filter(request, ctx.timezone, PAGE_SIZE)
    page = drilldown.conversations(session, selection, ctx.settings.metrics_return_days)
    questions = _question_texts(session, selection.question) if selection.question else []
    given = chosen(selection)
    pages = {}
    previous, following = max(selection.offset - PAGE_SIZE, 0), selection.offset + PAGE_SIZE
    if selection.offset > 0:
        pages["previous"] = conversations_link(period, **given, offset=str(previous))
    if following < page.total:
        pages["next"] = conversations_link(period, **given, offset=str(following))
    return render(
        request,
        "conversations.html",
        row=row,
        heading=description(period, selection, questions),
        page=page,
        table=table(page, ctx.timezone),
        first=selection.offset + 1,
        pages=pages,
        csv=f"{CONVERSATIONS}.csv?{urlencode(period.query(queue=None) | given, doseq=True)}",
        max_csv_rows=MAX_CSV_ROWS,
        reports=f"{COOKIE_PATH}/reports?{urlencode(period.query())}",
    )


@router.get("/conversations.csv")
def conversations_csv(request: Request, ctx: Ctx, session: DbSession, row: AdminLogin) -> Response:
    """Every row of the list (not only one page), as the page writes them."""
    period, selection = read_filter(request, ctx.timezone, MAX_CSV_ROWS)
    page = drilldown.conversations(
        session, selection.model_copy(update={"offset": 0}), ctx.settings.metrics_return_days
    )
    if page.total > MAX_CSV_ROWS:
        raise ConsoleError(
            400,
            f"{page.total} conversations: one CSV holds at most {MAX_CSV_ROWS}. "
            "Choose fewer days or more filters.",
        )
    filename = f"nivel0-conversations-{period.first_day}-{period.last_day}.csv"
    return Response(
        to_csv(table(page, ctx.timezone)).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation_page(
    request: Request, conversation_id: str, ctx: Ctx, session: DbSession, row: AdminLogin
) -> HTMLResponse:
    detail = drilldown.conversation(session, conversation_id, ctx.settings.metrics_return_days)
    if detail is None:
        raise ConsoleError(404, f"There is no conversation {conversation_id}.")
    started: dt.date = detail.started_at.astimezone(ctx.timezone).date()
    return render(
        request,
        "conversation.html",
        row=row,
        detail=detail,
        outcome=OUTCOME_LABELS[detail.outcome],
        same_day=conversations_link(Period(started, started, ctx.timezone)),
        started_day=started,
    )
