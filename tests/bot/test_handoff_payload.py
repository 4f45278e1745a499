"""The handoff body built from a rasa_sdk Tracker is what the service's own schema accepts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from actions.handoff_payload import MissingContact, build_handoff_payload, conversation_id
from actions.settings import ActionSettings
from rasa_sdk import Tracker

from handoff_service.schemas import HandoffIn
from handoff_service.settings import Settings

T0 = 1_764_000_000.0  # 2025-11-24 16:00 UTC


def user(text: str, t: float, intent: str = "ask_question", **extra: Any) -> dict[str, Any]:
    ranking = [{"name": intent, "confidence": 0.91}, {"name": "complain", "confidence": 0.05}]
    return {
        "event": "user",
        "timestamp": t,
        "text": text,
        "input_channel": extra.pop("channel", "rest"),
        "parse_data": {"text": text, "intent": ranking[0], "intent_ranking": ranking},
        **extra,
    }


def bot(text: str | None, t: float, buttons: list[dict[str, str]] | None = None) -> dict:
    return {"event": "bot", "timestamp": t, "text": text, "data": {"buttons": buttons or []}}


def tracker(events: list[dict[str, Any]], sender: str = "web-5f2c", **slots: Any) -> Tracker:
    latest = next(e["parse_data"] for e in reversed(events) if e["event"] == "user")
    base = {
        "language": "es",
        "email": "lucia@example.com",
        "customer_name": "Lucía Pérez",
        "order_number": "VT-88123",
    }
    return Tracker(sender, {**base, **slots}, latest, events, False, None, {}, "action_listen")


YES_NO = [{"title": "Sí", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
ARTICLES = [
    {
        "article_id": "refund-timeline-es",
        "title": "¿Cuánto tarda un reembolso?",
        "url": "https://help.example.test/es/refund-timeline",
        "score": 0.71,
        "question": "cuánto tarda el reembolso",
        "feedback": "not_helpful",
    },
    {
        "article_id": "refund-method-es",
        "title": "¿Dónde recibo el reembolso?",
        "url": "https://help.example.test/es/refund-method",
        "score": 0.52,
        "question": "cuánto tarda el reembolso",
        "feedback": None,
    },
]


def conversation() -> list[dict[str, Any]]:
    return [
        {"event": "action", "timestamp": T0 - 100, "name": "action_session_start"},
        {"event": "session_started", "timestamp": T0 - 99},
        user("hola, cuánto tarda el reembolso", T0),
        {"event": "slot", "timestamp": T0 + 1, "name": "language", "value": "es"},
        bot("¿Cuánto tarda un reembolso?\nRevisamos la devolución...", T0 + 2),
        bot("¿Se ha resuelto tu duda?", T0 + 3, YES_NO),
        user("/deny", T0 + 10, intent="deny"),
        bot("Lo siento. Quizá este otro artículo te ayude:", T0 + 11),
        user("quiero hablar con una persona", T0 + 20, intent="request_human"),
    ]


def test_payload_from_a_conversation_is_valid_for_the_service() -> None:
    payload = build_handoff_payload(
        tracker(conversation(), kb_articles=ARTICLES), "not_solved", "Reembolso no llega"
    )
    handoff = HandoffIn.model_validate(payload)

    assert handoff.conversation_id == f"web-5f2c:{int(T0 - 99)}"
    assert handoff.language == "es"
    assert handoff.channel == "web"
    assert handoff.reason == "negative_feedback"
    assert handoff.summary == "Reembolso no llega"
    assert handoff.customer.model_dump() == {
        "name": "Lucía Pérez",
        "email": "lucia@example.com",
        "phone": None,
        "order_number": "VT-88123",
    }
    assert [(m.role, m.text) for m in handoff.transcript] == [
        ("customer", "hola, cuánto tarda el reembolso"),
        ("bot", "¿Cuánto tarda un reembolso?\nRevisamos la devolución..."),
        ("bot", "¿Se ha resuelto tu duda?"),
        ("customer", "No"),  # the button's title, not its payload
        ("bot", "Lo siento. Quizá este otro artículo te ayude:"),
        ("customer", "quiero hablar con una persona"),
    ]
    assert handoff.transcript[0].timestamp is not None
    assert handoff.transcript[0].timestamp.timestamp() == T0
    assert [(i.name, i.confidence) for i in handoff.intent_ranking] == [
        ("request_human", 0.91),
        ("complain", 0.05),
    ]
    assert [(a.article_id, a.title, a.feedback) for a in handoff.kb_articles] == [
        ("refund-timeline-es", "¿Cuánto tarda un reembolso?", "not_helpful"),
        ("refund-method-es", "¿Dónde recibo el reembolso?", "none"),
    ]


def test_articles_argument_overrides_the_slot() -> None:
    updated = [{**ARTICLES[0], "feedback": "helpful"}]
    payload = build_handoff_payload(
        tracker(conversation(), kb_articles=ARTICLES), "customer_request", articles=updated
    )
    assert payload["kb_articles"] == [
        {
            "article_id": "refund-timeline-es",
            "title": "¿Cuánto tarda un reembolso?",
            "feedback": "helpful",
        }
    ]
    assert "summary" not in payload
    HandoffIn.model_validate(payload)


def test_only_the_current_session_is_handed_off() -> None:
    events = [
        {"event": "session_started", "timestamp": T0 - 5000},
        user("old question from yesterday", T0 - 4000),
        bot("old answer", T0 - 3999),
        *conversation(),
    ]
    payload = build_handoff_payload(tracker(events), "customer_request")
    texts = [m["text"] for m in payload["transcript"]]
    assert "old question from yesterday" not in texts
    assert texts[0] == "hola, cuánto tarda el reembolso"
    # a new session is a new conversation: another idempotency key than yesterday's
    assert payload["conversation_id"] == f"web-5f2c:{int(T0 - 99)}"
    HandoffIn.model_validate(payload)


@pytest.mark.parametrize(
    ("input_channel", "expected"),
    [("rest", "web"), ("socketio", "web"), (None, "web"), ("whatsapp", "whatsapp"),
     ("telegram", "social"), ("twilio_voice", "phone")],
)  # fmt: skip
def test_channel_comes_from_the_latest_input_channel(input_channel: str | None, expected: str):
    events = [user("I want to talk to a person", T0, "request_human", channel=input_channel)]
    payload = build_handoff_payload(tracker(events, language="en"), "customer_request")
    assert HandoffIn.model_validate(payload).channel == expected


def test_texts_the_service_would_refuse_are_made_valid() -> None:
    long_text = "a" * 5000
    events = [
        user("card \x00 problem\x1b", T0),
        bot(None, T0 + 1, YES_NO),  # buttons only: nothing to show
        user(long_text, T0 + 2),
        *[user(f"message {i}", T0 + 3 + i) for i in range(310)],
    ]
    many_articles = [{**ARTICLES[0], "article_id": f"article-{i}"} for i in range(25)]
    payload = build_handoff_payload(
        tracker(events, sender="odd sender/ñ" * 20, kb_articles=many_articles, phone="bad"),
        "complaint",
        description="x" * 900,
    )
    handoff = HandoffIn.model_validate(payload)
    assert len(handoff.transcript) == 300
    assert handoff.transcript[-1].text == "message 309"
    assert len(handoff.kb_articles) == 20
    assert handoff.kb_articles[-1].article_id == "article-24"
    assert len(handoff.summary or "") == 500
    assert handoff.customer.phone is None  # invalid phone dropped, the e-mail is enough
    assert handoff.conversation_id.startswith("sha256-")
    short = build_handoff_payload(tracker(events[:3]), "complaint")
    assert short["transcript"][0]["text"] == "card   problem"
    assert len(short["transcript"][1]["text"]) == 4000


def test_phone_alone_is_enough_and_no_contact_is_a_clear_error() -> None:
    events = conversation()
    payload = build_handoff_payload(
        tracker(events, email=None, phone="+34 600 123 456"), "complaint"
    )
    assert HandoffIn.model_validate(payload).customer.phone == "+34 600 123 456"
    with pytest.raises(MissingContact, match="e-mail or phone"):
        build_handoff_payload(tracker(events, email="not-an-email"), "complaint")


def test_unknown_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown handoff reason"):
        build_handoff_payload(tracker(conversation()), "bored")


def test_conversation_id_without_session_event_is_the_sender_id() -> None:
    assert conversation_id(tracker([user("hi", T0)])) == "web-5f2c"


def long_chat(turns: int, chars: int) -> list[dict[str, Any]]:
    """``turns`` messages of ``chars`` characters, customer and bot in turn, numbered."""
    events: list[dict[str, Any]] = [{"event": "session_started", "timestamp": 1.0}]
    for i in range(turns):
        text = f"turn {i:03d} " + "x" * (chars - 9)
        t = 10.0 + i
        events.append(user(text, t) if i % 2 == 0 else bot(text, t))
    return events


def test_huge_transcript_fits_the_service_body_limit_with_a_marker() -> None:
    """300 turns of 4000 characters (1.2 MB) under the default limit (the service's 1 MB):
    the oldest turns are replaced by one marker, the latest ones kept whole."""
    limit = ActionSettings().handoff_max_body_bytes
    assert limit == Settings.model_fields["max_body_bytes"].default

    body = build_handoff_payload(tracker(long_chat(300, 4000)), "customer_request")

    assert len(json.dumps(body).encode()) <= limit
    HandoffIn.model_validate(body)
    marker, *kept = body["transcript"]
    left_out = 300 - len(kept)
    assert left_out > 0
    assert marker["role"] == "bot" and marker["text"].startswith(f"[{left_out} earlier messages")
    assert [m["text"][:8] for m in kept] == [f"turn {i:03d}" for i in range(left_out, 300)]
    assert kept[-2]["role"] == "customer" and len(kept[-2]["text"]) == 4000  # whole


def test_a_latest_message_too_long_alone_is_truncated(
    configure_actions: Callable[..., ActionSettings],
) -> None:
    configure_actions(handoff_max_body_bytes=4000)
    events = [*long_chat(10, 200), user("ayuda " + "y" * 3990, 100.0)]

    body = build_handoff_payload(tracker(events), "customer_request")

    assert len(json.dumps(body).encode()) <= 4000
    HandoffIn.model_validate(body)
    assert [m["role"] for m in body["transcript"]] == ["bot", "customer"]
    assert body["transcript"][0]["text"].startswith("[10 earlier messages left out")
    latest = body["transcript"][-1]["text"]
    assert latest.startswith("ayuda yyy") and latest.endswith("…") and len(latest) < 2000
