"""``python -m knowledge.finetune``: adapt all-MiniLM-L6-v2 to the KB, mainly for Spanish.

all-MiniLM-L6-v2 is an English model; Spanish questions land far from their Spanish articles.
Two stages, both on the KB's own text only (never on the eval sets):

1. Distillation (:mod:`knowledge.distill`, ``--distill-epochs``, 0 skips it): a Dense layer to
   512 dims is appended and the student learns to reproduce the multilingual USE v3 teacher's
   vectors of the KB's sentences in both languages (MSELoss, Reimers & Gurevych 2020).
2. sentence-transformers' MultipleNegativesRankingLoss on the KB's pairs:

   - (alternative question, "title. summary" of its article) in the same language, both
     languages;
   - (alternative question, "title. summary" of the same topic in the other language), which ties
     the Spanish vocabulary to the English one the model already knows.

Each batch holds at most one pair per topic, so in-batch negatives are never the same topic (a
plain random batch would often put the English and Spanish article of one topic together and push
them apart). Seeded, deterministic algorithms, fixed thread count; ~10 CPU-minutes. A plain
PyTorch loop is used because sentence-transformers' Trainer needs the `datasets` and `accelerate`
packages, which this project does not otherwise need.

The model is written to ``var/models/<name>`` (``--out``) with ``nivel0_model.json`` recording
the recipe, base model, teacher and hashes of the training data, which is the model's identity
for the index and the calibration (so the same recipe on the same KB gives the same identity even
if float rounding differs on another CPU). Serve it with
``NIVEL0_EMBEDDING_MODEL=var/models/<name>`` and re-run ``python -m knowledge.calibrate``
afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.articles import Article, load_articles
from knowledge.distill import (
    TEACHER,
    add_projection,
    distill,
    distillation_sentences,
    teacher_vectors,
)
from knowledge.embedding import RECIPE_FILE, model_identity
from knowledge.settings import (
    FINETUNED_MODEL_DIR,
    KnowledgeSettings,
    default_model_path,
    project_path,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

DEFAULT_OUT = project_path(FINETUNED_MODEL_DIR)
MAX_SEQ_LENGTH = 128  # "title. summary" passages are < 128 word pieces; halves training cost


@dataclass(frozen=True)
class Recipe:
    seed: int = 13
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    cross_lingual: bool = True
    body_sections: bool = False  # measured: within noise on dev, 2.4x the training time
    distill_epochs: int = 1  # first distil the multilingual teacher (knowledge.distill); 0: off
    distill_learning_rate: float = 5e-5


@dataclass(frozen=True)
class Pair:
    anchor: str
    positive: str
    topic: str


def passage(article: Article) -> str:
    return f"{article.title}. {article.summary}"


def body_sections(article: Article) -> list[str]:
    """The ``##`` sections of the body, whitespace-collapsed (more in-language text per topic)."""
    sections = (" ".join(part.split()) for part in re.split(r"^## ", article.body, flags=re.M))
    return [section for section in sections if section]


def training_pairs(
    articles: list[Article], cross_lingual: bool, with_body: bool = False
) -> list[Pair]:
    published = [a for a in articles if a.is_published]
    by_key = {(a.topic, a.language): a for a in published}
    pairs = []
    for article in published:
        targets = [article]
        if cross_lingual:
            targets += [
                other
                for (topic, lang), other in sorted(by_key.items())
                if topic == article.topic and lang != article.language
            ]
        for target in targets:
            pairs += [Pair(q, passage(target), article.topic) for q in article.questions]
        if with_body:
            pairs += [Pair(s, passage(article), article.topic) for s in body_sections(article)]
    return pairs


def topic_unique_batches(
    pairs: list[Pair], batch_size: int, rng: random.Random
) -> list[list[Pair]]:
    """Shuffled batches in which no topic appears twice (seeded by ``rng``)."""
    shuffled = pairs[:]
    rng.shuffle(shuffled)
    batches: list[list[Pair]] = []
    for pair in shuffled:
        for batch in batches:
            if len(batch) < batch_size and all(p.topic != pair.topic for p in batch):
                batch.append(pair)
                break
        else:
            batches.append([pair])
    rng.shuffle(batches)
    return [b for b in batches if len(b) > 1]


def finetune(base: Path, articles: list[Article], out: Path, recipe: Recipe) -> dict:
    """Train on ``articles`` and save to ``out``; returns the metadata written beside it."""
    import torch

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(recipe.seed)
    torch.use_deterministic_algorithms(True)
    # One thread: reproducible reduction order, and no OpenMP spinning on a shared machine.
    torch.set_num_threads(1)
    try:
        return _train(base, articles, out, recipe)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def _train(base: Path, articles: list[Article], out: Path, recipe: Recipe) -> dict:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import get_linear_schedule_with_warmup

    rng = random.Random(recipe.seed)
    model = SentenceTransformer(str(base), device="cpu", local_files_only=True)
    serving_max_seq_length = model.max_seq_length
    model.max_seq_length = MAX_SEQ_LENGTH
    distilled = _distill(model, articles, recipe, rng) if recipe.distill_epochs else {}
    model.train()
    loss_fn = MultipleNegativesRankingLoss(model)
    pairs = training_pairs(articles, recipe.cross_lingual, recipe.body_sections)
    epochs = [topic_unique_batches(pairs, recipe.batch_size, rng) for _ in range(recipe.epochs)]
    steps = sum(len(e) for e in epochs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(recipe.warmup_ratio * steps), steps)
    for epoch, batches in enumerate(epochs):
        total = 0.0
        for step, batch in enumerate(batches, 1):
            features = [
                model.preprocess([p.anchor for p in batch]),
                model.preprocess([p.positive for p in batch]),
            ]
            loss = loss_fn(features, torch.empty(0))
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            total += loss.item()
            if step % 10 == 0:
                logger.info(
                    "epoch %d step %d/%d loss %.4f", epoch + 1, step, len(batches), total / step
                )
        logger.info(
            "epoch %d: mean loss %.4f over %d batches",
            epoch + 1,
            total / len(batches),
            len(batches),
        )
    model.eval()
    model.max_seq_length = serving_max_seq_length
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    data = json.dumps([asdict(p) for p in pairs], ensure_ascii=False).encode("utf-8")
    meta = {
        "base_model": model_identity(base),
        "recipe": asdict(recipe),
        "training_pairs": len(pairs),
        "training_data_sha256": hashlib.sha256(data).hexdigest(),
        "steps": steps,
        **distilled,
    }
    (out / RECIPE_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def _distill(
    model: SentenceTransformer, articles: list[Article], recipe: Recipe, rng: random.Random
) -> dict:
    """Stage 1 (optional): distil the teacher into ``model``; returns metadata for the recipe."""
    sentences = distillation_sentences(articles)
    targets = teacher_vectors(sentences)
    add_projection(model, sentences, targets)
    steps = distill(
        model,
        sentences,
        targets,
        recipe.distill_epochs,
        recipe.batch_size * 2,
        recipe.distill_learning_rate,
        rng,
    )
    data = json.dumps(sentences, ensure_ascii=False).encode("utf-8")
    return {
        "teacher": TEACHER,
        "distillation_sentences": len(sentences),
        "distillation_data_sha256": hashlib.sha256(data).hexdigest(),
        "distillation_steps": steps,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--base", type=Path, default=None, help="default: bundled MiniLM")
    parser.add_argument("--epochs", type=int, default=Recipe.epochs)
    parser.add_argument("--no-cross-lingual", action="store_true")
    parser.add_argument("--body", action="store_true", help="add (body section, article) pairs")
    parser.add_argument("--distill-epochs", type=int, default=Recipe.distill_epochs)
    parser.add_argument("--distill-lr", type=float, default=Recipe.distill_learning_rate)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    loaded = load_articles(KnowledgeSettings().kb_dir)
    recipe = Recipe(
        epochs=args.epochs,
        cross_lingual=not args.no_cross_lingual,
        body_sections=args.body,
        distill_epochs=args.distill_epochs,
        distill_learning_rate=args.distill_lr,
    )
    meta = finetune(args.base or default_model_path(), loaded.articles, args.out, recipe)
    print(
        f"fine-tuned model written to {args.out}: "
        f"{meta['training_pairs']} pairs, {meta['steps']} steps"
    )
    print(
        f"serve it with NIVEL0_EMBEDDING_MODEL={args.out}, then run python -m knowledge.calibrate"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
