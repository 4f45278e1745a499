from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from knowledge.articles import load_articles
from knowledge.bands import Calibration, Thresholds, assign_band
from knowledge.index import search_texts
from knowledge.search import Band, KnowledgeBase
from knowledge.settings import KnowledgeSettings
from tests.knowledge.conftest import write_article, write_fixture_kb

# Fixed thresholds for the fixture KB (the real ones come from calibration on dev data). The
# English model gives unrelated Spanish texts much higher similarities than unrelated English
# ones, hence separate, stricter Spanish thresholds.
FIXTURE_THRESHOLDS = {
    "en": Thresholds(answer_min=0.6, answer_margin=0.05, clarify_min=0.45),
    "es": Thresholds(answer_min=0.75, answer_margin=0.1, clarify_min=0.7),
}


def make_kb(kb_dir: Path, index_dir: Path, model, thresholds: Thresholds | None = None):
    per_language = {lang: thresholds for lang in ("en", "es")} if thresholds else FIXTURE_THRESHOLDS
    calibration = Calibration(model.identity, per_language)
    return KnowledgeBase(load_articles(kb_dir).articles, model, index_dir, calibration)


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory, model) -> KnowledgeBase:
    """Shared by the read-only tests of this module (built once)."""
    root = tmp_path_factory.mktemp("search")
    return make_kb(write_fixture_kb(root / "kb"), root / "index", model)


@pytest.mark.parametrize(
    ("text", "language", "topic"),
    [
        ("I forgot my password and the reset mail never came", "en", "password-reset"),
        ("where is my parcel? I want to track it", "en", "order-status"),
        ("my wireless earbuds will not pair", "en", "troubleshoot-bluetooth"),
        ("olvidé mi contraseña y no me llega el email", "es", "password-reset"),
        ("¿dónde está mi pedido?", "es", "order-status"),
        ("cuándo me devuelven el dinero del reembolso", "es", "refund-timeline"),
    ],
)
def test_right_article_ranks_first_in_the_customers_language(
    kb: KnowledgeBase, text: str, language: str, topic: str
) -> None:
    hits = kb.rank(text, language, k=3)
    assert hits[0].article.topic == topic
    assert all(h.article.language == language for h in hits)
    assert hits[0].score >= hits[1].score >= hits[2].score


@pytest.mark.parametrize(
    ("text", "language", "article_id"),
    [
        ("how do I track my order", "en", "order-status-en"),
        ("olvidé mi contraseña y no me llega el email", "es", "password-reset-es"),
    ],
)
def test_clear_question_gets_answer(
    kb: KnowledgeBase, text: str, language: str, article_id: str
) -> None:
    outcome = kb.search(text, language)
    assert outcome.band is Band.ANSWER
    assert [h.article.id for h in outcome.hits] == [article_id]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        (None, "empty"),
        ("!!! ??? 123", "no_letters"),
        ("where is my order " * 300, "too_long"),
        ("x" * 5000, "too_long"),
    ],
)
def test_unsearchable_input_falls_back_without_searching(
    kb: KnowledgeBase, model, text: str | None, reason: str
) -> None:
    calls = model.encode_calls
    outcome = kb.search(text, "en")
    assert (outcome.band, outcome.hits, outcome.reason) == (Band.FALLBACK, [], reason)
    assert model.encode_calls == calls


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("asdf", "en"),
        ("qwerty zxcv", "en"),
        ("what is the capital of Australia", "en"),
        ("asdf", "es"),
        ("¿quién ganó el partido de fútbol ayer?", "es"),
        ("¿qué tiempo hará mañana en Madrid?", "es"),
    ],
)
def test_gibberish_and_out_of_scope_fall_back(kb: KnowledgeBase, text: str, language: str) -> None:
    outcome = kb.search(text, language)
    assert outcome.band is Band.FALLBACK
    assert outcome.hits == []


def test_long_but_acceptable_input_is_searched(kb: KnowledgeBase) -> None:
    text = "Hello, I ordered a laptop last week. " * 10 + "Where is my order?"
    assert len(text) < kb.max_query_chars
    assert kb.rank(text, "en", k=1)[0].article.topic == "order-status"


def test_close_candidates_get_clarify(kb_dir: Path, tmp_path: Path, model) -> None:
    strict = Thresholds(answer_min=0.99, answer_margin=0.05, clarify_min=0.3)
    kb = make_kb(kb_dir, tmp_path / "index", model, strict)
    outcome = kb.search("my order did not arrive and I want my money back", "en", k=3)
    assert outcome.band is Band.CLARIFY
    assert 1 <= len(outcome.hits) <= 3
    assert {h.article.topic for h in outcome.hits} >= {"order-status", "refund-timeline"}
    assert all(h.score >= strict.clarify_min for h in outcome.hits)


def test_drafts_are_not_searched_but_can_be_fetched(kb_dir: Path, tmp_path: Path, model) -> None:
    write_article(kb_dir, "order-status", "en", status="draft")
    kb = make_kb(kb_dir, tmp_path / "index", model)
    assert kb.get("order-status-en").status == "draft"
    hits = kb.rank("where is my order", "en", k=10)
    assert "order-status" not in {h.article.topic for h in hits}
    assert len(hits) == 3


def test_get_unknown_id(kb: KnowledgeBase) -> None:
    assert kb.get("nope-en") is None
    assert kb.get("order-status-es").language == "es"


def test_unsupported_language_is_a_clear_error(kb: KnowledgeBase) -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        kb.search("where is my order", "fr")


def test_language_without_articles_falls_back(tmp_path: Path, model) -> None:
    kb_dir = tmp_path / "kb"
    write_article(kb_dir, "order-status", "en")
    kb = make_kb(kb_dir, tmp_path / "index", model)
    assert kb.search("¿dónde está mi pedido?", "es").band is Band.FALLBACK


def test_band_rules() -> None:
    t = Thresholds(answer_min=0.6, answer_margin=0.05, clarify_min=0.4)
    assert assign_band(0.7, 0.5, t) is Band.ANSWER
    assert assign_band(0.7, 0.68, t) is Band.CLARIFY  # two close candidates
    assert assign_band(0.5, 0.1, t) is Band.CLARIFY
    assert assign_band(0.39, 0.1, t) is Band.FALLBACK


def test_from_settings_uses_settings_and_matching_calibration(
    kb_dir: Path, tmp_path: Path, model, monkeypatch: pytest.MonkeyPatch
) -> None:
    calibration = tmp_path / "calibration.json"
    thresholds = {"answer_min": 0.61, "answer_margin": 0.02, "clarify_min": 0.4}
    calibration.write_text(
        json.dumps({"models": {model.identity: {"languages": {"en": thresholds}}}})
    )
    write_article(kb_dir, "order-status", "es", category="gadgets")  # invalid: skipped
    monkeypatch.setenv("NIVEL0_KB_DIR", str(kb_dir))
    monkeypatch.setenv("NIVEL0_EMBEDDING_MODEL", str(model.path))
    monkeypatch.setenv("NIVEL0_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("NIVEL0_CALIBRATION", str(calibration))
    monkeypatch.setenv("NIVEL0_HELP_CENTER_URL", "https://help.voltia.example/")
    kb = KnowledgeBase.from_settings(KnowledgeSettings())
    assert kb.thresholds("en") == Thresholds(**thresholds)
    assert [e.field for e in kb.load_errors] == ["category"]
    assert kb.get("order-status-es") is None
    assert kb.search("where is my order", "en").band is Band.ANSWER
    assert (tmp_path / "index" / model.identity).is_dir()
    order = kb.get("order-status-en")
    assert kb.url(order) == "https://help.voltia.example/en/order-status"
    assert kb.translation(order, "es") is None  # the Spanish file is invalid
    assert kb.translation(kb.get("password-reset-en"), "es") == kb.get("password-reset-es")


def test_calibration_of_another_model_is_not_used(tmp_path: Path, model) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"models": {"other": {"languages": {"en": {}}}}}))
    assert Calibration.load(path, model.identity) == Calibration.uncalibrated()
    assert Calibration.load(tmp_path / "missing.json", model.identity).languages == {}


def test_rebuild_from_the_previous_state_scores_like_a_fresh_build(
    kb_dir: Path, tmp_path: Path, float32_model
) -> None:
    """Hot reload builds on the previous generation (vectors and lexical rows of unchanged
    articles are reused); the result must be the same as building from scratch (in float32,
    where a text's vector does not depend on the batch it was embedded in)."""
    model = float32_model
    articles = load_articles(kb_dir).articles
    calibration = Calibration(model.identity, FIXTURE_THRESHOLDS)
    first = KnowledgeBase(articles, model, tmp_path / "index", calibration)
    edited = [
        a.model_copy(update={"questions": [*a.questions, "can I pay with a gift card?"]})
        if a.id == "order-status-en"
        else a
        for a in articles
        if a.id != "password-reset-es"
    ]
    changed = next(a for a in edited if a.id == "order-status-en")
    texts_before = model.encoded_texts
    incremental = KnowledgeBase(edited, model, tmp_path / "index", calibration, previous=first)
    assert model.encoded_texts - texts_before == len(search_texts(changed))
    fresh = KnowledgeBase(edited, model, tmp_path / "fresh-index", calibration)
    queries = {
        "en": ["can I pay with a gift card", "where is my parcel"],
        "es": ["no me llega el correo de la contraseña", "¿dónde está mi pedido?"],
    }
    for language, texts in queries.items():
        ours, theirs = incremental.scores(texts, language), fresh.scores(texts, language)
        assert [a.id for a in ours.articles] == [a.id for a in theirs.articles]
        np.testing.assert_allclose(ours.dense, theirs.dense, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ours.lexical, theirs.lexical, rtol=1e-5, atol=1e-6)
    assert incremental.get("password-reset-es") is None
