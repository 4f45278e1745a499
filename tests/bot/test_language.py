from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from actions import settings
from actions.actions import ActionDetectLanguage
from actions.language import detect_language, language_from_metadata, resolve_language
from actions.settings import ActionSettings
from pydantic import ValidationError

from knowledge.evalset import EvalSet, UnanswerableSet
from tests.bot.helpers import Conversation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no me llega el correo para restablecer la contraseña", "es"),
        ("quiero hablar con una persona", "es"),
        ("hola", "es"),
        ("sí", "es"),
        ("¿cuánto tarda?", "es"),
        ("how long does a refund take?", "en"),
        ("talk to a human", "en"),
        ("hello", "en"),
        ("yes", "en"),
    ],
)
def test_detects_spanish_and_english(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["ok", "no", "asdf", "", "12345", "/affirm", None])
def test_ambiguous_text_gives_no_language(text: str | None) -> None:
    assert detect_language(text) is None


def test_metadata_language_wins_over_text() -> None:
    assert resolve_language("how long does a refund take?", {"language": "es"}, "en") == "es"
    assert language_from_metadata({"language": "es-ES"}) == "es"
    assert language_from_metadata({"language": "fr"}) is None
    assert language_from_metadata({"language": 3}) is None


def test_language_is_sticky_when_text_is_ambiguous() -> None:
    assert resolve_language("ok", None, "es") == "es"
    assert resolve_language("asdf", {}, "en") == "en"


@pytest.fixture
def restore_settings() -> Iterator[None]:
    yield
    settings.reset()


@pytest.mark.usefixtures("restore_settings")
def test_default_language_when_nothing_is_known() -> None:
    settings.configure(ActionSettings(default_language="en"))
    assert resolve_language("asdf", None, None) == "en"
    settings.configure(ActionSettings(default_language="ES"))
    assert resolve_language("asdf", None, None) == "es"


def test_default_language_must_be_supported() -> None:
    with pytest.raises(ValidationError, match="must be one of en, es"):
        ActionSettings(default_language="fr")


def test_action_sets_slot_only_when_language_changes() -> None:
    conversation = Conversation(language=None)
    _, events = conversation.run(ActionDetectLanguage(), "hola, necesito ayuda", intent="greet")
    assert events == [{"event": "slot", "timestamp": None, "name": "language", "value": "es"}]
    _, events = conversation.run(ActionDetectLanguage(), "ok", intent="affirm")
    assert events == []
    _, events = conversation.run(
        ActionDetectLanguage(), "ok", intent="affirm", metadata={"language": "en"}
    )
    assert conversation.slots["language"] == "en"


EVAL_DIR = Path(__file__).resolve().parents[1] / "eval"


def labelled_questions() -> list[tuple[str, str]]:
    """``(text, language)`` of every question of tests/eval: the KB's held-out sets and those of
    questions no article answers (regional Spanish, other domains)."""
    questions = [
        (q.text, q.language)
        for name in ("dev.yml", "test.yml")
        for q in (
            *EvalSet.load(EVAL_DIR / name).in_scope,
            *EvalSet.load(EVAL_DIR / name).out_of_scope,
        )
    ]
    for path in sorted(EVAL_DIR.glob("unanswerable_*.yml")):
        held_out = UnanswerableSet.load(path)
        questions += [(q.text, q.language) for q in (*held_out.dev, *held_out.test)]
    return questions


def test_detection_on_labelled_customer_questions() -> None:
    """On the labelled questions of tests/eval, detection is almost never wrong; it may say
    "don't know" (then the language stays as it was) mostly for gibberish, not for questions."""
    questions = labelled_questions()
    assert len(questions) > 900
    pairs = [(text, language, detect_language(text)) for text, language in questions]
    wrong = [text for text, language, d in pairs if d not in (None, language)]
    undecided = [text for text, _, d in pairs if d is None]
    assert len(wrong) <= 0.02 * len(questions), wrong
    assert len(undecided) <= 0.05 * len(questions), undecided
