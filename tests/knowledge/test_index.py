from __future__ import annotations

from pathlib import Path

import numpy as np

from knowledge.articles import load_articles
from knowledge.index import build_vectors, content_hash, search_texts
from tests.knowledge.conftest import write_article


class FakeModel:
    """Deterministic stand-in with another identity, to check the cache is keyed by model."""

    identity = "fake-model-0001"

    def __init__(self) -> None:
        self.encoded_texts = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.encoded_texts += len(texts)
        return np.ones((len(texts), 4), dtype=np.float32)


def test_second_build_embeds_nothing(kb_dir: Path, tmp_path: Path, model) -> None:
    articles = load_articles(kb_dir).articles
    index_dir = tmp_path / "index"
    before = model.encoded_texts
    first_vectors, first = build_vectors(articles, model, index_dir)
    assert (first.embedded, first.reused) == (len(articles), 0)
    assert model.encoded_texts - before == sum(len(search_texts(a)) for a in articles)

    calls, texts = model.encode_calls, model.encoded_texts
    second_vectors, second = build_vectors(articles, model, index_dir)
    assert (second.embedded, second.reused, second.embedded_texts) == (0, len(articles), 0)
    assert (model.encode_calls, model.encoded_texts) == (calls, texts)
    for article in articles:
        np.testing.assert_array_equal(first_vectors[article.id], second_vectors[article.id])
        assert second_vectors[article.id].shape == (len(search_texts(article)), 384)


def test_changing_one_article_reembeds_only_it(kb_dir: Path, tmp_path: Path, model) -> None:
    index_dir = tmp_path / "index"
    build_vectors(load_articles(kb_dir).articles, model, index_dir)
    write_article(kb_dir, "order-status", "en", title="Track my order")
    articles = load_articles(kb_dir).articles
    changed = next(a for a in articles if a.id == "order-status-en")

    texts = model.encoded_texts
    _, report = build_vectors(articles, model, index_dir)
    assert (report.embedded, report.reused, report.removed) == (1, len(articles) - 1, 1)
    assert model.encoded_texts - texts == len(search_texts(changed))


def test_body_only_change_reembeds_nothing(kb_dir: Path, tmp_path: Path) -> None:
    model = FakeModel()
    build_vectors(load_articles(kb_dir).articles, model, tmp_path / "index")
    path = kb_dir / "en" / "order-status.md"
    path.write_text(path.read_text() + "\nMore body text.\n")
    _, report = build_vectors(load_articles(kb_dir).articles, model, tmp_path / "index")
    assert report.embedded == 0


def test_cache_is_keyed_by_model_identity(kb_dir: Path, tmp_path: Path, model) -> None:
    articles = load_articles(kb_dir).articles
    build_vectors(articles, model, tmp_path / "index")
    fake = FakeModel()
    _, report = build_vectors(articles, fake, tmp_path / "index")
    assert report.embedded == len(articles)
    assert (tmp_path / "index" / fake.identity).is_dir()
    assert (tmp_path / "index" / model.identity).is_dir()


def test_corrupt_index_file_is_rebuilt(kb_dir: Path, tmp_path: Path) -> None:
    articles = load_articles(kb_dir).articles
    model = FakeModel()
    build_vectors(articles, model, tmp_path / "index")
    victim = articles[0]
    (tmp_path / "index" / model.identity / f"{content_hash(victim)}.npy").write_bytes(b"garbage")
    _, report = build_vectors(articles, model, tmp_path / "index")
    assert report.embedded == 1


def test_new_article_is_embedded_and_removed_one_pruned(kb_dir: Path, tmp_path: Path) -> None:
    model = FakeModel()
    build_vectors(load_articles(kb_dir).articles, model, tmp_path / "index")
    write_article(kb_dir, "privacy-data", "en", category="privacy", title="My personal data")
    (kb_dir / "es" / "refund-timeline.md").unlink()
    _, report = build_vectors(load_articles(kb_dir).articles, model, tmp_path / "index")
    assert (report.embedded, report.removed) == (1, 1)
