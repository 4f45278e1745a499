"""Hot reload: added, changed, removed, drafted and broken article files, with searches running."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import knowledge.reload as reload_module
from knowledge.bands import Calibration, Thresholds
from knowledge.reload import ArticleCache, ReloadingKnowledgeBase, scan
from tests.knowledge.conftest import write_article, write_fixture_kb

DEADLINE_SECONDS = 5.0  # the requirement: new content is served within 5 s
THRESHOLDS = Thresholds(answer_min=0.6, answer_margin=0.05, clarify_min=0.45)

GIFT_CARD = {
    "title": "How do I redeem a gift card?",
    "category": "payments",
    "summary": "Enter the gift card code at checkout under Payment; the balance is applied.",
    "questions": [
        "how do I redeem my gift card",
        "where do I enter the gift card code",
        "can I pay with a voucher card",
    ],
}


def eventually(condition: Callable[[], bool], deadline: float = DEADLINE_SECONDS) -> bool:
    """Poll ``condition`` until it holds or the deadline passes (bounded, no timing assert)."""
    end = time.monotonic() + deadline
    while True:
        if condition():
            return True
        if time.monotonic() > end:
            return condition()
        time.sleep(0.05)


def top_topic(kb: ReloadingKnowledgeBase, text: str, language: str = "en") -> str | None:
    hits = kb.rank(text, language, k=1)
    return hits[0].article.topic if hits else None


class Searcher:
    """Searches continuously in a thread, recording any exception (none may happen)."""

    def __init__(self, kb: ReloadingKnowledgeBase):
        self.kb = kb
        self.errors: list[Exception] = []
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        queries = [("where is my package", "en"), ("cómo recupero mi contraseña", "es")]
        while not self._stop.is_set():
            for text, language in queries:
                try:
                    outcome = self.kb.search(text, language)
                    if not all(h.article.language == language for h in outcome.hits):
                        raise AssertionError(f"wrong-language hit for {text!r}: {outcome}")
                    self.count += 1
                except BaseException as exc:
                    self.errors.append(exc)

    def __enter__(self) -> Searcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def live_kb(tmp_path: Path, model) -> Iterator[ReloadingKnowledgeBase]:
    kb_dir = write_fixture_kb(tmp_path / "kb")
    calibration = Calibration(model.identity, {"en": THRESHOLDS, "es": THRESHOLDS})
    kb = ReloadingKnowledgeBase(kb_dir, model, tmp_path / "index", calibration, interval=0.5)
    yield kb
    kb.stop(timeout=10)


def test_added_changed_and_removed_articles_are_served_while_searches_run(
    live_kb: ReloadingKnowledgeBase,
) -> None:
    kb_dir = live_kb.kb_dir
    question = "where do I type the code of my gift card"
    assert top_topic(live_kb, question) != "gift-card"
    with Searcher(live_kb) as searcher:
        # added
        write_article(kb_dir, "gift-card", "en", **GIFT_CARD)
        assert eventually(lambda: top_topic(live_kb, question) == "gift-card")
        assert live_kb.get("gift-card-en") is not None

        # changed: the refund article now also answers the voucher question
        voucher = "my store voucher expired, can you extend it"
        write_article(
            kb_dir,
            "refund-timeline",
            "en",
            title="Store vouchers and their expiry",
            questions=["my store voucher expired", "extend an expired voucher", "voucher validity"],
        )
        assert eventually(lambda: top_topic(live_kb, voucher) == "refund-timeline")
        assert live_kb.get("refund-timeline-en").title == "Store vouchers and their expiry"

        # removed
        (kb_dir / "en" / "gift-card.md").unlink()
        assert eventually(lambda: live_kb.get("gift-card-en") is None)
        assert top_topic(live_kb, question) != "gift-card"
    assert searcher.errors == []
    assert searcher.count > 0
    assert live_kb.status.generation >= 4


def test_a_draft_is_ignored_until_published(live_kb: ReloadingKnowledgeBase) -> None:
    question = "where do I type the code of my gift card"
    generation = live_kb.status.generation
    write_article(live_kb.kb_dir, "gift-card", "en", status="draft", **GIFT_CARD)
    assert eventually(lambda: live_kb.get("gift-card-en") is not None)
    assert live_kb.status.generation > generation
    assert top_topic(live_kb, question) != "gift-card"

    write_article(live_kb.kb_dir, "gift-card", "en", status="published", **GIFT_CARD)
    assert eventually(lambda: top_topic(live_kb, question) == "gift-card")


def test_a_broken_article_is_skipped_and_the_rest_still_reloads(
    live_kb: ReloadingKnowledgeBase,
) -> None:
    broken = live_kb.kb_dir / "en" / "broken.md"
    broken.write_text("---\ntitle: [unclosed\n---\nbody\n", encoding="utf-8")
    write_article(live_kb.kb_dir, "gift-card", "en", **GIFT_CARD)
    assert eventually(lambda: live_kb.get("gift-card-en") is not None)
    assert [e.path for e in live_kb.load_errors] == [broken]
    assert live_kb.get("order-status-en") is not None

    broken.unlink()
    assert eventually(lambda: live_kb.load_errors == [])


def test_reload_without_changes_does_nothing(tmp_path: Path, model) -> None:
    kb_dir = write_fixture_kb(tmp_path / "kb")
    kb = ReloadingKnowledgeBase(
        kb_dir, model, tmp_path / "index", Calibration.uncalibrated(), interval=0
    )
    first = kb.current
    assert kb.reload_if_changed() is False
    assert kb.current is first

    encoded = model.encoded_texts
    write_article(kb_dir, "order-status", "en", title="Track your order")
    assert kb.reload_if_changed() is True
    assert kb.current is not first
    # only the changed article was embedded: title + 3 questions + summary
    assert model.encoded_texts - encoded == 5


def test_article_cache_reparses_only_changed_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb_dir = write_fixture_kb(tmp_path / "kb")
    parsed: list[Path] = []
    original = reload_module.parse_or_error

    def counting(path: Path):
        parsed.append(path)
        return original(path)

    monkeypatch.setattr(reload_module, "parse_or_error", counting)
    cache = ArticleCache()
    articles, errors = cache.load(scan(kb_dir))
    assert (len(articles), errors, len(parsed)) == (8, [], 8)

    parsed.clear()
    changed = write_article(kb_dir, "order-status", "es", title="¿Dónde está mi paquete?")
    duplicate = write_article(kb_dir, "zz-copy", "en", id="order-status-en", topic="order-status")
    articles, errors = cache.load(scan(kb_dir))
    assert sorted(parsed) == sorted([changed, duplicate])
    assert len(articles) == 8
    assert [(e.path, e.field) for e in errors] == [(duplicate, "id")]
