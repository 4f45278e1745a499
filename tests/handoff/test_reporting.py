"""Support metrics (docs/metrics.md): the bot's conversation events (``POST /v1/events``) and
the reports computed from them, the tickets and the ratings (``GET /v1/reports/...``).

Conversations are synthetic event streams posted through the API as the bot posts them;
tickets are made by handoffs and moved by the agents' and the customer's real actions. Only
due dates (and one creation time) are written by hand: a test cannot wait for a date to pass.
"""

from __future__ import annotations

import datetime as dt
import importlib
import random
import secrets
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, text, update

from handoff_service import reporting
from handoff_service.models import (
    ConversationArticle,
    ConversationEvent,
    ConversationSummary,
    Ticket,
)
from handoff_service.schemas import TicketReportPeriod
from handoff_service.settings import Settings
from handoff_service.vocabulary import Outcome

EVENTS = "/v1/events"
REPORTS = ("outcomes", "articles", "tickets")
#: A Monday morning: the synthetic conversations happen in the week after it.
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)


@dataclass
class Chat:
    """One conversation's events as the bot reports them, one minute apart from ``start``
    (``wait`` moves the clock). Without ``started``, no conversation_started event."""

    sender: str
    start: dt.datetime
    language: str = "es"
    started: bool = True
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clock = self.start
        if self.started:
            self.add("conversation_started")

    @property
    def conversation_id(self) -> str:
        return f"{self.sender}:{int(self.start.timestamp())}"

    def add(self, kind: str, **fields: Any) -> Chat:
        self.events.append(
            {
                "event_id": secrets.token_hex(16),
                "conversation_id": self.conversation_id,
                "kind": kind,
                "language": self.language,
                "occurred_at": self.clock.isoformat(),
                **fields,
            }
        )
        self.clock += dt.timedelta(minutes=1)
        return self

    def wait(self, delta: dt.timedelta) -> Chat:
        self.clock += delta
        return self

    def shown(self, article_id: str) -> Chat:
        return self.add("article_shown", article_id=article_id, score=0.71)

    def feedback(self, article_id: str, helpful: bool) -> Chat:
        return self.add("feedback", article_id=article_id, helpful=helpful)

    def handoff(self, reason: str) -> Chat:
        return self.add("handoff", reason=reason)


def post(client: TestClient, tokens: dict[str, Any], *chats: Chat) -> None:
    events = [event for chat in chats for event in chat.events]
    response = client.post(EVENTS, json={"events": events}, headers=tokens["bot"])
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": len(events), "duplicates": 0}


def report(
    client: TestClient,
    tokens: dict[str, Any],
    name: str,
    since: dt.datetime,
    until: dt.datetime,
    **params: str,
) -> dict[str, Any]:
    response = client.get(
        f"/v1/reports/{name}",
        params={"since": since.isoformat(), "until": until.isoformat(), **params},
        headers=tokens["admin"],
    )
    assert response.status_code == 200, response.text
    return response.json()


def outcome_counts(body: dict[str, Any]) -> Counter[str]:
    return Counter({name: o["conversations"] for name, o in body["outcomes"].items()})


def stored_events(session_factory: Any) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(ConversationEvent)) or 0


# --- POST /v1/events ----------------------------------------------------------------------


def test_a_batch_delivered_twice_is_stored_once(
    client: TestClient, tokens: dict[str, Any], session_factory: Any
) -> None:
    chat = Chat("web-1", T0).shown("password-reset-es").feedback("password-reset-es", True)
    batch = {"events": chat.events}
    first = client.post(EVENTS, json=batch, headers=tokens["bot"])
    again = client.post(EVENTS, json=batch, headers=tokens["bot"])
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == {"stored": 3, "duplicates": 0}
    assert again.json() == {"stored": 0, "duplicates": 3}
    # a later batch carrying one event already stored stores only the new one
    chat.handoff("customer_request")
    overlap = client.post(EVENTS, json={"events": chat.events[-2:]}, headers=tokens["bot"])
    assert overlap.json() == {"stored": 1, "duplicates": 1}
    assert stored_events(session_factory) == 4
    with session_factory() as session:
        senders = set(session.scalars(select(ConversationEvent.sender)))
    assert senders == {"web-1"}  # the conversation id without its session start


def derived_rows(session_factory: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What handoff_service.events derives from the stored events: every conversation's
    article rows and its summary's said_no_to_last."""
    a, s = ConversationArticle, ConversationSummary
    with session_factory() as session:
        articles = session.execute(
            select(a.conversation_id, a.article_id, a.sender, a.language, a.started_epoch)
            .add_columns(a.feedback, a.next_epoch)
            .order_by(a.conversation_id, a.article_id)
        ).all()
        said_no = session.execute(
            select(s.conversation_id, s.said_no_to_last).order_by(s.conversation_id)
        ).all()
    return [tuple(row) for row in articles], [tuple(row) for row in said_no]


def test_the_derived_rows_do_not_depend_on_how_the_events_arrive(
    client: TestClient, tokens: dict[str, Any], session_factory: Any
) -> None:
    """One batch, or one event per batch in a shuffled order (another replica's clock, a
    retried delivery), gives the same article rows and said_no_to_last; and the migration's
    backfill (0008) computes exactly what the live derivation does."""
    a, b = "returns-how-to-es", "refund-timeline-es"
    chats = [
        Chat("c1", T0).shown(a).feedback(a, False).shown(b).feedback(b, True),
        Chat("c2", T0 + HOUR).shown(a).feedback(a, True).feedback(a, False),
        Chat("c3", T0 + 2 * HOUR, started=False).shown(b).feedback(b, False),
        Chat("c4", T0 + 3 * HOUR).add("fallback"),
        Chat("c1", T0 + DAY).shown(a),  # c1 back the next day on a
    ]
    # the conversation_started event arrives last and moves c3's start earlier
    chats[2].events.append({**chats[2].events[0], "event_id": secrets.token_hex(16),
                            "kind": "conversation_started", "article_id": None, "score": None,
                            "occurred_at": (T0 + HOUR).isoformat()})  # fmt: skip
    post(client, tokens, *chats)
    at_once = derived_rows(session_factory)
    assert [row[1] for row in at_once[1]] == [False, False, True, True, False]
    next_starts = {(row[0], row[1]): row[-1] for row in at_once[0]}
    back = (T0 + DAY).timestamp()
    assert next_starts == {
        (chats[0].conversation_id, a): back,
        (chats[0].conversation_id, b): None,
        (chats[1].conversation_id, a): None,
        (chats[2].conversation_id, b): None,
        (chats[4].conversation_id, a): None,
    }

    events = [event for chat in chats for event in chat.events]
    random.Random(3).shuffle(events)
    with session_factory() as session:
        for model in (ConversationArticle, ConversationSummary, ConversationEvent):
            session.execute(delete(model))
        session.commit()
    for event in events:
        response = client.post(EVENTS, json={"events": [event]}, headers=tokens["bot"])
        assert response.status_code == 200, response.text
    assert derived_rows(session_factory) == at_once

    migration = importlib.import_module(
        "handoff_service.migrations.versions.0008_conversation_articles"
    )
    with session_factory() as session:
        session.execute(delete(ConversationArticle))
        session.execute(update(ConversationSummary).values(said_no_to_last=False))
        session.execute(text(migration.BACKFILL_ARTICLES))
        session.execute(text(migration.BACKFILL_NEXT))
        session.execute(text(migration.BACKFILL_SAID_NO))
        session.commit()
    assert derived_rows(session_factory) == at_once


def test_an_event_without_the_fields_of_its_kind_refuses_the_batch(
    client: TestClient, tokens: dict[str, Any], session_factory: Any
) -> None:
    chat = Chat("web-1", T0).add("article_shown", score=0.7)  # no article_id
    response = client.post(EVENTS, json={"events": chat.events}, headers=tokens["bot"])
    assert response.status_code == 422
    assert "article_id" in response.text
    assert stored_events(session_factory) == 0  # the valid conversation_started neither


def test_only_the_bot_reports_events(
    client: TestClient, tokens: dict[str, Any], session_factory: Any
) -> None:
    batch = {"events": Chat("web-1", T0).events}
    assert client.post(EVENTS, json=batch, headers=tokens["agent"]).status_code == 403
    assert client.post(EVENTS, json=batch).status_code == 401
    assert stored_events(session_factory) == 0


# --- who may read the reports, and the period ------------------------------------------------


def test_reports_are_for_admins_only(client: TestClient, tokens: dict[str, Any]) -> None:
    params = {"since": T0.isoformat(), "until": (T0 + DAY).isoformat()}
    for name in REPORTS:
        url = f"/v1/reports/{name}"
        assert client.get(url, params=params, headers=tokens["agent"]).status_code == 403
        assert client.get(url, params=params, headers=tokens["bot"]).status_code == 403
        assert client.get(url, params=params).status_code == 401
        assert client.get(url, params=params, headers=tokens["admin"]).status_code == 200


@pytest.mark.parametrize("name", REPORTS)
def test_the_period_must_be_a_real_interval_of_aware_times(
    client: TestClient, tokens: dict[str, Any], name: str
) -> None:
    url = f"/v1/reports/{name}"
    for since, until in [(T0, T0), (T0 + DAY, T0)]:
        params = {"since": since.isoformat(), "until": until.isoformat()}
        response = client.get(url, params=params, headers=tokens["admin"])
        assert response.status_code == 422
        assert "until must be later than since" in response.text
    naive = {"since": "2026-03-02T09:00:00", "until": (T0 + DAY).isoformat()}
    assert client.get(url, params=naive, headers=tokens["admin"]).status_code == 422
    no_utc_time = {"since": "0001-01-01T00:30:00+01:00", "until": T0.isoformat()}
    assert client.get(url, params=no_utc_time, headers=tokens["admin"]).status_code == 422
    madrid = {"since": "2026-03-02T10:00:00+01:00", "until": "2026-03-03T10:00:00+01:00"}
    body = report(client, tokens, name, *map(dt.datetime.fromisoformat, madrid.values()))
    assert (body["period"]["since"], body["period"]["until"]) == (
        "2026-03-02T09:00:00Z",
        "2026-03-03T09:00:00Z",
    )
    missing = {"since": T0.isoformat()}
    assert client.get(url, params=missing, headers=tokens["admin"]).status_code == 422


# --- outcomes -------------------------------------------------------------------------------


def test_each_conversation_has_exactly_one_outcome(
    client: TestClient, tokens: dict[str, Any], make_ticket: Any
) -> None:
    a, b = "returns-how-to-es", "refund-timeline-es"
    at = iter(T0 + n * HOUR for n in range(100))
    # (conversation, its outcome, its handoff reason)
    cases: list[tuple[Chat, Outcome, str | None]] = [
        # "no", then handed over: one conversation, handed over (not also abandoned)
        (
            Chat("no-then-handoff", next(at))
            .shown(a)
            .feedback(a, False)
            .handoff("negative_feedback"),
            Outcome.HANDED_OVER,
            "negative_feedback",
        ),
        # two handoffs: counted once, with the first one's reason
        (
            Chat("two-handoffs", next(at)).handoff("customer_request").handoff("low_confidence"),
            Outcome.HANDED_OVER,
            "customer_request",
        ),
        # a "yes" and still handed over: the handoff comes first
        (
            Chat("yes-then-handoff", next(at)).shown(a).feedback(a, True).handoff("complaint"),
            Outcome.HANDED_OVER,
            "complaint",
        ),
        (Chat("yes", next(at)).shown(a).feedback(a, True), Outcome.RESOLVED_CONFIRMED, None),
        (Chat("shown", next(at)).shown(b), Outcome.RESOLVED_ASSUMED, None),
        # a "no" to the first article, the second one shown without a "no"
        (
            Chat("no-then-other", next(at)).shown(a).feedback(a, False).shown(b),
            Outcome.RESOLVED_ASSUMED,
            None,
        ),
        # picked from the clarify buttons: the bot then shows the article
        (
            Chat("clarify-picked", next(at))
            .add("clarify_shown")
            .add("clarify_picked", article_id=b)
            .shown(b),
            Outcome.RESOLVED_ASSUMED,
            None,
        ),
        (Chat("no", next(at)).shown(a).feedback(a, False), Outcome.ABANDONED, None),
        (Chat("fallbacks", next(at)).add("fallback").add("fallback"), Outcome.ABANDONED, None),
        (
            Chat("clarify-none", next(at)).add("clarify_shown").add("fallback"),
            Outcome.ABANDONED,
            None,
        ),
        (Chat("said-hello", next(at)), Outcome.ABANDONED, None),
    ]
    # a ticket made from a conversation whose handoff event the bot did not report
    ticket_only = Chat("ticket-only", next(at)).shown(a)
    make_ticket(conversation_id=ticket_only.conversation_id, reason="sensitive_data")
    cases.append((ticket_only, Outcome.HANDED_OVER, "sensitive_data"))
    post(client, tokens, *(chat for chat, _, _ in cases))

    body = report(client, tokens, "outcomes", T0, T0 + 7 * DAY)
    expected = Counter(outcome.value for _, outcome, _ in cases)
    assert body["conversations"] == len(cases)
    assert outcome_counts(body) == expected
    assert set(body["outcomes"]) == {o.value for o in Outcome}
    assert sum(outcome_counts(body).values()) == body["conversations"]
    assert sum(o["share"] for o in body["outcomes"].values()) == pytest.approx(1.0)
    handed_over = body["outcomes"]["handed_over"]
    reasons = Counter(reason for _, _, reason in cases if reason is not None)
    assert {r: n for r, n in handed_over["by_reason"].items() if n} == reasons
    assert sum(handed_over["by_reason"].values()) == handed_over["conversations"]
    assert body["handoff_rate"] == {
        "numerator": expected["handed_over"],
        "denominator": len(cases),
        "rate": expected["handed_over"] / len(cases),
    }
    assert body["clarify_pick_rate"] == {"numerator": 1, "denominator": 2, "rate": 0.5}


def test_a_customer_back_on_the_same_topic_within_the_return_window_did_not_get_an_answer(
    client: TestClient, tokens: dict[str, Any], settings: Settings
) -> None:
    days = settings.metrics_return_days
    assert days >= 2, "the scenario needs 'the next day' inside the window"
    window = dt.timedelta(days=days)
    a, b = "returns-how-to-es", "refund-timeline-es"
    # one customer per hour after T0: (first conversation, when they come back, with which
    # article, the first conversation's outcome)
    scenarios = [
        (Chat("next-day", T0).shown(a), DAY, a, Outcome.ABANDONED),
        (Chat("after-n-plus-1", T0 + HOUR).shown(a), window + DAY, a, Outcome.RESOLVED_ASSUMED),
        (
            Chat("just-inside", T0 + 2 * HOUR).shown(a),
            window - dt.timedelta(minutes=1),
            a,
            Outcome.ABANDONED,
        ),
        (Chat("other-topic", T0 + 3 * HOUR).shown(a), DAY, b, Outcome.RESOLVED_ASSUMED),
        # the customer's "yes" is not undone by a return
        (
            Chat("said-yes", T0 + 4 * HOUR).shown(a).feedback(a, True),
            DAY,
            a,
            Outcome.RESOLVED_CONFIRMED,
        ),
    ]
    chats = []
    for first, back_after, article, _outcome in scenarios:
        chats += [first, Chat(first.sender, first.start + back_after).shown(article)]
    # another customer on the same article does not count as this one coming back
    chats.append(Chat("someone-else", T0 + 6 * HOUR).shown(a))
    post(client, tokens, *chats)

    for first, _back_after, _article, outcome in scenarios:
        # a one-hour period: the return is looked for after its end
        body = report(client, tokens, "outcomes", first.start, first.start + HOUR)
        assert body["return_days"] == days
        assert outcome_counts(body) == Counter(
            {o.value: 0 for o in Outcome} | {outcome.value: 1}
        ), first.sender


def test_a_conversation_belongs_to_the_period_it_started_in(
    client: TestClient, tokens: dict[str, Any]
) -> None:
    end = T0 + DAY  # the end of the first period, the start of the second
    a = "returns-how-to-es"
    spanning = (
        Chat("spanning", end - dt.timedelta(minutes=3)).shown(a).wait(HOUR).handoff("complaint")
    )
    at_the_end = Chat("at-the-end", end).shown(a)
    # no conversation_started reported: it starts with its earliest event
    unannounced = Chat("unannounced", T0 + HOUR, started=False).shown(a)
    # conversation_started is its start, even with an earlier event (another replica's clock)
    late_start = Chat("late-start", end - dt.timedelta(minutes=1), started=False).shown(a)
    late_start.wait(dt.timedelta(minutes=1)).add("conversation_started")
    post(client, tokens, spanning, at_the_end, unannounced, late_start)

    first = report(client, tokens, "outcomes", T0, end)
    assert first["conversations"] == 2  # spanning, unannounced
    assert outcome_counts(first)["handed_over"] == 1  # the handoff after the end counts
    assert outcome_counts(first)["resolved_assumed"] == 1
    second = report(client, tokens, "outcomes", end, end + DAY)
    assert second["conversations"] == 2  # at-the-end, late-start
    assert outcome_counts(second)["handed_over"] == 0
    articles = report(client, tokens, "articles", T0, end)
    assert articles["articles"] == [
        {"article_id": a, "shown": 2, "helpful": 0, "not_helpful": 0, "no_feedback": 2}
    ]


def test_the_language_filter_takes_the_language_the_conversation_started_in(
    client: TestClient, tokens: dict[str, Any]
) -> None:
    spanish = Chat("es-1", T0).shown("refund-timeline-es")
    english = Chat("en-1", T0 + HOUR, language="en").shown("refund-timeline-en")
    switched = Chat("switched", T0 + 2 * HOUR, language="en")
    switched.language = "es"  # its later events are in Spanish
    switched.shown("refund-timeline-es").feedback("refund-timeline-es", True)
    post(client, tokens, spanish, english, switched)

    week = (T0, T0 + 7 * DAY)
    assert report(client, tokens, "outcomes", *week)["conversations"] == 3
    english_only = report(client, tokens, "outcomes", *week, language="en")
    assert english_only["conversations"] == 2
    assert outcome_counts(english_only)["resolved_confirmed"] == 1
    assert report(client, tokens, "outcomes", *week, language="es")["conversations"] == 1
    ids = [
        a["article_id"]
        for a in report(client, tokens, "articles", *week, language="en")["articles"]
    ]
    assert ids == ["refund-timeline-en", "refund-timeline-es"]  # as often shown: by id


# --- articles -------------------------------------------------------------------------------


def test_article_helpfulness_counts_conversations_and_their_latest_feedback(
    client: TestClient, tokens: dict[str, Any]
) -> None:
    a, b, c = "returns-how-to-es", "refund-timeline-es", "warranty-claim-es"
    chats = [
        Chat("c1", T0).shown(a).feedback(a, False).shown(b).feedback(b, True),
        Chat("c2", T0 + HOUR).shown(a).shown(a).feedback(a, True),  # shown twice: once
        Chat("c3", T0 + 2 * HOUR).shown(a).feedback(a, False).feedback(a, True),  # changed
        Chat("c4", T0 + 3 * HOUR).shown(b),
        Chat("c5", T0 + 4 * HOUR).shown(c),
        Chat("c6", T0 + 5 * HOUR).add("fallback"),
    ]
    post(client, tokens, *chats)

    body = report(client, tokens, "articles", T0, T0 + DAY)
    assert body["conversations"] == len(chats)
    assert body["articles"] == [
        {"article_id": a, "shown": 3, "helpful": 2, "not_helpful": 1, "no_feedback": 0},
        {"article_id": b, "shown": 2, "helpful": 1, "not_helpful": 0, "no_feedback": 1},
        {"article_id": c, "shown": 1, "helpful": 0, "not_helpful": 0, "no_feedback": 1},
    ]
    for row in body["articles"]:
        assert row["shown"] == row["helpful"] + row["not_helpful"] + row["no_feedback"]


# --- tickets --------------------------------------------------------------------------------


def act(client: TestClient, tokens: dict[str, Any], number: str, action: str, **body: Any) -> Any:
    response = client.post(
        f"/v1/tickets/{number}/{action}", json=body or None, headers=tokens["agent"]
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def reply(client: TestClient, tokens: dict[str, Any], number: str, visibility: str) -> None:
    act(client, tokens, number, "comments", body="Lo estamos revisando.", visibility=visibility)


def resolve(client: TestClient, tokens: dict[str, Any], number: str) -> Any:
    return act(client, tokens, number, "resolve", resolution_note="Enviamos un reemplazo.")


def set_due(session_factory: Any, number: str, due_at: dt.datetime) -> None:
    """By hand: a due date already past (a test cannot wait for one to pass)."""
    with session_factory() as session:
        session.execute(update(Ticket).where(Ticket.number == number).values(due_at=due_at))
        session.commit()


def access_key(session_factory: Any, number: str) -> str:
    with session_factory() as session:
        return session.scalars(select(Ticket.access_key).where(Ticket.number == number)).one()


def around_now() -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return now - HOUR, now + HOUR


def due_counts(met: int = 0, missed: int = 0, open_not_due: int = 0) -> dict[str, Any]:
    decided = met + missed
    return {
        "met": met,
        "missed": missed,
        "open_not_due": open_not_due,
        "met_rate": met / decided if decided else None,
    }


def test_due_dates_met_and_missed_per_queue_and_request_type(
    client: TestClient, tokens: dict[str, Any], make_ticket: Any, session_factory: Any
) -> None:
    since, until = around_now()
    past = dt.datetime.now(dt.UTC) - HOUR
    on_time = make_ticket()
    act(client, tokens, on_time["number"], "claim")
    resolve(client, tokens, on_time["number"])
    late = make_ticket()
    set_due(session_factory, late["number"], past)
    act(client, tokens, late["number"], "claim")
    resolve(client, tokens, late["number"])
    # waiting on the customer once it was already overdue: missed, clock stopped or not
    overdue_then_paused = make_ticket()
    set_due(session_factory, overdue_then_paused["number"], past)
    for action in ("claim", "start", "wait-on-customer"):
        paused = act(client, tokens, overdue_then_paused["number"], action)
    assert paused["sla_paused_at"] is not None
    # waiting on the customer before its due date: not due while the clock is stopped
    paused_in_time = make_ticket()
    for action in ("claim", "start", "wait-on-customer"):
        act(client, tokens, paused_in_time["number"], action)
    # complaints: another queue and request type
    complaint_open = make_ticket(reason="complaint")
    complaint_overdue = make_ticket(reason="complaint")
    set_due(session_factory, complaint_overdue["number"], past)

    mine, other = on_time["queue"], complaint_open["queue"]
    assert mine != other and on_time["request_type"] != complaint_open["request_type"]
    body = report(client, tokens, "tickets", since, until)
    assert body["tickets"] == 6
    due = body["due_dates"]
    assert due["by_queue"] == {
        mine: due_counts(met=1, missed=2, open_not_due=1),
        other: due_counts(missed=1, open_not_due=1),
    }
    assert due["by_request_type"] == {
        on_time["request_type"]: due_counts(met=1, missed=2, open_not_due=1),
        complaint_open["request_type"]: due_counts(missed=1, open_not_due=1),
    }
    assert due["total"] == due_counts(met=1, missed=3, open_not_due=2)

    only_other = report(client, tokens, "tickets", since, until, queue=other)
    assert only_other["tickets"] == 2
    assert only_other["due_dates"]["by_queue"] == {other: due_counts(missed=1, open_not_due=1)}
    assert only_other["due_dates"]["total"] == due_counts(missed=1, open_not_due=1)

    # once every due date has passed: the open complaint is missed, the ticket whose clock
    # stopped before its due date is still not due
    later = max(dt.datetime.fromisoformat(t["due_at"]) for t in (complaint_open, paused_in_time))
    with session_factory() as session:
        figures = reporting.tickets(
            session, TicketReportPeriod(since=since, until=until), later + DAY
        )
    assert figures.due_dates.by_queue[mine].model_dump() == due_counts(
        met=1, missed=2, open_not_due=1
    )
    assert figures.due_dates.by_queue[other].model_dump() == due_counts(missed=2)


def test_first_response_and_resolution_times(
    client: TestClient, tokens: dict[str, Any], make_ticket: Any
) -> None:
    since, until = around_now()
    first, second, silent, untouched = (make_ticket() for _ in range(4))
    act(client, tokens, first["number"], "claim")
    reply(client, tokens, first["number"], "internal")  # a note is not a reply
    reply(client, tokens, first["number"], "customer")
    reply(client, tokens, first["number"], "customer")
    act(client, tokens, second["number"], "claim")
    reply(client, tokens, second["number"], "customer")
    resolved = [resolve(client, tokens, second["number"])]
    act(client, tokens, silent["number"], "claim")
    resolved.append(resolve(client, tokens, silent["number"]))

    def seconds(start: str, end: str) -> float:
        return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()

    def first_reply(ticket: dict[str, Any]) -> float:
        history = client.get(f"/v1/tickets/{ticket['number']}/events", headers=tokens["agent"])
        replies = [
            e["created_at"]
            for e in history.json()
            if e["kind"] == "comment" and e["data"]["visibility"] == "customer"
        ]
        return seconds(ticket["created_at"], replies[0])

    response_times = [first_reply(first), first_reply(second)]
    resolution_times = [seconds(t["created_at"], t["resolved_at"]) for t in resolved]
    body = report(client, tokens, "tickets", since, until)
    assert body["tickets"] == 4
    assert body["first_response"] == {
        "tickets": 2,
        "without_reply": 2,  # silent (resolved without a reply) and untouched
        "median_seconds": pytest.approx(statistics.median(response_times)),
        "p90_seconds": pytest.approx(
            statistics.quantiles(response_times, n=10, method="inclusive")[-1]
        ),
    }
    assert body["resolution"] == {
        "tickets": 2,
        "median_seconds": pytest.approx(statistics.median(resolution_times)),
        "p90_seconds": pytest.approx(
            statistics.quantiles(resolution_times, n=10, method="inclusive")[-1]
        ),
    }
    assert untouched["number"]  # open, no reply: counted in tickets and without_reply only


@pytest.mark.parametrize(
    "values", [[5.0], [3.0, 1.0], [1.0, 2.0, 3.0, 4.0], [7.5, 0.5, 2.25, 9.0, 4.0, 4.0, 11.0]]
)
def test_percentiles_interpolate_between_the_closest_ranks(values: list[float]) -> None:
    assert reporting.percentile(values, 0.5) == pytest.approx(statistics.median(values))
    expected_p90 = (
        values[0]
        if len(values) == 1
        else statistics.quantiles(values, n=10, method="inclusive")[-1]
    )
    assert reporting.percentile(values, 0.9) == pytest.approx(expected_p90)
    assert reporting.percentile([], 0.5) is None


def test_satisfaction_and_reopen_rate(
    client: TestClient, tokens: dict[str, Any], make_ticket: Any, session_factory: Any
) -> None:
    since, until = around_now()

    def rate(number: str, rating: int) -> None:
        key = access_key(session_factory, number)
        response = client.post(
            f"/t/{key}/rating", data={"rating": str(rating)}, follow_redirects=False
        )
        assert response.status_code == 303, response.text

    happy, unhappy, quiet, back, never = (make_ticket() for _ in range(5))
    for ticket in (happy, unhappy, quiet, back):
        act(client, tokens, ticket["number"], "claim")
        resolve(client, tokens, ticket["number"])
    rate(happy["number"], 4)
    rate(happy["number"], 5)  # rated again: the latest counts
    rate(unhappy["number"], 2)
    act(client, tokens, unhappy["number"], "reopen", reason="Sigue sin funcionar")  # agent
    key = access_key(session_factory, back["number"])
    reopened = client.post(
        f"/t/{key}/reopen", data={"reason": "No ha llegado"}, follow_redirects=False
    )
    assert reopened.status_code == 303  # by the customer, then resolved again
    resolve(client, tokens, back["number"])
    assert never["status"] == "new"
    # created two days ago (by hand): another period's ticket
    outside = make_ticket()
    act(client, tokens, outside["number"], "claim")
    resolve(client, tokens, outside["number"])
    rate(outside["number"], 1)
    with session_factory() as session:
        session.execute(
            update(Ticket)
            .where(Ticket.number == outside["number"])
            .values(created_at=dt.datetime.fromisoformat(outside["created_at"]) - 2 * DAY)
        )
        session.commit()

    body = report(client, tokens, "tickets", since, until)
    assert body["tickets"] == 5
    # resolved at least once: happy, unhappy (reopened, open now), quiet, back
    assert body["satisfaction"] == {
        "average": (5 + 2) / 2,
        "response_rate": {"numerator": 2, "denominator": 4, "rate": 0.5},
        "by_rating": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1},  # the latest of each ticket
    }
    assert body["reopen_rate"] == {"numerator": 2, "denominator": 4, "rate": 0.5}
    assert body["resolution"]["tickets"] == 3  # unhappy is open again


def test_the_language_and_queue_filters_of_ticket_figures(
    client: TestClient, tokens: dict[str, Any], make_ticket: Any
) -> None:
    since, until = around_now()
    spanish = make_ticket()
    english = make_ticket(language="en")
    complaint = make_ticket(reason="complaint")
    assert report(client, tokens, "tickets", since, until)["tickets"] == 3
    assert report(client, tokens, "tickets", since, until, language="en")["tickets"] == 1
    in_queue = report(client, tokens, "tickets", since, until, queue=spanish["queue"])
    expected = sum(t["queue"] == spanish["queue"] for t in (spanish, english, complaint))
    assert in_queue["tickets"] == expected
    assert set(in_queue["due_dates"]["by_queue"]) == {spanish["queue"]}
    assert in_queue["period"]["queue"] == spanish["queue"]
