"""The conversations behind a figure (GET /v1/reports/conversations[/{id}], on SQLite and
PostgreSQL): for any filter an outcome, a reason, an article and a feedback make, the list's
total is the figure of the outcomes or articles report for the same period.

The conversations are a seeded random event stream posted through POST /v1/events as the bot
posts them (helpers of tests/handoff/test_reporting.py), in shuffled order; tickets are made
by real handoffs.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from handoff_service.models import ConversationEvent, ConversationSummary, UnansweredQuestion
from handoff_service.unanswered import text_hash
from handoff_service.vocabulary import Feedback, HandoffReason, Outcome
from tests.handoff.test_reporting import DAY, EVENTS, HOUR, T0, Chat, post, report

LIST = "/v1/reports/conversations"
ARTICLES = {
    "es": ["returns-how-to-es", "refund-timeline-es", "warranty-claim-es"],
    "en": ["returns-how-to-en", "warranty-claim-en"],
}
#: The period of the figures: the stream runs a day before it and two days after it.
SINCE, UNTIL = T0, T0 + 4 * DAY


@pytest.fixture(autouse=True)
def empty(client: TestClient, session_factory: Any) -> None:
    """The client fixture empties the ticket tables; these tests own events and questions."""
    with session_factory() as session:
        for model in (ConversationEvent, ConversationSummary, UnansweredQuestion):
            session.execute(delete(model))
        session.commit()


def random_chat(rng: random.Random, sender: str, start: dt.datetime, started: bool) -> Chat:
    """A conversation of random steps: articles shown (some from the clarify buttons), yes and
    no (some changed later), fallbacks, handoffs."""
    chat = Chat(sender, start, language=rng.choice(["es", "es", "en"]), started=started)
    articles = ARTICLES[chat.language]
    shown: list[str] = []
    for _ in range(rng.randint(0, 5)):
        step = rng.random()
        if step < 0.35:
            shown.append(rng.choice(articles))
            chat.shown(shown[-1])
        elif step < 0.6 and shown:
            chat.feedback(rng.choice(shown), rng.random() < 0.5)
        elif step < 0.7:
            shown.append(rng.choice(articles))
            chat.add("clarify_shown").add("clarify_picked", article_id=shown[-1]).shown(shown[-1])
        elif step < 0.85:
            chat.add("fallback")
        else:
            chat.handoff(rng.choice(list(HandoffReason)).value)
        chat.wait(dt.timedelta(minutes=rng.randint(0, 20)))
    return chat


@pytest.fixture
def stream(client: TestClient, tokens: dict[str, Any], make_ticket: Any) -> list[Chat]:
    """120 conversations of 30 customers (so some come back on the same article), from a day
    before the period to two days after it; a few without a conversation_started event, a few
    handed over by a ticket only; posted shuffled, in batches."""
    rng = random.Random(12)
    chats = [
        random_chat(
            rng,
            f"web-{rng.randrange(30)}",
            SINCE - DAY + dt.timedelta(minutes=rng.randrange(7 * 24 * 60)),
            started=rng.random() < 0.9,
        )
        for _ in range(120)
    ]
    chats = list({chat.conversation_id: chat for chat in chats}.values())
    events = [event for chat in chats for event in chat.events]
    rng.shuffle(events)
    for first in range(0, len(events), 400):
        batch = {"events": events[first : first + 400]}
        response = client.post(EVENTS, json=batch, headers=tokens["bot"])
        assert response.status_code == 200, response.text
    without_handoff = [c for c in chats if not any(e["kind"] == "handoff" for e in c.events)]
    for chat in without_handoff[:6]:
        make_ticket(conversation_id=chat.conversation_id, reason="sensitive_data")
    # the invariants are checked on every outcome and reason
    figures = report(client, tokens, "outcomes", SINCE, UNTIL)
    assert figures["conversations"] > 50
    assert all(figures["outcomes"][o.value]["conversations"] for o in Outcome)
    assert all(figures["outcomes"]["handed_over"]["by_reason"].values())
    return chats


def listed(client: TestClient, tokens: dict[str, Any], **params: Any) -> dict[str, Any]:
    query = {"since": SINCE.isoformat(), "until": UNTIL.isoformat(), "limit": 10_000} | params
    response = client.get(LIST, params=query, headers=tokens["admin"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["rows"]) == max(0, min(body["total"] - query.get("offset", 0), query["limit"]))
    return body


@pytest.mark.parametrize("language", [None, "es", "en"])
def test_for_every_outcome_and_reason_the_total_is_the_outcomes_report_count(
    client: TestClient, tokens: dict[str, Any], stream: list[Chat], language: str | None
) -> None:
    given = {"language": language} if language else {}
    figures = report(client, tokens, "outcomes", SINCE, UNTIL, **given)
    everything = listed(client, tokens, **given)
    assert everything["total"] == figures["conversations"]
    # each row carries its outcome: counted, they are the report's counts
    per_row = Counter(row["outcome"] for row in everything["rows"])
    assert per_row == Counter({o: n["conversations"] for o, n in figures["outcomes"].items() if n})
    seen: set[str] = set()
    for outcome in Outcome:
        body = listed(client, tokens, outcome=outcome.value, **given)
        assert body["total"] == figures["outcomes"][outcome.value]["conversations"], outcome
        assert {row["outcome"] for row in body["rows"]} <= {outcome.value}
        ids = {row["conversation_id"] for row in body["rows"]}
        assert not ids & seen, "a conversation has one outcome"
        seen |= ids
    assert seen == {row["conversation_id"] for row in everything["rows"]}
    by_reason = figures["outcomes"]["handed_over"]["by_reason"]
    for reason in HandoffReason:
        body = listed(client, tokens, outcome="handed_over", reason=reason.value, **given)
        assert body["total"] == by_reason[reason.value], reason
        assert {row["reason"] for row in body["rows"]} <= {reason.value}
        # the reason alone selects the same conversations: only handed-over ones have one
        assert listed(client, tokens, reason=reason.value, **given)["total"] == body["total"]


#: The articles report's count of each feedback filter.
REPORT_FIELDS = {
    Feedback.HELPFUL: "helpful",
    Feedback.NOT_HELPFUL: "not_helpful",
    Feedback.NONE: "no_feedback",
}


def test_for_every_article_and_feedback_the_total_is_the_articles_report_count(
    client: TestClient, tokens: dict[str, Any], stream: list[Chat]
) -> None:
    figures = report(client, tokens, "articles", SINCE, UNTIL)
    assert {a["article_id"] for a in figures["articles"]} == {
        article for articles in ARTICLES.values() for article in articles
    }
    for article in figures["articles"]:
        article_id = article["article_id"]
        shown = listed(client, tokens, article_id=article_id)
        assert shown["total"] == article["shown"], article_id
        assert all(article_id in row["articles"] for row in shown["rows"])
        parts = set()
        for answer in Feedback:
            body = listed(client, tokens, article_id=article_id, feedback=answer.value)
            assert body["total"] == article[REPORT_FIELDS[answer]], (article_id, answer)
            parts |= {row["conversation_id"] for row in body["rows"]}
        assert parts == {row["conversation_id"] for row in shown["rows"]}
    assert sum(a["not_helpful"] for a in figures["articles"]) > 0
    assert sum(a["helpful"] for a in figures["articles"]) > 0


def test_pages_are_newest_first_and_hold_each_conversation_once(
    client: TestClient, tokens: dict[str, Any], stream: list[Chat]
) -> None:
    everything = listed(client, tokens)["rows"]
    pages, offset = [], 0
    while True:
        body = listed(client, tokens, offset=offset, limit=7)
        assert body["total"] == len(everything)
        if not body["rows"]:
            break
        pages += body["rows"]
        offset += 7
    assert pages == everything
    assert len({row["conversation_id"] for row in pages}) == len(pages)
    starts = [dt.datetime.fromisoformat(row["started_at"]) for row in pages]
    assert starts == sorted(starts, reverse=True)
    assert all(SINCE <= start < UNTIL for start in starts)


def test_the_question_filter_takes_several_questions(
    client: TestClient, tokens: dict[str, Any], stream: list[Chat]
) -> None:
    in_period = [c for c in stream if c.started and SINCE <= c.start < UNTIL]
    asked = {"¿Puedo pagar con Bizum?": in_period[:3], "Mi factura no llega": in_period[2:5]}
    for text, chats in asked.items():
        for chat in chats:
            body = {"conversation_id": chat.conversation_id, "language": chat.language}
            response = client.post(
                "/v1/unanswered",
                json={**body, "reason": "fallback", "text": text, "occurred_at": T0.isoformat()},
                headers=tokens["bot"],
            )
            assert response.status_code == 201, response.text
    hashes = [text_hash(text) for text in asked]
    for text, chats in asked.items():
        body = listed(client, tokens, question=text_hash(text))
        assert {row["conversation_id"] for row in body["rows"]} == {
            c.conversation_id for c in chats
        }
    both = listed(client, tokens, question=hashes)
    expected = {c.conversation_id for chats in asked.values() for c in chats}
    assert {row["conversation_id"] for row in both["rows"]} == expected
    assert both["total"] == len(expected) == 5


def test_one_conversation_with_its_events_in_order(
    client: TestClient, tokens: dict[str, Any], make_ticket: Any
) -> None:
    a, b = "returns-how-to-es", "refund-timeline-es"
    chat = (
        Chat("web-detail", T0 + HOUR)
        .shown(a)
        .feedback(a, False)
        .shown(b)
        .handoff("negative_feedback")
    )
    chat.events.reverse()  # delivered in the wrong order
    post(client, tokens, chat)
    ticket = make_ticket(conversation_id=chat.conversation_id)
    question = {"conversation_id": chat.conversation_id, "language": "es", "text": "¿Y el envío?"}
    for reason, minutes in (("negative_feedback", 2), ("handoff", 4)):
        at = T0 + HOUR + dt.timedelta(minutes=minutes)
        response = client.post(
            "/v1/unanswered",
            json={**question, "reason": reason, "occurred_at": at.isoformat()},
            headers=tokens["bot"],
        )
        assert response.status_code == 201, response.text

    response = client.get(f"{LIST}/{chat.conversation_id}", headers=tokens["admin"])
    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["outcome"] == "handed_over"
    assert detail["reason"] == "negative_feedback"
    assert detail["ticket"] == ticket["number"]
    assert detail["language"] == "es"
    assert dt.datetime.fromisoformat(detail["started_at"]) == T0 + HOUR
    kinds = [event["kind"] for event in detail["events"]]
    assert kinds == [
        "conversation_started",
        "article_shown",
        "feedback",
        "article_shown",
        "handoff",
    ]
    assert [e["article_id"] for e in detail["events"]] == [None, a, a, b, None]
    assert detail["events"][2]["helpful"] is False
    assert [q["reason"] for q in detail["unanswered"]] == ["negative_feedback", "handoff"]
    assert detail["summary"]["conversation_id"] == chat.conversation_id
    assert detail["summary"]["sender"] == "web-detail"
    # the list's row for it agrees
    row = listed(client, tokens)["rows"][0]
    assert row == {
        "conversation_id": chat.conversation_id,
        "language": "es",
        "started_at": detail["started_at"],
        "outcome": "handed_over",
        "reason": "negative_feedback",
        "articles": [a, b],
        "ticket": ticket["number"],
    }

    unknown = client.get(f"{LIST}/web-nobody:1", headers=tokens["admin"])
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "conversation web-nobody:1 not found"}


def test_the_conversations_are_for_admins_only(client: TestClient, tokens: dict[str, Any]) -> None:
    params = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
    for url in (LIST, f"{LIST}/web-1:1"):
        assert client.get(url, params=params, headers=tokens["agent"]).status_code == 403
        assert client.get(url, params=params, headers=tokens["bot"]).status_code == 403
        assert client.get(url, params=params).status_code == 401
    assert client.get(LIST, params=params, headers=tokens["admin"]).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"feedback": "helpful"},  # feedback on which article?
        {"article_id": "Not An Id"},
        {"question": "not-a-hash"},
        {"outcome": "lost"},
        {"reason": "boredom"},
        {"limit": 0},
        {"limit": 10_001},
        {"offset": -1},
        {"until": SINCE.isoformat()},
        {"since": "2026-03-02T09:00:00"},  # no offset
    ],
)
def test_a_filter_that_cannot_be_is_a_422(
    client: TestClient, tokens: dict[str, Any], params: dict[str, Any]
) -> None:
    query = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()} | params
    response = client.get(LIST, params=query, headers=tokens["admin"])
    assert response.status_code == 422, response.text
