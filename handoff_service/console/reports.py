"""The admins' support-metrics page, ``/console/reports``, and its CSV export.

The figures are the JSON reports' (handoff_service.reporting; definitions: docs/metrics.md)
for a period of whole days of the organisation's calendar, plus the top unanswered topics
(handoff_service.unanswered). Each table is built once, as a :class:`Table` of
cells that carry both the raw value and the text shown, and then written either as HTML
(with its chart, :mod:`.charts`) or as CSV: the export holds exactly the page's rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.orm import Session

from handoff_service import reporting, unanswered
from handoff_service.console import charts
from handoff_service.console.filters import day, describe, duration, help_center_link, percent
from handoff_service.console.session import COOKIE_PATH, AdminLogin, ConsoleError, take_flash
from handoff_service.console.templating import SECURITY_HEADERS, render
from handoff_service.context import AppContext
from handoff_service.dependencies import Ctx, DbSession
from handoff_service.models import utcnow
from handoff_service.schemas import (
    ArticlesReport,
    DueDates,
    OutcomesReport,
    QueueName,
    Rate,
    ReportPeriod,
    TicketReport,
    TicketReportPeriod,
    UnansweredTopic,
)
from handoff_service.vocabulary import (
    RATINGS,
    DueResult,
    Feedback,
    HandoffReason,
    Language,
    Outcome,
)

router = APIRouter(prefix=COOKIE_PATH, include_in_schema=False)
T = TypeVar("T")

PAGE = f"{COOKIE_PATH}/reports"
#: The list of the conversations behind a figure (console/conversations.py).
CONVERSATIONS = f"{COOKIE_PATH}/conversations"
#: The longest period the page reports on (one reporting call per week: 53 at most).
MAX_DAYS = 366
#: Rows of the article and unanswered-question tables.
TOP_ROWS = 20
#: Characters a spreadsheet would read as the start of a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class InvalidFilter(ValueError):
    """The form's filters cannot make a period: shown to the admin as they are."""


# --- the filters and the period -----------------------------------------------------------


class ReportFilters(BaseModel):
    """The form, validated with the API's types; days are the organisation's calendar days,
    both included."""

    model_config = ConfigDict(extra="ignore")

    since: dt.date | None = None
    until: dt.date | None = None
    language: Language | None = None
    queue: QueueName | None = None


@dataclass(frozen=True)
class Period:
    """Whole days ``first_day`` to ``last_day`` (included) in ``zone``, with the filters."""

    first_day: dt.date
    last_day: dt.date
    zone: ZoneInfo
    language: Language | None = None
    queue: str | None = None

    def _start(self, day_: dt.date) -> dt.datetime:
        return dt.datetime.combine(day_, dt.time(), tzinfo=self.zone).astimezone(dt.UTC)

    def conversations(self) -> ReportPeriod:
        """As the API's period: from the first day's midnight to the midnight after the
        last day (excluded)."""
        return ReportPeriod(
            since=self._start(self.first_day),
            until=self._start(self.last_day + dt.timedelta(days=1)),
            language=self.language,
        )

    def tickets(self) -> TicketReportPeriod:
        return TicketReportPeriod(**self.conversations().model_dump(), queue=self.queue)

    def query(self, **changes: Any) -> dict[str, str]:
        """The page's query string for this period (``changes``: other days)."""
        values = {
            "since": self.first_day,
            "until": self.last_day,
            "language": self.language,
            "queue": self.queue,
        } | changes
        return {key: str(value) for key, value in values.items() if value is not None}


def last_full_weeks(today: dt.date, count: int = 4) -> tuple[dt.date, dt.date]:
    """Monday ``count`` weeks before this week's Monday, and last Sunday."""
    monday = today - dt.timedelta(days=today.weekday())
    return monday - dt.timedelta(weeks=count), monday - dt.timedelta(days=1)


def read_period(raw: dict[str, str], zone: ZoneInfo, today: dt.date) -> Period:
    """The period the form asks for. Empty days: the last four full weeks; only one day given:
    the four weeks from (or up to) it."""
    try:
        filters = ReportFilters.model_validate({k: v for k, v in raw.items() if v != ""})
    except ValidationError as exc:
        raise InvalidFilter(describe(exc)) from exc
    since, until, four_weeks = filters.since, filters.until, dt.timedelta(days=27)
    try:
        if since is not None:
            first, last = since, until or since + four_weeks
        elif until is not None:
            first, last = until - four_weeks, until
        else:
            first, last = last_full_weeks(today)
    except OverflowError as exc:
        raise InvalidFilter("those days are out of range") from exc
    if last < first:
        raise InvalidFilter("the last day is before the first day")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidFilter(f"a period can be at most {MAX_DAYS} days long")
    period = Period(first, last, zone, filters.language, filters.queue)
    try:
        period.conversations()  # midnights beyond the calendar's ends
    except (OverflowError, ValidationError) as exc:
        raise InvalidFilter("those days are out of range") from exc
    return period


# --- the figures --------------------------------------------------------------------------


class Figures:
    """The reports the tables read, each computed on first use (the CSV of one table runs only
    what that table needs). Each ends its read transaction when done: on SQLite a transaction
    holds the write lock, and the page runs one report per week."""

    def __init__(self, session: Session, ctx: AppContext, period: Period, now: dt.datetime):
        self.session = session
        self.ctx = ctx
        self.period = period
        self.now = now

    def _done(self, value: T) -> T:
        self.session.commit()
        return value

    def _outcomes(self, period: ReportPeriod) -> OutcomesReport:
        report = reporting.outcomes(self.session, period, self.ctx.settings.metrics_return_days)
        return self._done(report)

    @cached_property
    def outcomes(self) -> OutcomesReport:
        return self._outcomes(self.period.conversations())

    @cached_property
    def weekly(self) -> list[OutcomesReport]:
        weeks = reporting.weeks(self.period.conversations(), self.period.zone)
        return [self._outcomes(week) for week in weeks]

    @cached_property
    def articles(self) -> ArticlesReport:
        return self._done(reporting.articles(self.session, self.period.conversations()))

    @cached_property
    def tickets(self) -> TicketReport:
        return self._done(reporting.tickets(self.session, self.period.tickets(), self.now))

    @cached_property
    def unanswered(self) -> list[UnansweredTopic]:
        period = self.period.conversations()
        found = unanswered.topics(
            self.session, period.since, period.until, period.language, TOP_ROWS
        )
        return self._done(found)

    def local_day(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.period.zone).date()


# --- tables -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """``value`` goes to the CSV (numbers unformatted, rates as fractions), ``text`` to the
    page; ``href``: the console page behind it."""

    value: str | int | float | None
    text: str
    href: str | None = None


@dataclass(frozen=True)
class Column:
    header: str
    csv_header: str | None = None  # when the CSV's values need a unit the page's do not
    numeric: bool = True


@dataclass
class Table:
    name: str
    title: str
    description: str
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)
    chart: Markup | None = None
    empty: str = "Nothing in this period."
    wide: bool = False  # takes the page's full width


def label(text: str, href: str | None = None) -> Cell:
    return Cell(text, text, href)


def count(number: int, href: str | None = None) -> Cell:
    return Cell(number, str(number), href)


def share(fraction: float | None) -> Cell:
    return Cell(fraction, percent(fraction))


def seconds(value: float | None) -> Cell:
    return Cell(value, "—" if value is None else duration(round(value)))


def count_and_share(number: int, fraction: float | None, href: str | None = None) -> Cell:
    return Cell(number, f"{number} ({percent(fraction)})", href)


def conversations_link(period: Period, **filters: str | list[str]) -> str:
    """The console's list of the period's conversations that ``filters`` select
    (drilldown.ConversationFilter's fields): the ones a figure counts."""
    query = period.query(queue=None) | filters
    return f"{CONVERSATIONS}?{urlencode(query, doseq=True)}"


def text_column(header: str) -> Column:
    return Column(header, numeric=False)


OUTCOME_LABELS = {
    Outcome.RESOLVED_CONFIRMED: "Resolved, confirmed",
    Outcome.RESOLVED_ASSUMED: "Resolved, assumed",
    Outcome.HANDED_OVER: "Handed over",
    Outcome.ABANDONED: "Abandoned",
}
#: The outcomes in the charts' order, and their colours (static/console.css, tone-<n>).
OUTCOME_ORDER = [
    Outcome.RESOLVED_CONFIRMED,
    Outcome.RESOLVED_ASSUMED,
    Outcome.HANDED_OVER,
    Outcome.ABANDONED,
]
OUTCOME_TONES = [0, 1, 8, 7]
REASON_TONES = [2, 3, 4, 5, 6]
#: Not helpful, helpful, no feedback.
FEEDBACK_TONES = [8, 0, 7]


def outcomes_table(figures: Figures) -> Table:
    report = figures.outcomes
    total = report.conversations
    o = report.outcomes

    def part(outcome: Outcome) -> tuple[str, int, dict[str, str]]:
        number = getattr(o, outcome.value).conversations
        return OUTCOME_LABELS[outcome], number, {"outcome": outcome.value}

    # (label, count, the filters of the conversations it counts)
    parts: list[tuple[str, int, dict[str, str]]] = [
        part(Outcome.RESOLVED_CONFIRMED),
        part(Outcome.RESOLVED_ASSUMED),
        *(
            (
                f"Handed over: {reason.value.replace('_', ' ')}",
                o.handed_over.by_reason[reason],
                {"outcome": Outcome.HANDED_OVER.value, "reason": reason.value},
            )
            for reason in HandoffReason
        ),
        part(Outcome.ABANDONED),
    ]
    table = Table(
        "outcomes",
        "Outcomes of the conversations",
        f"Each conversation that started in the period has exactly one outcome, so the shares "
        f"add up to 100 %. A customer back on the same articles within {report.return_days} "
        "days makes a conversation abandoned, not resolved.",
        [text_column("Outcome"), Column("Conversations"), Column("Share", "Share (0-1)")],
    )
    period = figures.period
    for name, number, filters in parts:
        href = conversations_link(period, **filters)
        table.rows.append([label(name), count(number, href), share(Rate.of(number, total).rate)])
    all_conversations = count(total, conversations_link(period))
    table.rows.append(
        [label("All conversations"), all_conversations, share(Rate.of(total, total).rate)]
    )
    if total:
        table.chart = charts.stacked_bars(
            "chart-outcomes",
            "Outcomes of the period's conversations",
            f"One bar of {total} conversations split by outcome; the table below has the numbers.",
            [f"{name}: {percent(number / total)}" for name, number, _ in parts],
            [charts.StackedBar("Period", [number for _, number, _ in parts], f"{total} conv.")],
            tones=[0, 1, *REASON_TONES, 7],
        )
    return table


def weeks_table(figures: Figures) -> Table:
    period = figures.period
    table = Table(
        "weeks",
        "Outcomes per week",
        "The conversations that started in each week of the period (seven days from the first "
        "day; the last week may be shorter).",
        [
            text_column("Week from"),
            text_column("To"),
            Column("Conversations"),
            *(Column(OUTCOME_LABELS[o]) for o in OUTCOME_ORDER),
        ],
        wide=True,
    )
    bars = []
    for report in figures.weekly:
        start = figures.local_day(report.period.since)
        end = figures.local_day(report.period.until) - dt.timedelta(days=1)
        href = f"{PAGE}?{urlencode(period.query(since=start, until=end))}"
        week = Period(start, end, period.zone, period.language)
        cells = [
            Cell(start.isoformat(), day(start), href),
            Cell(end.isoformat(), day(end)),
            count(report.conversations, conversations_link(week)),
        ]
        counts = [getattr(report.outcomes, outcome.value) for outcome in OUTCOME_ORDER]
        cells += [
            count_and_share(c.conversations, c.share, conversations_link(week, outcome=o.value))
            for o, c in zip(OUTCOME_ORDER, counts, strict=True)
        ]
        table.rows.append(cells)
        bars.append(
            charts.StackedBar(
                f"{start:%d %b} – {end:%d %b}",
                [c.conversations for c in counts],
                f"{report.conversations} conv.",
            )
        )
    table.chart = charts.stacked_bars(
        "chart-weeks",
        "Outcomes per week",
        "One bar per week, split by outcome as shares of the week's conversations; the table "
        "below has the numbers.",
        [OUTCOME_LABELS[o] for o in OUTCOME_ORDER],
        bars,
        tones=OUTCOME_TONES,
    )
    return table


def _tickets(number: int) -> str:
    return f"{number} ticket" if number == 1 else f"{number} tickets"


def _rate_cell(rate: Rate, what: str) -> Cell:
    return label(f"{rate.numerator} of {rate.denominator} {what}")


def figures_table(figures: Figures) -> Table:
    outcomes, tickets = figures.outcomes, figures.tickets
    due = tickets.due_dates.total
    rated = tickets.satisfaction.response_rate
    average = tickets.satisfaction.average
    in_queue = f", now in queue {figures.period.queue}" if figures.period.queue else ""
    table = Table(
        "figures",
        "Key figures",
        "Conversation figures count the conversations that started in the period; ticket "
        "figures the tickets created in it, as of now.",
        [
            text_column("Figure"),
            Column("Value", "Value (rates as fractions 0-1)"),
            text_column("Based on"),
        ],
    )
    table.rows = [
        [label("Conversations"), count(outcomes.conversations), label("started in the period")],
        [
            label("Handoff rate"),
            share(outcomes.handoff_rate.rate),
            _rate_cell(outcomes.handoff_rate, "conversations handed over"),
        ],
        [
            label("Clarify pick rate"),
            share(outcomes.clarify_pick_rate.rate),
            _rate_cell(outcomes.clarify_pick_rate, "conversations that offered a choice"),
        ],
        [label("Tickets"), count(tickets.tickets), label(f"created in the period{in_queue}")],
        [
            label("Due dates met"),
            share(due.met_rate),
            label(f"{due.met} met, {due.missed} missed; {due.open_not_due} open and not due"),
        ],
        [
            label("Satisfaction, average"),
            Cell(average, "—" if average is None else f"{average:.2f} / 5"),
            label(f"{_tickets(rated.numerator)} rated (the latest rating of each, 1-5)"),
        ],
        [
            label("Satisfaction response rate"),
            share(rated.rate),
            _rate_cell(rated, "tickets resolved at least once were rated"),
        ],
        [
            label("Reopen rate"),
            share(tickets.reopen_rate.rate),
            _rate_cell(tickets.reopen_rate, "tickets resolved at least once were reopened"),
        ],
    ]
    return table


def times_table(figures: Figures) -> Table:
    reply, resolution = figures.tickets.first_response, figures.tickets.resolution
    table = Table(
        "times",
        "Response times",
        "Wall-clock time from a ticket's creation to the first reply to the customer, and to "
        "its resolution (tickets resolved now); not business hours.",
        [
            text_column("Measure"),
            Column("Tickets"),
            Column("Median", "Median (seconds)"),
            Column("90th percentile", "90th percentile (seconds)"),
            Column("Without a reply"),
        ],
    )
    table.rows = [
        [
            label("First response"),
            count(reply.tickets),
            seconds(reply.median_seconds),
            seconds(reply.p90_seconds),
            count(reply.without_reply),
        ],
        [
            label("Resolution"),
            count(resolution.tickets),
            seconds(resolution.median_seconds),
            seconds(resolution.p90_seconds),
            Cell(None, "—"),
        ],
    ]
    return table


def _due_table(
    name: str, title: str, what: str, groups: dict[str, DueDates], period: Period, column: str
) -> Table:
    """Each group is a value of the tickets' ``column`` (``queue``, ``request_type``); its
    label and counts link to the queue page listing the period's tickets they count (the
    reports' own due-date SQL there: console/views.py)."""
    days = {"created_since": str(period.first_day), "created_until": str(period.last_day)}
    selection = days | period.query(since=None, until=None)

    def tickets_link(group: str, **filters: str) -> str:
        return f"{COOKIE_PATH}/?{urlencode(selection | {column: group} | filters)}"

    table = Table(
        name,
        title,
        "Tickets created in the period: met = resolved by the due date; missed = resolved "
        "after it, or open and past it; open and not due yet ones are not in the rate. "
        f"A {what.lower()} and each of its counts link to the tickets they count, on the "
        "queue page (due dates as of now).",
        [
            text_column(what),
            Column("Met"),
            Column("Missed"),
            Column("Open, not due"),
            Column("Met rate", "Met rate (0-1)"),
        ],
    )
    bars = []
    for group, due in groups.items():
        table.rows.append(
            [
                label(group, tickets_link(group)),
                count(due.met, tickets_link(group, due_result=DueResult.MET)),
                count(due.missed, tickets_link(group, due_result=DueResult.MISSED)),
                count(due.open_not_due, tickets_link(group, due_result=DueResult.OPEN_NOT_DUE)),
                share(due.met_rate),
            ]
        )
        decided = due.met + due.missed
        note = f"{percent(due.met_rate)} of {decided}" if decided else "none due yet"
        bars.append(charts.Bar(group, due.met_rate, note))
    if bars:
        table.chart = charts.horizontal_bars(
            f"chart-{name}",
            title,
            f"Share of due dates met, one bar per {what.lower()}; the table below has the numbers.",
            bars,
        )
    return table


def due_by_queue_table(figures: Figures) -> Table:
    groups = figures.tickets.due_dates.by_queue
    return _due_table(
        "due_by_queue", "Due dates met per queue", "Queue", groups, figures.period, "queue"
    )


def due_by_request_type_table(figures: Figures) -> Table:
    groups = {str(k): v for k, v in figures.tickets.due_dates.by_request_type.items()}
    return _due_table(
        "due_by_request_type",
        "Due dates met per request type",
        "Request type",
        groups,
        figures.period,
        "request_type",
    )


def _article_link(help_center_url: str, article_id: str) -> str | None:
    links = (help_center_link(help_center_url, article_id, lang.value) for lang in Language)
    return next((link for link in links if link), None)


def articles_table(figures: Figures) -> Table:
    report = figures.articles
    unhelpful = sorted(
        (a for a in report.articles if a.not_helpful),
        key=lambda a: (-a.not_helpful, -a.shown, a.article_id),
    )[:TOP_ROWS]
    table = Table(
        "articles",
        "Least helpful articles",
        f"The articles customers most often said did not help (their latest feedback in the "
        f"conversation), of the {len(report.articles)} articles shown in the period; at most "
        f"{TOP_ROWS}. Each links to its help-centre page.",
        [
            text_column("Article"),
            Column("Not helpful"),
            Column("Helpful"),
            Column("No feedback"),
            Column("Shown"),
        ],
        empty="No article was said not to help in this period.",
    )
    url = figures.ctx.settings.help_center_url
    for article in unhelpful:
        shown = {"article_id": article.article_id}
        links = {
            answer: conversations_link(figures.period, **shown, feedback=answer.value)
            for answer in Feedback
        }
        table.rows.append(
            [
                label(article.article_id, _article_link(url, article.article_id)),
                count(article.not_helpful, links[Feedback.NOT_HELPFUL]),
                count(article.helpful, links[Feedback.HELPFUL]),
                count(article.no_feedback, links[Feedback.NONE]),
                count(article.shown, conversations_link(figures.period, **shown)),
            ]
        )
    if unhelpful:
        table.chart = charts.stacked_bars(
            "chart-articles",
            "Least helpful articles",
            "One bar per article, split by the customers' latest feedback on it as shares of the "
            "conversations that showed it; the table below has the numbers.",
            ["Not helpful", "Helpful", "No feedback"],
            [
                charts.StackedBar(
                    a.article_id, [a.not_helpful, a.helpful, a.no_feedback], f"{a.shown} shown"
                )
                for a in unhelpful
            ],
            tones=FEEDBACK_TONES,
        )
    return table


def satisfaction_table(figures: Figures) -> Table:
    satisfaction = figures.tickets.satisfaction
    rated = satisfaction.response_rate.numerator
    table = Table(
        "satisfaction",
        "Satisfaction",
        "The latest rating of each ticket of the period that its customer rated (1: very bad, "
        f"5: very good), best first; {_tickets(rated)} rated of "
        f"{satisfaction.response_rate.denominator} resolved at least once.",
        [text_column("Rating"), Column("Tickets"), Column("Share", "Share (0-1)")],
        empty="No ticket of this period was rated.",
    )
    if not rated:
        return table
    bars = []
    for rating in reversed(RATINGS):
        number = satisfaction.by_rating[rating]
        fraction = Rate.of(number, rated).rate
        table.rows.append([label(f"{rating} / 5"), count(number), share(fraction)])
        bars.append(charts.Bar(f"{rating} / 5", fraction, f"{percent(fraction)} ({number})"))
    table.chart = charts.horizontal_bars(
        "chart-satisfaction",
        "Satisfaction ratings",
        f"Share of the {rated} rated tickets per rating, best first; the table below has the "
        "numbers.",
        bars,
    )
    return table


#: The most texts a topic's link passes to the conversations page (its ``question`` filter's
#: limit, drilldown.ConversationFilter): a topic's most asked texts.
LINKED_QUESTIONS = 50


def unanswered_table(figures: Figures) -> Table:
    topics = figures.unanswered
    table = Table(
        "unanswered",
        "Top unanswered topics",
        f"Questions the bot could not answer (no article, a 'no', or a handoff), their distinct "
        f"texts grouped by shared words per language, largest first; at most {TOP_ROWS}. "
        f"Conversations: distinct conversations that asked one of the topic's wordings. Each "
        f"topic links to its conversations (its {LINKED_QUESTIONS} most asked wordings).",
        [
            text_column("Topic"),
            text_column("Language"),
            text_column("Terms"),
            Column("Conversations"),
            Column("Distinct wordings"),
        ],
        empty="No unanswered question in this period.",
        wide=True,
    )
    for topic in topics:
        questions = topic.text_hashes[:LINKED_QUESTIONS]
        language = topic.language.value
        href = conversations_link(figures.period, language=language, question=questions)
        table.rows.append(
            [
                label(topic.label, href),
                label(language),
                label(", ".join(topic.terms)),
                count(topic.conversations),
                count(topic.texts),
            ]
        )
    if topics:
        largest = topics[0].conversations
        table.chart = charts.horizontal_bars(
            "chart-unanswered",
            "Top unanswered topics",
            "Conversations per unanswered topic, as a share of the largest; the table below has "
            "the numbers.",
            [
                charts.Bar(
                    f"{t.label} ({t.language.value})",
                    t.conversations / largest,
                    f"{t.conversations} conv.",
                )
                for t in topics
            ],
        )
    return table


#: Every table of the page, in its order; the CSV export's ``table`` is one of these names.
TABLES: dict[str, Callable[[Figures], Table]] = {
    "outcomes": outcomes_table,
    "figures": figures_table,
    "weeks": weeks_table,
    "due_by_queue": due_by_queue_table,
    "due_by_request_type": due_by_request_type_table,
    "times": times_table,
    "satisfaction": satisfaction_table,
    "articles": articles_table,
    "unanswered": unanswered_table,
}


def to_csv(table: Table) -> str:
    """The table as CSV: a header row, then one row per table row, with the raw values. A
    text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) is prefixed
    with ``'`` (customers' questions are exported)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([column.csv_header or column.header for column in table.columns])
    for row in table.rows:
        values = ["" if cell.value is None else cell.value for cell in row]
        writer.writerow(
            ["'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v for v in values]
        )
    return out.getvalue()


# --- routes -------------------------------------------------------------------------------


def _period(request: Request, ctx: AppContext) -> Period:
    today = utcnow().astimezone(ctx.timezone).date()
    return read_period(dict(request.query_params), ctx.timezone, today)


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, ctx: Ctx, session: DbSession, row: AdminLogin) -> HTMLResponse:
    options = {
        "languages": list(Language),
        "queues": sorted(ctx.rules.queues),
    }
    try:
        period = _period(request, ctx)
    except InvalidFilter as exc:
        return render(
            request,
            "reports.html",
            status_code=400,
            row=row,
            flash=[{"level": "error", "text": f"Invalid filter: {exc}"}],
            form=dict(request.query_params),
            period=None,
            tables=[],
            **options,
        )
    now = utcnow()
    figures = Figures(session, ctx, period, now)
    days = ctx.settings.metrics_return_days
    return render(
        request,
        "reports.html",
        row=row,
        flash=take_flash(session, row),
        form=period.query(),
        period=period,
        tables=[build(figures) for build in TABLES.values()],
        settling=period.conversations().until + dt.timedelta(days=days) > now,
        return_days=days,
        **options,
    )


@router.get("/reports.csv")
def reports_csv(
    request: Request, ctx: Ctx, session: DbSession, row: AdminLogin, table: str = ""
) -> Response:
    build = TABLES.get(table)
    if build is None:
        raise ConsoleError(404, f"There is no report table {table!r}.")
    try:
        period = _period(request, ctx)
    except InvalidFilter as exc:
        raise ConsoleError(400, f"Invalid filter: {exc}") from exc
    data = build(Figures(session, ctx, period, utcnow()))
    filename = f"nivel0-{table}-{period.first_day}-{period.last_day}.csv"
    return Response(
        to_csv(data).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )
