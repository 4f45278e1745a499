from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from knowledge.articles import load_articles
from knowledge.distill import TEACHER
from knowledge.embedding import EmbeddingModel
from knowledge.finetune import Recipe, finetune, topic_unique_batches, training_pairs
from knowledge.settings import default_model_path
from tests.knowledge.conftest import FIXTURE_ARTICLES, write_article


def test_training_pairs_cover_both_languages_and_cross_lingual(kb_dir: Path) -> None:
    articles = load_articles(kb_dir).articles
    questions = sum(len(a.questions) for a in articles)
    assert len(training_pairs(articles, cross_lingual=False)) == questions
    pairs = training_pairs(articles, cross_lingual=True)
    assert len(pairs) == 2 * questions
    es = next(a for a in articles if a.id == "order-status-es")
    en = next(a for a in articles if a.id == "order-status-en")
    positives = {p.positive for p in pairs if p.anchor == es.questions[0]}
    assert positives == {f"{es.title}. {es.summary}", f"{en.title}. {en.summary}"}
    with_body = training_pairs(articles, cross_lingual=False, with_body=True)
    body_pairs = [p for p in with_body if p.anchor == "Steps 1. Do this."]
    assert len(with_body) == questions + 2 * len(articles)  # fixture bodies: intro + 1 section
    assert {p.topic for p in body_pairs} == {a.topic for a in articles}


def test_drafts_are_not_trained_on(kb_dir: Path) -> None:
    write_article(kb_dir, "order-status", "en", status="draft")
    pairs = training_pairs(load_articles(kb_dir).articles, cross_lingual=False)
    assert not any(p.positive.startswith("Where is my order?") for p in pairs)


def test_batches_never_repeat_a_topic_and_are_reproducible(kb_dir: Path) -> None:
    pairs = training_pairs(load_articles(kb_dir).articles, cross_lingual=True)
    batches = topic_unique_batches(pairs, 3, random.Random(1))
    assert all(len({p.topic for p in batch}) == len(batch) for batch in batches)
    assert all(2 <= len(batch) <= 3 for batch in batches)  # MNRL needs an in-batch negative
    used = [p for batch in batches for p in batch]
    assert len(used) == len(set(used)) >= len(pairs) - 2  # at most a leftover pair is dropped
    assert batches == topic_unique_batches(pairs, 3, random.Random(1))


def test_finetune_writes_a_model_sentence_transformers_can_serve(
    kb_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "model"
    recipe = Recipe(epochs=1, batch_size=len(FIXTURE_ARTICLES) // 2)
    meta = finetune(default_model_path(), load_articles(kb_dir).articles, out, recipe)
    assert json.loads((out / "nivel0_model.json").read_text())["recipe"] == meta["recipe"]
    assert meta["teacher"] == TEACHER and meta["distillation_steps"] >= 1
    model = EmbeddingModel(out)
    vectors = model.encode(["where is my order", "¿dónde está mi pedido?"])
    assert vectors.shape == (2, 512)  # projected to the teacher's dimension by distillation
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
