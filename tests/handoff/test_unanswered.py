"""Unanswered questions: the bot records them (idempotently, redacted), agents list them,
admins read them clustered into topics."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import adjusted_rand_score
from sqlalchemy import delete, func, select

from handoff_service.models import UnansweredQuestion
from handoff_service.schemas import UnansweredIn
from handoff_service.unanswered import record, text_hash
from scripts.generate_month import UNANSWERED

URL = "/v1/unanswered"


@pytest.fixture(autouse=True)
def empty(client: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        session.execute(delete(UnansweredQuestion))
        session.commit()


def question(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "conversation_id": "conv-1",
        "language": "en",
        "reason": "fallback",
        "text": "can I pay with a gift card?",
    }
    payload.update(overrides)
    return payload


def rows(session_factory) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(UnansweredQuestion)) or 0


def test_a_question_is_stored_and_returned(client: TestClient, tokens) -> None:
    before = dt.datetime.now(dt.UTC)
    response = client.post(URL, json=question(), headers=tokens["bot"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "conversation_id", "language", "reason", "text", "occurred_at"}
    assert (body["conversation_id"], body["language"], body["reason"], body["text"]) == (
        "conv-1",
        "en",
        "fallback",
        "can I pay with a gift card?",
    )
    occurred = dt.datetime.fromisoformat(body["occurred_at"])
    assert before - dt.timedelta(seconds=1) <= occurred <= dt.datetime.now(dt.UTC)


def test_the_given_time_is_kept_in_utc(client: TestClient, tokens) -> None:
    madrid = "2026-11-20T10:30:00+01:00"
    response = client.post(URL, json=question(occurred_at=madrid), headers=tokens["bot"])
    assert response.status_code == 201, response.text
    assert dt.datetime.fromisoformat(response.json()["occurred_at"]) == dt.datetime(
        2026, 11, 20, 9, 30, tzinfo=dt.UTC
    )


def test_card_numbers_and_ids_are_redacted_before_storage(
    client: TestClient, tokens, session_factory
) -> None:
    text = "pagué con la tarjeta 4111 1111 1111 1111 y mi DNI es 12345678Z"
    response = client.post(URL, json=question(text=text, language="es"), headers=tokens["bot"])
    assert response.status_code == 201, response.text
    expected = "pagué con la tarjeta [card ****1111] y mi DNI es [national ID]"
    assert response.json()["text"] == expected
    with session_factory() as session:
        assert session.scalars(select(UnansweredQuestion.text)).all() == [expected]


def test_a_retried_delivery_is_stored_once(client: TestClient, tokens, session_factory) -> None:
    first = client.post(URL, json=question(), headers=tokens["bot"])
    again = client.post(
        URL, json=question(occurred_at="2026-11-20T10:00:00Z"), headers=tokens["bot"]
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()  # the stored record, its first time included
    assert rows(session_factory) == 1


def test_the_same_text_for_another_reason_or_conversation_is_a_new_record(
    client: TestClient, tokens, session_factory
) -> None:
    for payload in (question(), question(reason="handoff"), question(conversation_id="conv-2")):
        assert client.post(URL, json=payload, headers=tokens["bot"]).status_code == 201
    assert rows(session_factory) == 3


def test_concurrent_deliveries_of_one_record_store_one_row(
    client: TestClient, tokens, session_factory
) -> None:
    def post(_: int) -> int:
        return client.post(URL, json=question(), headers=tokens["bot"]).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = sorted(pool.map(post, range(8)))
    assert codes == [200] * 7 + [201]
    assert rows(session_factory) == 1


def test_racing_recorders_in_the_service_layer_agree(client: TestClient, session_factory) -> None:
    item = UnansweredIn.model_validate(question())

    def create(_: int) -> tuple[int, bool]:
        with session_factory() as session:
            row, created = record(session, item)
            return row.id, created

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(create, range(6)))
    assert len({row_id for row_id, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 5 + [True]


@pytest.mark.parametrize(
    "overrides",
    [
        {"reason": "timeout"},
        {"language": "fr"},
        {"text": "   "},
        {"text": "x" * 4001},
        {"text": "bad \x00 byte"},
        {"conversation_id": ""},
        {"conversation_id": "c" * 129},
        {"occurred_at": "2026-11-20T10:00:00"},  # naive: which zone?
        {"extra": "field"},
    ],
)
def test_invalid_records_get_422(client: TestClient, tokens, overrides: dict[str, object]) -> None:
    response = client.post(URL, json=question(**overrides), headers=tokens["bot"])
    assert response.status_code == 422, response.text


def test_recording_needs_the_service_token(client: TestClient, tokens) -> None:
    assert client.post(URL, json=question()).status_code == 401
    assert client.post(URL, json=question(), headers=tokens["agent"]).status_code == 403


def test_listing_is_for_agents_and_admins(client: TestClient, tokens) -> None:
    assert client.post(URL, json=question(), headers=tokens["bot"]).status_code == 201
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers=tokens["bot"]).status_code == 403
    for who in ("agent", "admin"):
        response = client.get(URL, headers=tokens[who])
        assert response.status_code == 200, response.text
        assert [q["text"] for q in response.json()] == ["can I pay with a gift card?"]


def test_list_filters_and_order(client: TestClient, tokens) -> None:
    records = [
        ("c1", "en", "fallback", "where is my order", "2026-11-01T08:00:00Z"),
        ("c2", "es", "handoff", "dónde está mi pedido", "2026-11-02T08:00:00Z"),
        ("c3", "en", "negative_feedback", "that did not help", "2026-11-03T08:00:00Z"),
        ("c4", "es", "fallback", "quiero una factura", "2026-11-04T08:00:00Z"),
    ]
    for conversation_id, language, reason, text, at in records:
        payload = question(
            conversation_id=conversation_id,
            language=language,
            reason=reason,
            text=text,
            occurred_at=at,
        )
        assert client.post(URL, json=payload, headers=tokens["bot"]).status_code == 201

    def listed(**params: object) -> list[str]:
        response = client.get(URL, params=params, headers=tokens["agent"])
        assert response.status_code == 200, response.text
        return [q["conversation_id"] for q in response.json()]

    assert listed() == ["c4", "c3", "c2", "c1"]  # newest first
    assert listed(language="es") == ["c4", "c2"]
    assert listed(reason="fallback") == ["c4", "c1"]
    # since is inclusive, until exclusive
    assert listed(since="2026-11-02T08:00:00Z", until="2026-11-04T08:00:00Z") == ["c3", "c2"]
    assert listed(since="2026-11-02T09:00:00+01:00") == ["c4", "c3", "c2"]
    assert listed(limit=2) == ["c4", "c3"]
    assert listed(limit=2, offset=2) == ["c2", "c1"]
    assert listed(language="en", reason="handoff") == []


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-11-01T08:00:00"},  # naive
        {"until": "yesterday"},
        {"language": "fr"},
        {"reason": "timeout"},
        {"limit": 0},
        {"limit": 1001},
        {"offset": -1},
    ],
)
def test_bad_list_filters_get_422(client: TestClient, tokens, params: dict[str, object]) -> None:
    response = client.get(URL, params=params, headers=tokens["agent"])
    assert response.status_code == 422, response.text


# --- topics (GET /v1/reports/unanswered-topics) ------------------------------------------

TOPICS = "/v1/reports/unanswered-topics"
PERIOD = {"since": "2026-11-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"}


def ask(client: TestClient, tokens, text: str, language: str, conv: str, **fields: object) -> None:
    fields = {"occurred_at": "2026-11-10T10:00:00Z"} | fields
    payload = question(conversation_id=conv, language=language, text=text, **fields)
    assert client.post(URL, json=payload, headers=tokens["bot"]).status_code == 201


def topics(client: TestClient, tokens, **params: object) -> list[dict[str, object]]:
    response = client.get(TOPICS, params={**PERIOD, **params}, headers=tokens["admin"])
    assert response.status_code == 200, response.text
    return response.json()["topics"]


def test_the_generators_wordings_are_clustered_per_language(client: TestClient, tokens) -> None:
    """The labelled topics of scripts/generate_month.py: every wording lands in exactly one
    topic of its language, and the topics agree with the labels far better than exact text
    (adjusted Rand index 0); docs/metrics.md has the measured figures."""
    topic_of: dict[str, str] = {}
    n = 0
    for label, languages in UNANSWERED.items():
        for language, wordings in languages.items():
            for wording in wordings:
                ask(client, tokens, wording, language, f"c{n}")
                topic_of[text_hash(wording)] = label
                n += 1
    found = topics(client, tokens, limit=100)
    assert found == topics(client, tokens, limit=100)  # deterministic
    for language in ("es", "en"):
        mine = [t for t in found if t["language"] == language]
        members = [h for t in mine for h in t["text_hashes"]]
        wordings = sum(len(languages[language]) for languages in UNANSWERED.values())
        assert len(members) == len(set(members)) == wordings
        assert all(t["texts"] == len(t["text_hashes"]) == t["conversations"] for t in mine)
        truth = [topic_of[h] for h in members]
        clusters = [i for i, t in enumerate(mine) for _ in t["text_hashes"]]
        assert len(mine) < wordings
        assert adjusted_rand_score(truth, clusters) >= 0.3


def test_wordings_differing_in_accents_case_and_stop_words_are_one_topic(
    client: TestClient, tokens
) -> None:
    for n, text in enumerate(["¿Tenéis tienda física en Madrid?", "tienen tienda fisica?"]):
        ask(client, tokens, text, "es", f"s{n}")
    ask(client, tokens, "¿Cuál es el horario de atención?", "es", "h1")
    (stores, hours) = topics(client, tokens)
    assert stores["texts"] == 2 and stores["conversations"] == 2
    assert "tienda" in stores["terms"]
    assert hours["texts"] == 1 and hours["label"] == "¿Cuál es el horario de atención?"


def test_topic_volume_counts_conversations_not_records(client: TestClient, tokens) -> None:
    gift = "how do i redeem a gift card"
    ask(client, tokens, gift, "en", "c1")
    ask(client, tokens, gift, "en", "c1", reason="handoff")  # same conversation, two records
    ask(client, tokens, "redeem my gift card", "en", "c1")  # another wording, same conversation
    ask(client, tokens, gift, "en", "c2")
    ask(client, tokens, "¿Puedo pagar con Bizum?", "es", "c3")
    ask(client, tokens, "too late", "en", "c4", occurred_at="2026-12-01T00:00:00Z")
    (card, bizum) = topics(client, tokens)
    assert (card["language"], card["conversations"], card["texts"]) == ("en", 2, 2)
    assert card["label"] == gift  # the most asked wording is the most central
    assert card["examples"] == ["redeem my gift card"]
    assert card["text_hashes"] == [text_hash(gift), text_hash("redeem my gift card")]
    assert (bizum["language"], bizum["conversations"]) == ("es", 1)
    assert [t["label"] for t in topics(client, tokens, language="es")] == [bizum["label"]]
    assert [t["label"] for t in topics(client, tokens, limit=1)] == [gift]


def test_topics_are_for_admins(client: TestClient, tokens) -> None:
    assert client.get(TOPICS, params=PERIOD).status_code == 401
    for who in ("agent", "bot"):
        assert client.get(TOPICS, params=PERIOD, headers=tokens[who]).status_code == 403
    bad = client.get(TOPICS, params={**PERIOD, "until": PERIOD["since"]}, headers=tokens["admin"])
    assert bad.status_code == 422
