"""Support metrics a manager can trust: pure computations over the database for a period
``[since, until)`` (docs/metrics.md states every definition in words; GET /v1/reports/...).

Conversation figures come from the events the bot reports (``conversation_events``) and the
tickets; ticket figures from the tickets, their history (``ticket_events``) and the ratings.

* **A conversation of the period** is one whose *start* is in the period: the ``occurred_at``
  of its ``conversation_started`` event (the earliest, should there be several), else of its
  earliest event. All its events count, even those after ``until``: a conversation spanning the
  end of a period belongs to the period it started in. Its language is its start event's.
* **Exactly one outcome per conversation** (:func:`outcome_of`), so the shares add up to 100 %.
* **Tickets of the period** are those created in it (and, filtered, now in the queue).

The functions run a few SQL queries each (selection and grouping in SQL); what needs a
conversation's sequence of events (its outcome, the latest feedback on an article) or is not
portable SQL (percentiles, durations) is done here in Python.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Exists, Row, Select, Subquery, and_, case, func, or_, select
from sqlalchemy.orm import Session

from handoff_service.lifecycle import Action
from handoff_service.models import ConversationEvent, SatisfactionRating, Ticket, TicketEvent
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
from handoff_service.vocabulary import EventKind, HandoffReason, Outcome, Visibility

E = ConversationEvent
P = TypeVar("P", bound=ReportPeriod)
#: One event of a conversation: ``kind, article_id, helpful, reason`` (and more columns).
EventRow = Row[Any]


# --- conversations ----------------------------------------------------------------------------


@dataclass
class Conversation:
    """A conversation of the period with its events (oldest first) and its ticket's handoff
    reason, if a ticket was made from it."""

    conversation_id: str
    sender: str
    started_at: dt.datetime
    events: list[EventRow] = field(default_factory=list)
    ticket_reason: str | None = None

    def of_kind(self, kind: EventKind) -> list[EventRow]:
        return [e for e in self.events if e.kind == kind.value]

    @property
    def shown_articles(self) -> list[str]:
        """The articles shown, in order of first showing, each once."""
        return list(dict.fromkeys(e.article_id for e in self.of_kind(EventKind.ARTICLE_SHOWN)))


def conversation_starts(
    since: dt.datetime, until: dt.datetime, language: str | None = None
) -> Subquery:
    """The conversations that started in ``[since, until)`` (in ``language``, if given): one
    row each, ``conversation_id, sender, started_at, language``.

    A conversation starting in the period has its start event in it, so only conversations
    with an event in the period are looked at (the ``occurred_at`` index); their start is then
    ranked over all their events: the ``conversation_started`` events first, then by time."""
    in_period = select(E.conversation_id).where(E.occurred_at >= since, E.occurred_at < until)
    rank = func.row_number().over(
        partition_by=E.conversation_id,
        order_by=(
            case((E.kind == EventKind.CONVERSATION_STARTED.value, 0), else_=1),
            E.occurred_at,
            E.id,
        ),
    )
    ranked = (
        select(
            E.conversation_id,
            E.sender,
            E.occurred_at.label("started_at"),
            E.language,
            rank.label("rank"),
        )
        .where(E.conversation_id.in_(in_period))
        .subquery()
    )
    query = select(
        ranked.c.conversation_id, ranked.c.sender, ranked.c.started_at, ranked.c.language
    ).where(ranked.c.rank == 1, ranked.c.started_at >= since, ranked.c.started_at < until)
    if language is not None:
        query = query.where(ranked.c.language == language)
    return query.subquery()


def load_conversations(session: Session, period: ReportPeriod) -> list[Conversation]:
    """The period's conversations with all their events and their tickets' reasons (events
    and starts in one query, so a conversation arriving meanwhile is wholly in or out)."""
    starts = conversation_starts(period.since, period.until, period.language)
    rows = session.execute(
        select(
            starts.c.sender,
            starts.c.started_at,
            E.conversation_id,
            E.kind,
            E.article_id,
            E.helpful,
            E.reason,
        )
        .join(starts, starts.c.conversation_id == E.conversation_id)
        .order_by(E.conversation_id, E.occurred_at, E.id)
    )
    conversations: dict[str, Conversation] = {}
    for row in rows:
        conversation = conversations.get(row.conversation_id)
        if conversation is None:
            conversation = Conversation(row.conversation_id, row.sender, row.started_at)
            conversations[row.conversation_id] = conversation
        conversation.events.append(row)
    tickets = session.execute(
        select(Ticket.conversation_id, Ticket.handoff_reason).join(
            starts, starts.c.conversation_id == Ticket.conversation_id
        )
    )
    for conversation_id, reason in tickets:
        if conversation_id in conversations:
            conversations[conversation_id].ticket_reason = reason
    return list(conversations.values())


def _after(moment: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """``moment + delta``, or the latest representable time (a period ending in year 9999)."""
    try:
        return moment + delta
    except OverflowError:
        return dt.datetime.max.replace(tzinfo=dt.UTC)


def came_back(
    session: Session, conversations: Sequence[Conversation], period: ReportPeriod, return_days: int
) -> set[str]:
    """The conversations whose customer came back on the same topic: the same sender started
    another conversation less than ``return_days`` days after this one started (strictly
    after it, in any language, even after ``until``) that showed one of this one's articles."""
    if return_days == 0 or not conversations:
        return set()
    window = dt.timedelta(days=return_days)
    senders = {c.sender for c in conversations}
    # every conversation that may be a return, filtered by sender here: a semi-join with the
    # period's conversations is slow on PostgreSQL whenever it misestimates their number
    later = conversation_starts(period.since, _after(period.until, window))
    shown = session.execute(
        select(later.c.sender, later.c.conversation_id, later.c.started_at, E.article_id)
        .join(E, E.conversation_id == later.c.conversation_id)
        .where(E.kind == EventKind.ARTICLE_SHOWN.value)
    )
    by_sender: dict[str, list[tuple[str, dt.datetime, str]]] = defaultdict(list)
    for sender, conversation_id, started_at, article_id in shown:
        if sender in senders:
            by_sender[sender].append((conversation_id, started_at, article_id))
    returned = set()
    for conversation in conversations:
        articles = set(conversation.shown_articles)
        start, end = conversation.started_at, _after(conversation.started_at, window)
        if any(
            other != conversation.conversation_id
            and start < started_at < end
            and article_id in articles
            for other, started_at, article_id in by_sender[conversation.sender]
        ):
            returned.add(conversation.conversation_id)
    return returned


def handoff_reason(conversation: Conversation) -> str | None:
    """Why it was handed over: its first handoff event's reason, else its ticket's; None if
    it was not handed over."""
    handoffs = conversation.of_kind(EventKind.HANDOFF)
    return handoffs[0].reason if handoffs else conversation.ticket_reason


def outcome_of(conversation: Conversation, came_back: bool) -> Outcome:
    """The conversation's one outcome, the first that applies:

    1. ``handed_over``: a handoff event, or a ticket made from the conversation;
    2. ``resolved_confirmed``: a feedback event saying an article helped;
    3. ``resolved_assumed``: an article was shown, the last one shown got no negative
       feedback, and the customer did not come back on the same topic (:func:`came_back`);
    4. ``abandoned``: everything else (fallbacks only, a "no" without handoff, back on the
       same topic, nothing shown).
    """
    if handoff_reason(conversation) is not None:
        return Outcome.HANDED_OVER
    feedback = conversation.of_kind(EventKind.FEEDBACK)
    if any(e.helpful for e in feedback):
        return Outcome.RESOLVED_CONFIRMED
    shown = conversation.of_kind(EventKind.ARTICLE_SHOWN)
    if shown and not came_back:
        last = shown[-1].article_id
        if not any(e.article_id == last and e.helpful is False for e in feedback):
            return Outcome.RESOLVED_ASSUMED
    return Outcome.ABANDONED


def _share(count: int, total: int) -> float | None:
    return count / total if total else None


def outcomes(session: Session, period: ReportPeriod, return_days: int) -> OutcomesReport:
    """Outcomes of the period's conversations, the handoff rate and the clarify pick rate."""
    conversations = load_conversations(session, period)
    returned = came_back(session, conversations, period, return_days)
    total = len(conversations)
    counts: Counter[Outcome] = Counter()
    reasons: Counter[str] = Counter()
    clarified = picked = 0
    for conversation in conversations:
        counts[outcome_of(conversation, conversation.conversation_id in returned)] += 1
        reason = handoff_reason(conversation)  # set exactly when handed over
        if reason is not None:
            reasons[reason] += 1
        if conversation.of_kind(EventKind.CLARIFY_SHOWN):
            clarified += 1
            picked += bool(conversation.of_kind(EventKind.CLARIFY_PICKED))
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
                **handed_over.model_dump(), by_reason={r: reasons[r.value] for r in HandoffReason}
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
    conversations = load_conversations(session, period)
    tally: dict[str, Counter[str]] = defaultdict(Counter)
    for conversation in conversations:
        latest = {e.article_id: e.helpful for e in conversation.of_kind(EventKind.FEEDBACK)}
        for article_id in conversation.shown_articles:
            helpful = latest.get(article_id)
            answer = "no_feedback" if helpful is None else "helpful" if helpful else "not_helpful"
            tally[article_id]["shown"] += 1
            tally[article_id][answer] += 1
    rows = [
        ArticleHelpfulness(
            article_id=article_id,
            shown=c["shown"],
            helpful=c["helpful"],
            not_helpful=c["not_helpful"],
            no_feedback=c["no_feedback"],
        )
        for article_id, c in tally.items()
    ]
    rows.sort(key=lambda row: (-row.shown, row.article_id))
    return ArticlesReport(period=period, conversations=len(conversations), articles=rows)


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
    """SQL: ``met``, ``missed`` or ``open_not_due`` for a ticket at ``now``. Resolved (or
    closed): met when resolved at or before its due date. Open: missed when past it, where a
    ticket whose clock is stopped (waiting on the customer) is past it only if it already was
    when the clock stopped (its due date moves later by the pause when the clock restarts)."""
    past_due = or_(
        and_(Ticket.sla_paused_at.is_(None), Ticket.due_at <= now),
        and_(Ticket.sla_paused_at.is_not(None), Ticket.due_at <= Ticket.sla_paused_at),
    )
    return case(
        (
            Ticket.resolved_at.is_not(None),
            case((Ticket.resolved_at <= Ticket.due_at, "met"), else_="missed"),
        ),
        (past_due, "missed"),
        else_="open_not_due",
    )


def _due_dates(counts: Counter[str]) -> DueDates:
    met, missed = counts["met"], counts["missed"]
    return DueDates(
        met=met,
        missed=missed,
        open_not_due=counts["open_not_due"],
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
    """Mean of each rated ticket's latest rating, and rated tickets / resolved tickets (a
    ticket can only be rated once resolved, so rated tickets are among the resolved ones)."""
    latest = (
        select(func.max(SatisfactionRating.id).label("id"))
        .group_by(SatisfactionRating.ticket_id)
        .subquery()
    )
    rated, average = session.execute(
        _of_period(
            select(func.count(), func.avg(SatisfactionRating.rating))
            .select_from(SatisfactionRating)
            .join(latest, latest.c.id == SatisfactionRating.id)
            .join(Ticket, Ticket.id == SatisfactionRating.ticket_id),
            period,
        )
    ).one()
    return Satisfaction(
        average=None if average is None else float(average),
        response_rate=Rate.of(rated, resolved),
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
