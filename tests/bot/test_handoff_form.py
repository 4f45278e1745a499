"""The handoff and ticket-status forms' validation actions, turn by turn as Rasa runs them
(tests/bot/helpers.py::Conversation.form_turn): what is asked, in which order, what is
accepted, corrections and cancel. No servers needed."""

from __future__ import annotations

import pytest
from actions.handoff_form import (
    ValidateHandoffForm,
    ValidateTicketStatusForm,
    find_email,
    is_cancel,
    parse_consent,
    parse_name,
    parse_order_number,
    parse_ticket_number,
)

from tests.bot.helpers import Conversation, responses

ORDER_ARTICLE = {
    "article_id": "order-status-en",
    "title": "Where is my order?",
    "url": "https://help.example.test/en/order-status",
    "score": 0.8,
    "question": "where is my parcel",
    "feedback": "not_helpful",
    "category": "orders",
}
ACCOUNT_ARTICLE = {**ORDER_ARTICLE, "article_id": "password-reset-en", "category": "account"}


def started(language: str = "en", **slots: object) -> tuple[Conversation, list[str], str | None]:
    conversation = Conversation(language)
    conversation.slots.update(slots)
    messages, next_slot = conversation.form_turn(ValidateHandoffForm(), None)
    return conversation, responses(messages), next_slot


def test_asks_everything_when_nothing_is_known_and_there_is_no_question() -> None:
    conversation, _, next_slot = started()
    asked = []
    answers = {
        "customer_name": "Lucía Pérez",
        "email": "lucia@example.com",
        "description": "The screen of my new TV flickers",
        "contact_consent": "/affirm",
    }
    while next_slot is not None:
        asked.append(next_slot)
        intent = "affirm" if next_slot == "contact_consent" else "inform"
        messages, next_slot = conversation.form_turn(
            ValidateHandoffForm(), answers[next_slot], intent
        )
        assert responses(messages) == []
    assert asked == ["customer_name", "email", "description", "contact_consent"]
    assert conversation.slots["customer_name"] == "Lucía Pérez"
    assert conversation.slots["email"] == "lucia@example.com"
    assert conversation.slots["description"] == "The screen of my new TV flickers"
    assert conversation.slots["contact_consent"] is True


def test_asks_only_what_is_missing() -> None:
    """Name and e-mail known, a question asked (no description needed), not about an order."""
    conversation, _, next_slot = started(
        customer_name="Ana",
        email="ana@example.com",
        last_question="I never got the reset password email",
        kb_articles=[ACCOUNT_ARTICLE],
    )
    assert next_slot == "contact_consent"
    _, next_slot = conversation.form_turn(ValidateHandoffForm(), "sí", "affirm")
    assert next_slot is None
    assert conversation.slots["contact_consent"] is True


@pytest.mark.parametrize(
    ("slots", "needed"),
    [
        ({"kb_articles": [ORDER_ARTICLE], "last_question": "where is my parcel"}, True),
        ({"kb_articles": [ACCOUNT_ARTICLE], "last_question": "password email"}, False),
        ({"last_question": "mi pedido no ha llegado"}, True),
        ({"last_question": "quiero devolver los auriculares"}, True),
        ({"last_question": "cómo cambio mi contraseña"}, False),
    ],
)
def test_order_number_only_for_order_topics(slots: dict[str, object], needed: bool) -> None:
    conversation, _, next_slot = started(customer_name="Ana", email="ana@example.com", **slots)
    assert (next_slot == "order_number") is needed
    if needed:
        _, next_slot = conversation.form_turn(ValidateHandoffForm(), "vt 123456")
        assert conversation.slots["order_number"] == "VT-123456"
        assert next_slot == "contact_consent"


def test_order_number_can_be_unknown_but_not_malformed() -> None:
    conversation, _, next_slot = started(
        customer_name="Ana", email="ana@example.com", last_question="where is my order"
    )
    assert next_slot == "order_number"
    messages, next_slot = conversation.form_turn(ValidateHandoffForm(), "ABC-12")
    assert responses(messages) == ["utter_invalid_order_number"]
    assert next_slot == "order_number"
    messages, next_slot = conversation.form_turn(ValidateHandoffForm(), "I don't have it")
    assert conversation.slots["order_number"] == ""  # known: none at hand
    assert next_slot == "contact_consent"


def test_invalid_email_is_asked_again_and_the_address_is_taken_from_a_sentence() -> None:
    conversation, _, next_slot = started("es", customer_name="Lucía")
    assert next_slot == "email"
    messages, next_slot = conversation.form_turn(ValidateHandoffForm(), "lucia arroba gmail")
    assert responses(messages) == ["utter_invalid_email"]
    assert next_slot == "email" and conversation.slots["email"] is None
    messages, next_slot = conversation.form_turn(
        ValidateHandoffForm(), "es lucia.perez+voltia@correo.example.es."
    )
    assert responses(messages) == []
    assert conversation.slots["email"] == "lucia.perez+voltia@correo.example.es"
    assert next_slot == "description"


def test_customer_corrects_the_email_while_asked_for_something_else() -> None:
    conversation, _, next_slot = started(
        customer_name="Ana", email="old@example.com", last_question="where is my order"
    )
    assert next_slot == "order_number"
    messages, next_slot = conversation.form_turn(
        ValidateHandoffForm(), "sorry, my email is ana.new@example.com"
    )
    assert responses(messages) == ["utter_email_updated"]
    assert messages[0]["email"] == "ana.new@example.com"
    assert conversation.slots["email"] == "ana.new@example.com"
    assert conversation.slots["order_number"] is None  # the sentence was not an order number
    assert next_slot == "order_number"

    messages, next_slot = conversation.form_turn(ValidateHandoffForm(), "VT-555555")
    messages, next_slot = conversation.form_turn(
        ValidateHandoffForm(), "mi pedido es VT-777777 en realidad"
    )
    assert responses(messages) == ["utter_order_number_updated"]
    assert conversation.slots["order_number"] == "VT-777777"
    assert next_slot == "contact_consent"

    messages, next_slot = conversation.form_turn(ValidateHandoffForm(), "me llamo Ana María")
    assert responses(messages) == ["utter_name_updated"]
    assert conversation.slots["customer_name"] == "Ana María"
    assert conversation.slots["contact_consent"] is None
    assert next_slot == "contact_consent"


@pytest.mark.parametrize("word", ["cancel", "Cancelar.", "olvídalo", "never mind"])
def test_cancel_ends_the_form_without_consent(word: str) -> None:
    conversation, _, next_slot = started()
    assert next_slot == "customer_name"
    _, next_slot = conversation.form_turn(ValidateHandoffForm(), word)
    assert next_slot is None
    assert conversation.slots["contact_consent"] is False
    assert conversation.slots["customer_name"] is None  # "cancel" is not taken as the name


def test_no_to_consent_ends_the_form() -> None:
    conversation, _, next_slot = started(
        customer_name="Ana", email="ana@example.com", last_question="password email"
    )
    messages, next_slot = conversation.form_turn(ValidateHandoffForm(), "maybe later?")
    assert responses(messages) == ["utter_invalid_contact_consent"]
    assert next_slot == "contact_consent"
    _, next_slot = conversation.form_turn(ValidateHandoffForm(), "/deny", "deny")
    assert next_slot is None
    assert conversation.slots["contact_consent"] is False


def test_ticket_status_form_asks_number_then_email() -> None:
    conversation = Conversation("es")
    messages, next_slot = conversation.form_turn(ValidateTicketStatusForm(), None)
    assert next_slot == "queried_ticket"
    messages, next_slot = conversation.form_turn(ValidateTicketStatusForm(), "el T-2026-12")
    assert responses(messages) == ["utter_invalid_queried_ticket"]
    messages, next_slot = conversation.form_turn(ValidateTicketStatusForm(), "t-2026-000123")
    assert conversation.slots["queried_ticket"] == "T-2026-000123"
    assert next_slot == "email"
    messages, next_slot = conversation.form_turn(ValidateTicketStatusForm(), "ana@example.com")
    assert next_slot is None and conversation.slots["email"] == "ana@example.com"


def test_ticket_status_form_uses_the_conversation_ticket_and_known_email() -> None:
    conversation = Conversation("en")
    conversation.slots.update(ticket_number="T-2026-000042", email="ana@example.com")
    _, next_slot = conversation.form_turn(ValidateTicketStatusForm(), None)
    assert next_slot is None
    assert conversation.slots["queried_ticket"] == "T-2026-000042"


def test_ticket_status_form_cancel() -> None:
    conversation = Conversation("en")
    conversation.form_turn(ValidateTicketStatusForm(), None)
    _, next_slot = conversation.form_turn(ValidateTicketStatusForm(), "cancel")
    assert next_slot is None and conversation.slots["queried_ticket"] is None


def test_parsers() -> None:
    assert find_email("write to a.b-c@mail.example.org, thanks") == "a.b-c@mail.example.org"
    assert find_email("a@b") is None and find_email("no address") is None
    assert parse_order_number("#00123456") == "VT-00123456"
    assert parse_order_number("VT-1234") is None
    assert parse_order_number("123456", prefixed_only=True) is None
    assert parse_ticket_number("¿cómo va T-2026-000123?") == "T-2026-000123"
    assert parse_name("My name is Lucía Pérez.") == "Lucía Pérez"
    assert parse_name("lucia@example.com") is None
    assert parse_name("I want to tell you a long story about my order") is None
    assert parse_consent("Sí", "nlu_fallback") is True
    assert parse_consent("whatever", "deny") is False
    assert parse_consent("hmm", None) is None
    assert is_cancel("Cancelar") and not is_cancel("cancel my order please")
