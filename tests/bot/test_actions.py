"""Custom actions against the real knowledge package, on the small fixture KB (conftest)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Any

import pytest
from actions import kb
from actions.actions import (
    ActionFeedbackNo,
    ActionFeedbackYes,
    ActionSearchKb,
    ActionShowArticle,
    ActionStartHandoff,
    candidate_by_ordinal,
    choose_payload,
)
from actions.outbox import UNANSWERED, default_outbox
from actions.settings import ActionSettings

from knowledge.articles import Article, article_id
from knowledge.reload import ReloadingKnowledgeBase
from knowledge.search import Band, Hit, SearchOutcome
from knowledge.service import KnowledgeService
from tests.bot.helpers import DOMAIN, Conversation, responses

pytestmark = pytest.mark.usefixtures("knowledge_base")

REFUND_QUESTION_EN = "how long does a refund take"


def answer(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return next(m for m in messages if m["response"] == "utter_answer")


def test_answer_in_english_with_title_link_and_feedback_question() -> None:
    conversation = Conversation("en")
    messages, _ = conversation.run(ActionSearchKb(), REFUND_QUESTION_EN)

    assert responses(messages) == ["utter_answer", "utter_ask_feedback"]
    shown = answer(messages)
    assert shown["title"] == "How long does a refund take?"
    assert shown["summary"].startswith("We inspect returns within 3 business days")
    assert shown["url"] == "https://help.example.test/en/refund-timeline"
    assert conversation.slots["pending_feedback"] == "refund-timeline-en"
    assert conversation.slots["last_question"] == REFUND_QUESTION_EN
    [record] = conversation.slots["kb_articles"]
    assert record["article_id"] == "refund-timeline-en"
    assert record["feedback"] is None
    assert record["question"] == REFUND_QUESTION_EN


def test_answer_in_spanish_uses_spanish_article() -> None:
    conversation = Conversation("es")
    messages, _ = conversation.run(
        ActionSearchKb(), "no me llega el correo para restablecer la contraseña"
    )

    assert responses(messages) == ["utter_answer", "utter_ask_feedback"]
    shown = answer(messages)
    assert shown["title"] == "No me llega el email para restablecer la contraseña"
    assert shown["url"] == "https://help.example.test/es/password-reset"
    assert conversation.slots["pending_feedback"] == "password-reset-es"


@pytest.mark.parametrize(
    ("language", "none_title"), [("en", "None of these"), ("es", "Ninguno de estos")]
)
def test_close_articles_are_offered_as_buttons(language: str, none_title: str) -> None:
    conversation = Conversation(language)
    question = {"en": "question about my refund", "es": "pregunta sobre mi reembolso"}[language]
    messages, _ = conversation.run(ActionSearchKb(), question)

    assert responses(messages) == ["utter_clarify"]
    buttons = messages[0]["buttons"]
    ids = {f"refund-timeline-{language}", f"refund-method-{language}"}
    assert {b["payload"] for b in buttons[:-1]} == {choose_payload(i) for i in ids}
    assert buttons[-1] == {"title": none_title, "payload": "/deny"}
    assert set(conversation.slots["kb_candidates"]) == ids
    assert conversation.slots["pending_feedback"] is None


def test_choose_payload_is_rasa_intent_syntax() -> None:
    assert choose_payload("refund-method-en") == '/choose_article{"article_id":"refund-method-en"}'


def test_choosing_a_candidate_shows_it_and_asks_for_feedback() -> None:
    conversation = Conversation("en")
    conversation.run(ActionSearchKb(), "question about my refund")
    messages, _ = conversation.run(
        ActionShowArticle(),
        choose_payload("refund-method-en"),
        intent="choose_article",
        entities=[{"entity": "article_id", "value": "refund-method-en"}],
    )

    assert responses(messages) == ["utter_answer", "utter_ask_feedback"]
    assert answer(messages)["title"] == "Where does my refund go?"
    assert conversation.slots["pending_feedback"] == "refund-method-en"
    assert conversation.slots["kb_candidates"] == ["refund-timeline-en"]


def test_typed_ordinal_picks_a_candidate() -> None:
    candidates = ["a-en", "b-en", "c-en"]
    assert candidate_by_ordinal("the second one", candidates) == "b-en"
    assert candidate_by_ordinal("la primera", candidates) == "a-en"
    assert candidate_by_ordinal("el último", candidates) == "c-en"
    assert candidate_by_ordinal("option 3", candidates[:2]) is None
    assert candidate_by_ordinal("whatever", candidates) is None


def test_chosen_article_follows_the_customer_language() -> None:
    conversation = Conversation("es")
    messages, _ = conversation.run(
        ActionShowArticle(),
        "/choose_article",
        intent="choose_article",
        entities=[{"entity": "article_id", "value": "refund-method-en"}],
    )
    assert answer(messages)["url"] == "https://help.example.test/es/refund-method"


def test_choose_article_naming_no_article_is_searched() -> None:
    conversation = Conversation("en")
    messages, _ = conversation.run(
        ActionShowArticle(), "what's the weather in Paris", intent="choose_article"
    )
    assert responses(messages) == ["utter_fallback"]


def test_unknown_article_is_reported() -> None:
    conversation = Conversation("en")
    messages, _ = conversation.run(
        ActionShowArticle(),
        "/choose_article",
        intent="choose_article",
        entities=[{"entity": "article_id", "value": "no-such-article-en"}],
    )
    assert responses(messages) == ["utter_article_not_found"]


@pytest.mark.parametrize(
    "text",
    ["asdf", "", "   ", "what's the weather in Paris"],
    ids=["gibberish", "empty", "blank", "out-of-scope"],
)
def test_nothing_close_enough_falls_back_without_an_article(text: str) -> None:
    conversation = Conversation("en")
    messages, _ = conversation.run(ActionSearchKb(), text, intent="nlu_fallback")

    assert responses(messages) == ["utter_fallback"]
    assert conversation.slots["pending_feedback"] is None
    assert not conversation.slots["kb_articles"]


def test_an_over_long_message_gets_please_summarise_not_a_gap() -> None:
    conversation = Conversation("en")
    text = "refund " * 1000  # 7,000 characters, over NIVEL0_MAX_QUERY_CHARS
    messages, _ = conversation.run(ActionSearchKb(), text, intent="nlu_fallback")

    assert responses(messages) == ["utter_please_summarise"]
    assert not conversation.slots["kb_articles"]
    assert text not in gaps("fallback")


def test_yes_records_helpful_and_closes() -> None:
    conversation = Conversation("en")
    conversation.run(ActionSearchKb(), REFUND_QUESTION_EN)
    messages, _ = conversation.run(ActionFeedbackYes(), "/affirm", intent="affirm")

    assert responses(messages) == ["utter_glad_to_help"]
    assert conversation.slots["kb_articles"][0]["feedback"] == "helpful"
    assert conversation.slots["pending_feedback"] is None


def starts_handoff_form(events: list[dict[str, Any]], reason: str) -> bool:
    followup = any(e["event"] == "followup" and e["name"] == "handoff_form" for e in events)
    return followup and any(
        e["event"] == "slot" and e["name"] == "handoff_reason" and e["value"] == reason
        for e in events
    )


def gaps(reason: str) -> list[str]:
    """The unanswered questions the actions queued for the handoff service, for ``reason``."""
    entries = default_outbox().entries(UNANSWERED)
    return [e.payload["text"] for e in entries if e.payload["reason"] == reason]


def test_no_offers_the_next_best_article_then_hands_over() -> None:
    conversation = Conversation("en")
    conversation.run(ActionSearchKb(), REFUND_QUESTION_EN)

    messages, _ = conversation.run(ActionFeedbackNo(), "/deny", intent="deny")
    assert responses(messages) == ["utter_next_best", "utter_answer", "utter_ask_feedback"]
    assert answer(messages)["title"] == "Where does my refund go?"
    assert conversation.slots["pending_feedback"] == "refund-method-en"

    # The remaining articles are not close enough: hand over, keeping the feedback.
    messages, events = conversation.run(ActionFeedbackNo(), "no", intent="deny")
    assert responses(messages) == ["utter_no_more_articles", "utter_handoff"]
    records = conversation.slots["kb_articles"]
    assert [(r["article_id"], r["feedback"], r["category"]) for r in records] == [
        ("refund-timeline-en", "not_helpful", "refunds"),
        ("refund-method-en", "not_helpful", "refunds"),
    ]
    assert conversation.slots["pending_feedback"] is None
    assert starts_handoff_form(events, "not_solved")
    assert REFUND_QUESTION_EN in gaps("negative_feedback")
    assert REFUND_QUESTION_EN in gaps("handoff")


def test_no_hands_over_once_enough_articles_were_shown(
    configure_actions: Callable[..., ActionSettings],
) -> None:
    configure_actions(max_articles_per_question=1)
    conversation = Conversation("en")
    conversation.run(ActionSearchKb(), REFUND_QUESTION_EN)
    messages, _ = conversation.run(ActionFeedbackNo(), "no", intent="deny")

    assert responses(messages) == ["utter_no_more_articles", "utter_handoff"]


def test_no_without_a_close_second_article_hands_over() -> None:
    conversation = Conversation("en")
    conversation.run(ActionSearchKb(), "I never got the reset password email")
    messages, _ = conversation.run(ActionFeedbackNo(), "no", intent="deny")

    assert responses(messages) == ["utter_no_more_articles", "utter_handoff"]


def test_none_of_these_after_clarify_hands_over() -> None:
    conversation = Conversation("en")
    conversation.run(ActionSearchKb(), "question about my refund")
    messages, _ = conversation.run(ActionFeedbackNo(), "/deny", intent="deny")

    assert responses(messages) == ["utter_handoff"]
    assert conversation.slots["kb_candidates"] == []


def test_yes_or_no_without_open_question_is_searched_like_any_message() -> None:
    conversation = Conversation("en")
    conversation.run(ActionSearchKb(), REFUND_QUESTION_EN)
    conversation.run(ActionFeedbackYes(), "yes", intent="affirm")

    messages, _ = conversation.run(ActionFeedbackYes(), "asdf", intent="affirm")
    assert responses(messages) == ["utter_fallback"]
    messages, _ = conversation.run(ActionFeedbackNo(), "asdf", intent="deny")
    assert responses(messages) == ["utter_fallback"]
    # A stray message that falls back is not remembered as the customer's question.
    assert conversation.slots["last_question"] == REFUND_QUESTION_EN

    password_question = "I never got the reset password email"
    messages, _ = conversation.run(ActionFeedbackNo(), password_question, intent="deny")
    assert responses(messages) == ["utter_answer", "utter_ask_feedback"]
    assert conversation.slots["last_question"] == password_question


def test_request_for_a_person_or_complaint_starts_the_handoff_form() -> None:
    conversation = Conversation("es", sender_id="web-42")
    conversation.run(ActionSearchKb(), "cuánto tarda el reembolso")
    messages, events = conversation.run(
        ActionStartHandoff(), "quiero hablar con una persona", intent="request_human"
    )
    assert responses(messages) == ["utter_handoff"]
    assert starts_handoff_form(events, "customer_request")

    messages, events = Conversation("en").run(
        ActionStartHandoff(), "this is unacceptable", intent="complain"
    )
    assert responses(messages) == ["utter_complaint"]
    assert starts_handoff_form(events, "complaint")


def test_asking_for_a_person_after_not_sure_is_low_confidence() -> None:
    conversation = Conversation("en")
    messages, _ = conversation.run(ActionSearchKb(), "do you repair vintage gramophones")
    assert responses(messages) == ["utter_fallback"]
    _, events = conversation.run(ActionStartHandoff(), "/request_human", intent="request_human")
    assert starts_handoff_form(events, "low_confidence")


@pytest.mark.parametrize(
    "question", ["someone hacked my account", "no reconozco un cargo en mi tarjeta"]
)
def test_sensitive_topics_go_to_a_person_not_to_an_article(question: str) -> None:
    conversation = Conversation("en")
    messages, events = conversation.run(ActionSearchKb(), question)
    assert responses(messages) == ["utter_handoff_sensitive"]
    assert starts_handoff_form(events, "sensitive_data")
    assert conversation.slots["last_question"] == question


def test_fallback_questions_are_recorded_as_gaps() -> None:
    conversation = Conversation("en")
    messages, _ = conversation.run(ActionSearchKb(), "do you sell garden furniture in Lisbon")
    assert responses(messages) == ["utter_fallback"]
    assert "do you sell garden furniture in Lisbon" in gaps("fallback")
    conversation.run(ActionSearchKb(), "asdf", intent="nlu_fallback")  # not a question


def test_search_failure_falls_back_and_hands_over(monkeypatch: pytest.MonkeyPatch) -> None:
    conversation = Conversation("en")
    conversation.run(ActionSearchKb(), REFUND_QUESTION_EN)

    def broken() -> None:
        raise OSError("index directory not readable")

    monkeypatch.setattr("actions.kb.get_knowledge_base", broken)
    messages, _ = conversation.run(ActionFeedbackNo(), "no", intent="deny")
    assert responses(messages) == ["utter_no_more_articles", "utter_handoff"]
    messages, _ = conversation.run(ActionSearchKb(), "how long does delivery take")
    assert responses(messages) == ["utter_fallback"]
    messages, _ = conversation.run(
        ActionShowArticle(),
        choose_payload("refund-method-en"),
        intent="choose_article",
        entities=[{"entity": "article_id", "value": "refund-method-en"}],
    )
    assert responses(messages) == ["utter_fallback"]


class FakeKnowledge:
    """A knowledge service with canned answers that records what the actions ask of it."""

    def __init__(self, articles: list[Article], outcome: SearchOutcome, next_best: Hit | None):
        self._articles = {a.id: a for a in articles}
        self.outcome = outcome
        self.next_best_result = next_best
        self.next_best_calls: list[tuple[str | None, str, set[str]]] = []

    def search(self, text: str, language: str, k: int = 3) -> SearchOutcome:
        return self.outcome

    def next_best(self, text: str | None, language: str, exclude: Collection[str]) -> Hit | None:
        self.next_best_calls.append((text, language, set(exclude)))
        return self.next_best_result

    def translation(self, article: Article, language: str) -> Article | None:
        return self._articles.get(article_id(article.topic, language))

    def url(self, article: Article) -> str:
        return f"https://fake.test/{article.id}"

    def get(self, article_id: str) -> Article | None:
        return self._articles.get(article_id)

    def articles(self, language: str | None = None) -> list[Article]:
        return [a for a in self._articles.values() if language in (None, a.language)]


@pytest.fixture
def fake_knowledge(knowledge_base: ReloadingKnowledgeBase) -> Iterator[FakeKnowledge]:
    """The fixture KB's articles behind a fake service: the timeline article is the answer,
    the refund-method one the next best."""
    articles = knowledge_base.articles()
    first, second = knowledge_base.get("refund-timeline-en"), knowledge_base.get("refund-method-en")
    fake = FakeKnowledge(
        articles, SearchOutcome(Band.ANSWER, [Hit(first, 0.9)], "confident"), Hit(second, 0.5)
    )
    assert isinstance(fake, KnowledgeService)
    kb.configure(fake)
    yield fake
    kb.configure(knowledge_base)


def test_actions_go_through_the_knowledge_service(fake_knowledge: FakeKnowledge) -> None:
    conversation = Conversation("en")
    messages, _ = conversation.run(ActionSearchKb(), REFUND_QUESTION_EN)
    assert answer(messages)["url"] == "https://fake.test/refund-timeline-en"

    messages, _ = conversation.run(ActionFeedbackNo(), "no", intent="deny")
    assert answer(messages)["url"] == "https://fake.test/refund-method-en"
    assert fake_knowledge.next_best_calls == [(REFUND_QUESTION_EN, "en", {"refund-timeline-en"})]
    assert [r["url"] for r in conversation.slots["kb_articles"]] == [
        "https://fake.test/refund-timeline-en",
        "https://fake.test/refund-method-en",
    ]

    # The cap (max_articles_per_question, 2) is the action's: the service is not asked again.
    messages, _ = conversation.run(ActionFeedbackNo(), "no", intent="deny")
    assert responses(messages) == ["utter_no_more_articles", "utter_handoff"]
    assert len(fake_knowledge.next_best_calls) == 1

    spanish = Conversation("es")
    messages, _ = spanish.run(
        ActionShowArticle(),
        "/choose_article",
        intent="choose_article",
        entities=[{"entity": "article_id", "value": "refund-method-en"}],
    )
    assert answer(messages)["url"] == "https://fake.test/refund-method-es"


def test_handoff_text_does_not_claim_a_ticket_exists() -> None:
    texts = [v["text"].lower() for v in DOMAIN["responses"]["utter_handoff"]]
    assert texts and not any("ticket" in t or "incidencia" in t for t in texts)
