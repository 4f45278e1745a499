"""The sensitive-topic classifier on its held-out test set, and the bot's answer to card or ID
numbers typed in the chat (real actions on the fixture KB, as tests/bot/test_actions.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from actions.actions import ActionFeedbackYes, ActionSearchKb
from actions.sensitive import (
    CLASSIFIER,
    DATA_PATH,
    SENSITIVE,
    SensitiveClassifier,
    contains_personal_data,
    is_sensitive,
    load_examples,
)

from tests.bot.helpers import Conversation, responses

TEST_PATH = Path(__file__).resolve().parent / "data" / "sensitive_test.csv"
LANGUAGES = ("en", "es")
# Floors below the figures measured on TEST_PATH (en: precision 0.96, recall 0.96;
# es: precision 1.00, recall 0.92).
MIN_PRECISION = 0.95
MIN_RECALL = 0.90
CARD_EN = "I was charged twice, my card is 4111 1111 1111 1111"
CARD_ES = "me cobraron dos veces, mi tarjeta es 4111 1111 1111 1111"


def test_the_test_set_is_held_out_and_covers_both_labels_in_both_languages() -> None:
    train = {e.text.casefold() for e in load_examples(DATA_PATH)}
    test = load_examples(TEST_PATH)
    assert not [e.text for e in test if e.text.casefold() in train]
    for language in LANGUAGES:
        labels = [e.label for e in test if e.language == language]
        assert len(labels) >= 60
        assert labels.count(SENSITIVE) >= 20
        assert len(labels) - labels.count(SENSITIVE) >= 20


@pytest.mark.parametrize("language", LANGUAGES)
def test_precision_and_recall_on_the_held_out_set(language: str) -> None:
    examples = [e for e in load_examples(TEST_PATH) if e.language == language]
    predicted = [is_sensitive(e.text) for e in examples]
    truth = [e.label == SENSITIVE for e in examples]
    true_positives = sum(p and t for p, t in zip(predicted, truth, strict=True))
    precision = true_positives / sum(predicted)
    recall = true_positives / sum(truth)
    assert precision >= MIN_PRECISION, (language, precision)
    assert recall >= MIN_RECALL, (language, recall)


@pytest.mark.parametrize(
    "text",
    [
        "me cobraron dos veces",
        "me hicieron un cargo doble",
        CARD_ES,
        "you charged me twice for the same order",
        "someone hacked my account",
        "no reconozco un cargo en mi tarjeta",
    ],
)
def test_billing_disputes_and_account_security_are_sensitive(text: str) -> None:
    assert is_sensitive(text)


@pytest.mark.parametrize(
    "text",
    [
        "forgot my password",
        "olvidé mi contraseña",
        "how do refunds to my card work",
        "¿cómo funcionan los reembolsos a la tarjeta?",
        "",
        None,
    ],
)
def test_knowledge_base_questions_are_not_sensitive(text: str | None) -> None:
    assert not is_sensitive(text)


def test_training_is_deterministic() -> None:
    texts = [e.text for e in load_examples(TEST_PATH)]
    retrained = SensitiveClassifier.train(load_examples(DATA_PATH))
    assert retrained.probabilities(texts) == CLASSIFIER.probabilities(texts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my card is 4111-1111-1111-1111", True),
        ("mi DNI es 12345678Z", True),
        ("IBAN ES91 2100 0418 4502 0005 1332", True),
        ("order 1000234 has not arrived", False),  # not a valid card number
        ("call me on 612 345 678", False),
        # as the action server receives them: Rasa's chat channel has redacted the message
        ("mi tarjeta es [card ****1111]", True),
        ("el código es [CVV] y mi documento [national ID]", True),
        ("escríbeme a [email] o llama al [phone]", False),
        ("el precio es [oferta ****1234]", False),
    ],
)
def test_personal_data_is_what_the_handoff_service_redacts(text: str, expected: bool) -> None:
    assert contains_personal_data(text) is expected


def starts_sensitive_handoff(events: list[dict[str, Any]]) -> bool:
    followup = any(e["event"] == "followup" and e["name"] == "handoff_form" for e in events)
    return followup and any(
        e["event"] == "slot" and e["name"] == "handoff_reason" and e["value"] == "sensitive_data"
        for e in events
    )


@pytest.mark.usefixtures("knowledge_base")
@pytest.mark.parametrize(("language", "text"), [("en", CARD_EN), ("es", CARD_ES)])
def test_a_card_number_gets_a_warning_and_the_sensitive_handoff(language: str, text: str) -> None:
    conversation = Conversation(language)
    messages, events = conversation.run(ActionSearchKb(), text)
    assert responses(messages) == ["utter_personal_data_warning", "utter_handoff_sensitive"]
    assert starts_sensitive_handoff(events)
    # the number is not kept in the conversation's slots
    assert "4111" not in conversation.slots["last_question"]
    assert "[card ****1111]" in conversation.slots["last_question"]


@pytest.mark.usefixtures("knowledge_base")
def test_a_card_number_the_chat_channel_redacted_still_gets_the_sensitive_handoff() -> None:
    conversation = Conversation("es")
    messages, events = conversation.run(ActionSearchKb(), "mi tarjeta es [card ****1111]")
    assert responses(messages) == ["utter_personal_data_warning", "utter_handoff_sensitive"]
    assert starts_sensitive_handoff(events)


@pytest.mark.usefixtures("knowledge_base")
def test_an_id_number_is_warned_about_even_when_the_message_is_not_a_question() -> None:
    # a "yes" with no feedback question open is searched as a non-question (answer_question)
    conversation = Conversation("es")
    messages, events = conversation.run(ActionFeedbackYes(), "sí, 12345678Z", intent="affirm")
    assert responses(messages) == ["utter_personal_data_warning", "utter_handoff_sensitive"]
    assert starts_sensitive_handoff(events)


@pytest.mark.usefixtures("knowledge_base")
def test_a_disputed_charge_goes_to_a_person_without_the_warning() -> None:
    conversation = Conversation("es")
    messages, events = conversation.run(ActionSearchKb(), "me cobraron dos veces")
    assert responses(messages) == ["utter_handoff_sensitive"]
    assert starts_sensitive_handoff(events)
