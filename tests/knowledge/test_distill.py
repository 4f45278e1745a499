from __future__ import annotations

from pathlib import Path

import numpy as np

from knowledge.articles import load_articles
from knowledge.distill import body_sentences, distillation_sentences, teacher_vectors
from tests.knowledge.conftest import write_article

BODY = """Intro sentence one. Second sentence here!

## 2. Haz un reinicio forzado

1. Open **My account > Orders** and pick the order.
- A list item that wraps
  onto a second line.
- ok
"""


def test_body_sentences_split_blocks_and_strip_markup() -> None:
    assert body_sentences(BODY) == [
        "Intro sentence one.",
        "Second sentence here!",
        "Haz un reinicio forzado",
        "Open My account > Orders and pick the order.",
        "A list item that wraps onto a second line.",
    ]


def test_distillation_sentences_cover_both_languages_without_drafts(kb_dir: Path) -> None:
    write_article(kb_dir, "secret-topic", "en", title="Draft only title", status="draft")
    articles = load_articles(kb_dir).articles
    sentences = distillation_sentences(articles)
    published = [a for a in articles if a.is_published]
    assert {a.title for a in published} <= set(sentences)
    assert {q for a in published for q in a.questions} <= set(sentences)
    assert "Draft only title" not in sentences
    assert len(sentences) == len(set(sentences))
    assert sentences == distillation_sentences(articles[::-1])


def test_teacher_is_multilingual_and_normalised() -> None:
    vectors = teacher_vectors(["where is my order", "¿dónde está mi pedido?", "reset my password"])
    assert vectors.shape == (3, 512)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
