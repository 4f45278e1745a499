"""Support metrics a manager can trust: pure computations over the database for a period
``[since, until)`` (docs/metrics.md states every definition in words; GET /v1/reports/...).

Conversation figures come from the events the bot reports (``conversation_events``) and the
tickets; ticket figures from the tickets, their history (``ticket_events``) and the ratings.

* **A conversation of the period** is one whose *start* is in the period: the ``occurred_at``
  of its ``conversation_started`` event (the earliest, should there be several), else of its
  earliest event. All its events count, even those after ``until``: a conversation spanning the
  end of a period belongs to the period it started in. Its language is its start event's.
* **Exactly one outcome per conversation** (:func:`classify`), so the shares add up to 100 %.
* **Tickets of the period** are those created in it (and, filtered, now in the queue).

Conversation figures are computed in SQL from one summary row per conversation
(``conversation_summaries``, merged from its events as they arrive: handoff_service.events),
so a report reads one row per conversation, not every event; what is not portable SQL
(percentiles, durations) is done here in Python.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Exists,
    Select,
    Subquery,
    and_,
    case,
    func,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session, aliased

from handoff_service.lifecycle import Action
from handoff_service.models import (
    ConversationArticle,
    ConversationSummary,
    SatisfactionRating,
    Ticket,
    TicketEvent,
)
from handoff_service.schemas import (
    ArticleHelpfulness,
    ArticlesReport,
    DueDates,
    DueDatesReport,
    Durations,
    FirstResponse,
    HandedOverCount,
    OutcomeCount,
    Outcomes,
    OutcomesReport,
    Rate,
    ReportPeriod,
    Satisfaction,
    TicketReport,
    TicketReportPeriod,
)
from handoff_service.vocabulary import RATINGS, DueResult, HandoffReason, Outcome, Visibility

P = TypeVar("P", bound=ReportPeriod)


# --- conversations ----------------------------------------------------------------------------


S, A = ConversationSummary, ConversationArticle


def period_conversations(period: ReportPeriod) -> ColumnElement[bool]:
    """Which summaries are the period's conversations: started in ``[since, until)`` (in
    ``language``, if given)."""
    condition = and_(S.started_at >= period.since, S.started_at < period.until)
    if period.language is not None:
        condition = and_(condition, S.language == period.language.value)
    return condition


def came_back(period: ReportPeriod, return_days: int) -> Subquery:
    """The period's conversations whose customer came back on the same topic: the same sender
    started another conversation less than ``return_days`` days after this one started
    (strictly after it, in any language, even after the period) that showed one of this one's
    articles, i.e. the next such start of one of its article rows (``next_epoch``) is that
    close."""
    query = select(A.conversation_id).where(
        A.started_at >= period.since,
        A.started_at < period.until,
        A.next_epoch < A.started_epoch + return_days * 86_400,
    )
    return query.distinct().subquery("came_back")


@dataclass(frozen=True)
class Classified:
    """The period's summaries (``query``: filtered by :func:`period_conversations`,
    outer-joined with the ticket made from each conversation, ``ticket``, and with
    :func:`came_back`) and, in SQL over them, each one's handoff ``reason`` and ``outcome``.
    Callers add the columns they need: ``query.add_columns(...)``."""

    query: Select[Any]
    ticket: Any
    reason: ColumnElement[str | None]
    outcome: ColumnElement[str]


def classify(period: ReportPeriod, return_days: int) -> Classified:
    """Each conversation of the period with its one outcome, the first that applies:

    1. ``handed_over``: a handoff event, or a ticket made from the conversation (``reason``:
       the first handoff event's reason, else the ticket's);
    2. ``resolved_confirmed``: a feedback event saying an article helped;
    3. ``resolved_assumed``: an article was shown, the last one shown got no negative
       feedback, and the customer did not come back on the same topic (:func:`came_back`);
    4. ``abandoned``: everything else (fallbacks only, a "no" without handoff, back on the
       same topic, nothing shown).
    """
    ticket, returned = aliased(Ticket), came_back(period, return_days)
    reason = func.coalesce(S.handoff_reason, ticket.handoff_reason)
    outcome = case(
        (reason.is_not(None), Outcome.HANDED_OVER.value),
        (S.helpful, Outcome.RESOLVED_CONFIRMED.value),
        (
            and_(
                S.last_shown_article.is_not(None),
                not_(S.said_no_to_last),
                returned.c.conversation_id.is_(None),
            ),
            Outcome.RESOLVED_ASSUMED.value,
        ),
        else_=Outcome.ABANDONED.value,
    )
    query = (
        select()
        .select_from(S)
        .outerjoin(ticket, ticket.conversation_id == S.conversation_id)
        .outerjoin(returned, returned.c.conversation_id == S.conversation_id)
        .where(period_conversations(period))
    )
    return Classified(query, ticket, reason, outcome)


def without_jit(session: Session) -> None:
    """On PostgreSQL, no JIT compilation for the rest of this transaction: the planner costs
    the per-conversation subplans of these reports high enough to JIT-compile them, which took
    0.8 s to save nothing on a 100,000-conversation month (0.23 s without it)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def _share(count: int, total: int) -> float | None:
    return count / total if total else None


def _tally(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """SQL: how many rows meet ``condition`` (0 for no rows)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def outcomes(session: Session, period: ReportPeriod, return_days: int) -> OutcomesReport:
    """Outcomes of the period's conversations, the handoff rate and the clarify pick rate:
    one row per conversation is classified in SQL (:func:`classify`), then counted."""
    without_jit(session)
    classified = classify(period, return_days)
    per_conversation = classified.query.add_columns(
        classified.outcome.label("outcome"),
        classified.reason.label("reason"),
        S.clarify_shown,
        S.clarify_picked,
    ).subquery()
    c = per_conversation.c
    # one pass, no grouping: a count per outcome and per reason (a reason <=> handed over)
    row = session.execute(
        select(
            *(_tally(c.outcome == o.value) for o in Outcome),
            *(_tally(c.reason == r.value) for r in HandoffReason),
            _tally(c.clarify_shown),
            _tally(and_(c.clarify_shown, c.clarify_picked)),
        )
    ).one()
    values = iter(row)
    counts = {o: next(values) for o in Outcome}
    reasons = {r: next(values) for r in HandoffReason}
    clarified, picked = next(values), next(values)
    total = sum(counts.values())
    by_outcome = {
        o.value: OutcomeCount(conversations=counts[o], share=_share(counts[o], total))
        for o in Outcome
    }
    handed_over = by_outcome.pop(Outcome.HANDED_OVER.value)
    return OutcomesReport(
        period=period,
        return_days=return_days,
        conversations=total,
        outcomes=Outcomes(
            handed_over=HandedOverCount(
                **handed_over.model_dump(), by_reason={r: reasons[r] for r in HandoffReason}
            ),
            **by_outcome,
        ),
        handoff_rate=Rate.of(counts[Outcome.HANDED_OVER], total),
        clarify_pick_rate=Rate.of(picked, clarified),
    )


def articles(session: Session, period: ReportPeriod) -> ArticlesReport:
    """Per article: the period's conversations that showed it, and of those, how many said
    it helped, how many said it did not (the latest feedback on it counts), how many gave no
    feedback on it. ``shown = helpful + not_helpful + no_feedback``."""
    without_jit(session)
    condition = and_(A.started_at >= period.since, A.started_at < period.until)
    if period.language is not None:
        condition = and_(condition, A.language == period.language.value)
    rows = session.execute(
        select(
            A.article_id,
            func.count(),
            func.sum(case((A.feedback.is_(True), 1), else_=0)),
            func.sum(case((A.feedback.is_(False), 1), else_=0)),
            func.sum(case((A.feedback.is_(None), 1), else_=0)),
        )
        .where(condition)
        .group_by(A.article_id)
    )
    result = [
        ArticleHelpfulness(
            article_id=article_id,
            shown=count,
            helpful=int(helpful),
            not_helpful=int(not_helpful),
            no_feedback=int(no_feedback),
        )
        for article_id, count, helpful, not_helpful, no_feedback in rows
    ]
    result.sort(key=lambda row: (-row.shown, row.article_id))
    conversations = session.scalar(select(func.count()).where(period_conversations(period)))
    return ArticlesReport(period=period, conversations=conversations or 0, articles=result)


# --- tickets ----------------------------------------------------------------------------------


def percentile(values: Iterable[float], fraction: float) -> float | None:
    """The ``fraction`` quantile by linear interpolation between the closest ranks
    (PostgreSQL's ``percentile_cont``, numpy's default): 0.5 is the median. None for no
    values."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def durations(seconds: Sequence[float]) -> Durations:
    return Durations(
        tickets=len(seconds),
        median_seconds=percentile(seconds, 0.5),
        p90_seconds=percentile(seconds, 0.9),
    )


def _of_period(query: Select[Any], period: TicketReportPeriod) -> Select[Any]:
    """``query`` restricted to the tickets of the period (created in it; language, queue)."""
    query = query.where(Ticket.created_at >= period.since, Ticket.created_at < period.until)
    if period.language is not None:
        query = query.where(Ticket.language == period.language.value)
    if period.queue is not None:
        query = query.where(Ticket.queue == period.queue)
    return query


def first_response(session: Session, period: TicketReportPeriod) -> FirstResponse:
    """Creation -> the first agent reply to the customer: the first customer-visible comment
    in the ticket's history (``tickets.replies``). Tickets without one are counted apart."""
    replied = (
        select(TicketEvent.ticket_id, func.min(TicketEvent.created_at).label("at"))
        .where(
            TicketEvent.kind == "comment",
            TicketEvent.data["visibility"].as_string() == Visibility.CUSTOMER.value,
        )
        .group_by(TicketEvent.ticket_id)
        .subquery()
    )
    rows = session.execute(
        _of_period(
            select(Ticket.created_at, replied.c.at).outerjoin(
                replied, replied.c.ticket_id == Ticket.id
            ),
            period,
        )
    ).all()
    seconds = [(at - created).total_seconds() for created, at in rows if at is not None]
    return FirstResponse(**durations(seconds).model_dump(), without_reply=len(rows) - len(seconds))


def resolution(session: Session, period: TicketReportPeriod) -> Durations:
    """Creation -> ``resolved_at``, of the tickets resolved now (a reopened ticket counts once
    resolved again, from its latest resolution)."""
    rows = session.execute(
        _of_period(
            select(Ticket.created_at, Ticket.resolved_at).where(Ticket.resolved_at.is_not(None)),
            period,
        )
    ).all()
    return durations([(resolved - created).total_seconds() for created, resolved in rows])


def due_state(now: dt.datetime) -> ColumnElement[str]:
    """SQL: the ticket's :class:`DueResult` at ``now``. Resolved (or closed): met when
    resolved at or before its due date. Open: missed when past it, where a ticket whose clock
    is stopped (waiting on the customer) is past it only if it already was when the clock
    stopped (its due date moves later by the pause when the clock restarts)."""
    missed = DueResult.MISSED.value
    past_due = or_(
        and_(Ticket.sla_paused_at.is_(None), Ticket.due_at <= now),
        and_(Ticket.sla_paused_at.is_not(None), Ticket.due_at <= Ticket.sla_paused_at),
    )
    return case(
        (
            Ticket.resolved_at.is_not(None),
            case((Ticket.resolved_at <= Ticket.due_at, DueResult.MET.value), else_=missed),
        ),
        (past_due, missed),
        else_=DueResult.OPEN_NOT_DUE.value,
    )


def _due_dates(counts: Counter[str]) -> DueDates:
    met, missed = counts[DueResult.MET], counts[DueResult.MISSED]
    return DueDates(
        met=met,
        missed=missed,
        open_not_due=counts[DueResult.OPEN_NOT_DUE],
        met_rate=_share(met, met + missed),
    )


def due_dates(session: Session, period: TicketReportPeriod, now: dt.datetime) -> DueDatesReport:
    """Due dates met and missed, in total, per queue and per request type (:func:`due_state`)."""
    state = due_state(now).label("state")
    rows = session.execute(
        _of_period(
            select(Ticket.queue, Ticket.request_type, state, func.count()).group_by(
                Ticket.queue, Ticket.request_type, state
            ),
            period,
        )
    )
    total: Counter[str] = Counter()
    by_queue: dict[str, Counter[str]] = defaultdict(Counter)
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    for queue, request_type, ticket_state, count in rows:
        for counts in (total, by_queue[queue], by_type[request_type]):
            counts[ticket_state] += count
    return DueDatesReport(
        total=_due_dates(total),
        by_queue={q: _due_dates(c) for q, c in sorted(by_queue.items())},
        by_request_type={t: _due_dates(c) for t, c in sorted(by_type.items())},  # type: ignore[misc]
    )


def _with_event(kind: Action) -> Exists:
    """SQL: the ticket's history has a ``kind`` event."""
    return (
        select(TicketEvent.id)
        .where(TicketEvent.ticket_id == Ticket.id, TicketEvent.kind == kind.value)
        .exists()
    )


def resolved_tickets(session: Session, period: TicketReportPeriod) -> int:
    """Tickets of the period resolved at least once (a ``resolve`` event), reopened or not:
    the denominator of the rating response rate and of the reopen rate."""
    query = select(func.count()).select_from(Ticket).where(_with_event(Action.RESOLVE))
    return session.scalar(_of_period(query, period)) or 0


def satisfaction(session: Session, period: TicketReportPeriod, resolved: int) -> Satisfaction:
    """How many rated tickets gave each latest rating, their mean, and rated tickets / resolved
    tickets (a ticket can only be rated once resolved, so rated tickets are among the resolved
    ones)."""
    latest = (
        select(func.max(SatisfactionRating.id).label("id"))
        .group_by(SatisfactionRating.ticket_id)
        .subquery()
    )
    rows = session.execute(
        _of_period(
            select(SatisfactionRating.rating, func.count())
            .select_from(SatisfactionRating)
            .join(latest, latest.c.id == SatisfactionRating.id)
            .join(Ticket, Ticket.id == SatisfactionRating.ticket_id)
            .group_by(SatisfactionRating.rating),
            period,
        )
    )
    by_rating = dict.fromkeys(RATINGS, 0) | dict(rows.tuples().all())
    rated = sum(by_rating.values())
    total = sum(rating * count for rating, count in by_rating.items())
    return Satisfaction(
        average=total / rated if rated else None,
        response_rate=Rate.of(rated, resolved),
        by_rating=by_rating,
    )


def reopen_rate(session: Session, period: TicketReportPeriod, resolved: int) -> Rate:
    """Resolved tickets later reopened (a ``reopen`` event: by an agent or the customer; only
    a resolved or closed ticket can be reopened) / resolved tickets."""
    query = select(func.count()).select_from(Ticket).where(_with_event(Action.REOPEN))
    return Rate.of(session.scalar(_of_period(query, period)) or 0, resolved)


def tickets(session: Session, period: TicketReportPeriod, now: dt.datetime) -> TicketReport:
    """The figures of the tickets created in the period, as of ``now``."""
    created = session.scalar(_of_period(select(func.count()).select_from(Ticket), period)) or 0
    resolved = resolved_tickets(session, period)
    return TicketReport(
        period=period,
        tickets=created,
        first_response=first_response(session, period),
        resolution=resolution(session, period),
        due_dates=due_dates(session, period, now),
        satisfaction=satisfaction(session, period, resolved),
        reopen_rate=reopen_rate(session, period, resolved),
    )


# --- periods ----------------------------------------------------------------------------------


def weeks(period: P, zone: ZoneInfo) -> list[P]:
    """``period`` cut into weeks from its start: seven days of the calendar of ``zone`` each
    (wall-clock: a week with a daylight-saving change has 167 or 169 hours), the last one
    ending at ``until`` and possibly shorter; each keeps the period's filters. A conversation
    (ticket) of the period is in exactly one of them."""
    cuts = []
    start = period.since.astimezone(zone)
    while start < period.until:
        end = min(start + dt.timedelta(days=7), period.until).astimezone(zone)
        update = {"since": start.astimezone(dt.UTC), "until": end.astimezone(dt.UTC)}
        cuts.append(period.model_copy(update=update))
        start = end
    return cuts
