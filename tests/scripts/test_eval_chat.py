"""The multi-turn dialogue evaluation of scripts/eval_chat.py, without servers: the response
classifier and the step checks on hand-made REST replies (texts rendered from bot/domain.yml),
a dialogue run against a scripted fake REST channel, and the validity of
tests/eval/dialogues.yml."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import ValidationError

from knowledge.articles import load_articles
from knowledge.evalset import DialogueSet, DialogueStep, Expectation
from knowledge.settings import LANGUAGES, KnowledgeSettings
from scripts.eval_chat import (
    DOMAIN_PATH,
    UNKNOWN,
    ResponseClassifier,
    Turn,
    check,
    evaluate_dialogues,
    first_reply,
    run_dialogue,
    variation_language,
)

ROOT = Path(__file__).resolve().parents[2]
DIALOGUES = ROOT / "tests" / "eval" / "dialogues.yml"
HELP = "https://help.example.test"
DOMAIN: dict[str, Any] = yaml.safe_load(DOMAIN_PATH.read_text(encoding="utf-8"))
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@pytest.fixture(scope="module")
def classifier() -> ResponseClassifier:
    return ResponseClassifier(DOMAIN, HELP)


def variation(response: str, language: str) -> dict[str, Any]:
    return next(v for v in DOMAIN["responses"][response] if variation_language(v) == language)


def render(response: str, language: str, **values: str) -> dict[str, Any]:
    """The REST message Rasa sends for ``response`` in ``language`` (placeholders filled with
    ``values``, else with a stand-in), with the variation's buttons."""
    chosen = variation(response, language)
    text = PLACEHOLDER.sub(lambda m: values.get(m[1], f"<{m[1]}>"), chosen["text"])
    message: dict[str, Any] = {"recipient_id": "c1", "text": text}
    if chosen.get("buttons"):
        message["buttons"] = chosen["buttons"]
    return message


def answer(topic: str, language: str) -> dict[str, Any]:
    return render(
        "utter_answer",
        language,
        title=f"Title of {topic}",
        summary="A short answer.\nWith a second line.",
        url=f"{HELP}/{language}/{topic}",
    )


def clarify(language: str, *topics: str) -> dict[str, Any]:
    message = render("utter_clarify", language)
    message["buttons"] = [
        {"title": t, "payload": f'/choose_article{{"article_id":"{t}-{language}"}}'} for t in topics
    ] + [{"title": "None of these", "payload": "/deny"}]
    return message


def shown(topic: str, language: str) -> list[dict[str, Any]]:
    return [answer(topic, language), render("utter_ask_feedback", language)]


# ---- the response classifier ------------------------------------------------------------------


def test_every_domain_text_is_classified_as_its_response_in_its_language(
    classifier: ResponseClassifier,
) -> None:
    texts = {
        (name, variation_language(v)): v["text"]
        for name, variations in DOMAIN["responses"].items()
        for v in variations
    }
    assert {language for _, language in texts} == set(LANGUAGES)
    for name, language in texts:
        message = render(name, language)
        got = classifier.classify(message)
        # responses with the very same text (two queues' names) are indistinguishable
        text = texts[(name, language)]
        same_text = {n for (n, lang), t in texts.items() if lang == language and t == text}
        assert got.response in same_text, (name, language, message["text"])
        assert got.language == language


def test_the_most_literal_pattern_wins_over_a_wildcard_one(
    classifier: ResponseClassifier,
) -> None:
    # "OK, {customer_name}." matches this text as well
    message = render("utter_email_updated", "en", email="ana@example.com")
    assert classifier.classify(message).response == "utter_email_updated"
    message = render("utter_name_updated", "es", customer_name="Ana")
    assert classifier.classify(message).response == "utter_name_updated"


def test_specificity_not_domain_order_decides() -> None:
    domain = {
        "responses": {
            "utter_wide": [{"text": "OK, {anything}."}],
            "utter_narrow": [{"text": "OK, I'll use {email}."}],
        }
    }
    classify = ResponseClassifier(domain, HELP).classify
    assert classify({"text": "OK, I'll use ana@example.com."}).response == "utter_narrow"
    assert classify({"text": "OK, Ana."}).response == "utter_wide"


def test_an_answer_gives_its_topic_and_link_language(classifier: ResponseClassifier) -> None:
    turn = classifier.turn(shown("refund-timeline", "es"))
    assert turn.responses == ["utter_answer", "utter_ask_feedback"]
    assert turn.answered == ["refund-timeline"]
    assert turn.messages[0].link_language == "es"
    assert turn.offered == []


def test_clarify_buttons_give_the_offered_topics(classifier: ResponseClassifier) -> None:
    turn = classifier.turn([clarify("en", "warranty-claim", "warranty-coverage")])
    assert turn.responses == ["utter_clarify"]
    assert turn.offered == ["warranty-claim", "warranty-coverage"]
    assert turn.answered == []


def test_unknown_texts_and_the_redaction_echo(classifier: ResponseClassifier) -> None:
    turn = classifier.turn(
        [
            {"recipient_id": "c1", "custom": {"redacted": "my card is [card ****1111]"}},
            {"recipient_id": "c1", "text": "Something the domain does not say."},
            {"recipient_id": "c1", "image": "https://example.test/cat.png"},
        ]
    )
    assert turn.redacted is True
    assert turn.responses == [UNKNOWN, UNKNOWN]
    assert [m.language for m in turn.messages] == [None, None]
    assert classifier.turn([render("utter_fallback", "en")]).redacted is False


def test_first_reply_kinds_are_unchanged() -> None:
    assert first_reply(shown("order-status", "en"), HELP) == ("answered", ["order-status"])
    assert first_reply([clarify("es", "order-status", "order-change")], HELP) == (
        "clarify",
        ["order-status", "order-change"],
    )
    assert first_reply([render("utter_fallback", "en")], HELP) == ("no_article", [])


# ---- the step checks ----------------------------------------------------------------------------


def expect(**fields: Any) -> Expectation:
    return Expectation.model_validate(fields)


def test_responses_are_an_exact_ordered_list(classifier: ResponseClassifier) -> None:
    turn = classifier.turn(
        [render("utter_personal_data_warning", "en"), render("utter_handoff_sensitive", "en")]
    )
    assert (
        check(expect(responses=["utter_personal_data_warning", "utter_handoff_sensitive"]), turn)
        == []
    )
    for wrong in (
        ["utter_handoff_sensitive"],  # a subsequence is not enough
        ["utter_handoff_sensitive", "utter_personal_data_warning"],  # nor another order
        ["utter_personal_data_warning", "utter_handoff_sensitive", "utter_ask_customer_name"],
    ):
        assert check(expect(responses=wrong), turn), wrong


def test_answered_wants_exactly_one_article_of_a_listed_topic(
    classifier: ResponseClassifier,
) -> None:
    turn = classifier.turn(shown("refund-method", "en"))
    assert check(expect(answered="refund-method"), turn) == []
    assert check(expect(answered=["refund-partial", "refund-method"]), turn) == []
    assert check(expect(answered="refund-timeline"), turn)
    two = classifier.turn([answer("refund-method", "en"), answer("refund-partial", "en")])
    assert check(expect(answered=["refund-method", "refund-partial"]), two)
    assert check(
        expect(answered="refund-method"), classifier.turn([clarify("en", "refund-method")])
    )


def test_offered_picked_and_no_article(classifier: ResponseClassifier) -> None:
    offer = classifier.turn([clarify("es", "refund-timeline", "refund-method", "refund-partial")])
    assert check(expect(offered="refund-method"), offer) == []
    assert check(expect(offered="returns-label"), offer)
    assert check(expect(no_article=True), offer)

    second = classifier.turn(shown("refund-method", "es"))
    assert check(expect(picked=2), second, previous=offer) == []
    assert check(expect(picked=1), second, previous=offer)
    assert check(expect(picked=2), second, previous=None)  # nothing was offered before
    assert check(expect(picked=4), second, previous=offer)  # only three were offered

    assert check(expect(no_article=True), classifier.turn([render("utter_fallback", "es")])) == []
    assert check(expect(no_article=True), second)


def test_language_covers_every_message_and_the_article_link(
    classifier: ResponseClassifier,
) -> None:
    assert check(expect(language="es"), classifier.turn(shown("order-status", "es"))) == []
    assert check(expect(language="en"), classifier.turn(shown("order-status", "es")))
    english_text_spanish_link = [answer("order-status", "es"), render("utter_ask_feedback", "es")]
    english_text_spanish_link[0]["text"] = english_text_spanish_link[0]["text"].replace(
        "Más información", "More information"
    )
    assert check(expect(language="en"), classifier.turn(english_text_spanish_link))
    mixed = classifier.turn(
        [render("utter_handoff", "es"), render("utter_ask_customer_name", "en")]
    )
    assert check(expect(language="es"), mixed)
    assert check(expect(language="en"), Turn())  # no reply is no evidence
    unknown = classifier.turn([{"recipient_id": "c1", "text": "Hola"}])
    assert check(expect(language="es"), unknown)


def test_redacted(classifier: ResponseClassifier) -> None:
    echo = {"recipient_id": "c1", "custom": {"redacted": "mi tarjeta es [card ****1111]"}}
    turn = classifier.turn([echo, render("utter_personal_data_warning", "es")])
    assert check(expect(redacted=True), turn) == []
    assert check(expect(redacted=False), turn)


@pytest.mark.parametrize(
    "fields",
    [{}, {"no_article": False}, {"no_article": True, "answered": "order-status"}, {"picked": 0}],
)
def test_an_expectation_expects_something_consistent(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Expectation.model_validate(fields)


def test_a_step_has_exactly_one_kind_of_expectation() -> None:
    one = {"responses": ["utter_fallback"]}
    assert DialogueStep.model_validate({"say": "x", "expect": one}).alternatives() == [
        Expectation.model_validate(one)
    ]
    for bad in ({"say": "x"}, {"say": "x", "expect": one, "expect_one_of": [one]}):
        with pytest.raises(ValidationError):
            DialogueStep.model_validate(bad)
    with pytest.raises(ValidationError):
        DialogueStep.model_validate({"say": "x", "expect_one_of": []})


# ---- a dialogue against a scripted fake REST channel ------------------------------------------


def fake_channel(
    replies: dict[str, list[dict[str, Any]]], requests: list[dict[str, Any]]
) -> httpx.Client:
    """A client whose REST channel answers each message with ``replies[message]`` and records
    the request bodies in ``requests``."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        requests.append(body)
        return httpx.Response(200, json=replies[body["message"]])

    return httpx.Client(transport=httpx.MockTransport(handle), base_url="http://rasa.test")


SCRIPT = """
dialogues:
  - name: switch
    language: en
    steps:
      - say: "where is my order"
        expect: {answered: order-status, language: en}
      - say: "¿y el envío?"
        switch_to: es
        expect: {answered: shipping-times, language: es}
  - name: feedback
    language: es
    widget: false
    steps:
      - say: "reembolso"
        expect: {responses: [utter_clarify]}
      - say: "/deny"
        expect_one_of:
          - {responses: [utter_next_best, utter_answer, utter_ask_feedback]}
          - {responses: [utter_no_more_articles, utter_handoff, utter_ask_customer_name]}
      - say: "no"
        expect: {responses: [utter_glad_to_help]}
"""


@pytest.fixture
def run(
    classifier: ResponseClassifier, tmp_path: Path
) -> Callable[[], tuple[dict[str, Any], list[dict[str, Any]]]]:
    path = tmp_path / "dialogues.yml"
    path.write_text(SCRIPT, encoding="utf-8")
    replies = {
        "where is my order": shown("order-status", "en"),
        "¿y el envío?": shown("shipping-times", "es"),
        "reembolso": [clarify("es", "refund-timeline", "refund-method")],
        "/deny": [
            render("utter_no_more_articles", "es"),
            render("utter_handoff", "es"),
            render("utter_ask_customer_name", "es"),
        ],
        "no": [
            render("utter_invalid_customer_name", "es"),
            render("utter_ask_customer_name", "es"),
        ],
    }

    def go() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        requests: list[dict[str, Any]] = []
        with fake_channel(replies, requests) as client:
            section = evaluate_dialogues(
                client, "/webhooks/rest/webhook", DialogueSet.load(path), classifier
            )
        return section, requests

    return go


def test_a_dialogue_run_sends_what_the_widget_sends(
    run: Callable[[], tuple[dict[str, Any], list[dict[str, Any]]]],
) -> None:
    _, requests = run()
    assert [r.get("metadata") for r in requests] == [
        {"language": "en"},
        {"language": "es"},  # the customer switched: the widget declares the new language
        None,  # widget: false
        None,
        None,
    ]
    senders = [r["sender"] for r in requests]
    assert senders[0] == senders[1] and senders[2] == senders[3] == senders[4]
    assert senders[0] != senders[2]  # every dialogue is a fresh conversation


def test_a_dialogue_run_counts_per_language_and_lists_failed_steps(
    run: Callable[[], tuple[dict[str, Any], list[dict[str, Any]]]],
) -> None:
    section, _ = run()
    assert section["en"] == {"steps": 2, "steps_passed": 2, "dialogues": 1, "dialogues_passed": 1}
    assert section["es"] == {"steps": 3, "steps_passed": 2, "dialogues": 1, "dialogues_passed": 0}
    [failed] = section["failed_steps"]
    assert failed["dialogue"] == "feedback" and failed["step"] == 3 and failed["say"] == "no"
    assert failed["after_failure"] is False
    assert failed["expected"] == [{"responses": ["utter_glad_to_help"]}]
    assert failed["seen"]["responses"] == ["utter_invalid_customer_name", "utter_ask_customer_name"]
    assert failed["problems"] and all(failed["problems"])
    assert [run["passed"] for run in section["runs"]] == [True, False]
    assert [s["passed"] for s in section["runs"][1]["steps"]] == [True, True, False]


def test_a_step_after_a_failed_one_is_marked(classifier: ResponseClassifier) -> None:
    dialogue = DialogueSet.model_validate(
        {
            "dialogues": [
                {
                    "name": "d",
                    "language": "en",
                    "steps": [
                        {"say": "a", "expect": {"responses": ["utter_greet"]}},
                        {"say": "b", "expect": {"responses": ["utter_fallback"]}},
                    ],
                }
            ]
        }
    ).dialogues[0]
    replies = {"a": [render("utter_fallback", "en")], "b": [render("utter_fallback", "en")]}
    with fake_channel(replies, []) as client:
        steps = run_dialogue(client, "/webhooks/rest/webhook", dialogue, classifier)
    assert [(s["passed"], s["after_failure"]) for s in steps] == [(False, False), (True, True)]


# ---- tests/eval/dialogues.yml -------------------------------------------------------------------


@pytest.fixture(scope="module")
def dialogues() -> DialogueSet:
    return DialogueSet.load(DIALOGUES)


def expectations(dialogues: DialogueSet) -> list[tuple[str, Expectation]]:
    return [(d.language, e) for d in dialogues.dialogues for s in d.steps for e in s.alternatives()]


def test_the_dialogues_name_only_existing_responses_topics_and_articles(
    dialogues: DialogueSet,
) -> None:
    articles = load_articles(ROOT / "kb_articles").articles
    ids = {a.id for a in articles}
    topics = {lang: {a.topic for a in articles if a.language == lang} for lang in LANGUAGES}
    responses = set(DOMAIN["responses"])
    for _, e in expectations(dialogues):
        assert set(e.responses or []) <= responses, e.responses
        for topic in [*(e.answered or []), *([e.offered] if e.offered else [])]:
            assert all(topic in topics[lang] for lang in LANGUAGES), topic
    payload = re.compile(r'^/choose_article\{"article_id":"([^"]+)"\}$')
    chosen = [m[1] for d in dialogues.dialogues for s in d.steps if (m := payload.match(s.say))]
    assert chosen and set(chosen) <= ids, chosen


def test_the_dialogues_cover_every_flow_in_both_languages(dialogues: DialogueSet) -> None:
    max_chars = KnowledgeSettings().max_query_chars
    for lang in LANGUAGES:
        mine = [d for d in dialogues.dialogues if d.language == lang]
        assert 12 <= len(mine) <= 20, (lang, len(mine))
        expected = [e for language, e in expectations(dialogues) if language == lang]
        uttered = {r for e in expected for r in e.responses or []}
        assert {
            "utter_next_best",
            "utter_no_more_articles",
            "utter_clarify",
            "utter_handoff",
            "utter_handoff_sensitive",
            "utter_personal_data_warning",
            "utter_please_summarise",
            "utter_fallback",
        } <= uttered, lang
        assert any(e.picked for e in expected) and any(e.no_article for e in expected)
        assert any(e.redacted for e in expected)
        steps = [s for d in mine for s in d.steps]
        assert any(s.switch_to and s.switch_to != lang for s in steps)
        assert any(len(s.say) > max_chars for s in steps)
        assert any(not s.say.strip() for s in steps)
        assert {"/deny", "/affirm"} <= {s.say for s in steps}
