"""On-disk embedding index, keyed by model identity and a content hash per article.

Layout: ``<index_dir>/<model identity>/<article content hash>.npy`` holds the vectors of the
article's search texts (:func:`search_texts`). An article whose texts did not change is never
re-embedded; a new model identity starts a new directory. Files are written atomically, so an
interrupted build leaves no half-written vectors, and stale files of the current model are removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from knowledge.articles import Article, ArticleError
from knowledge.embedding import EmbeddingModel

if TYPE_CHECKING:
    from knowledge.settings import KnowledgeSettings

logger = logging.getLogger(__name__)

# Bump when search_texts() changes meaning, so old vectors are not reused by mistake.
_TEXTS_VERSION = 1


def search_texts(article: Article) -> list[str]:
    """The texts embedded for an article: title, each alternative question, summary (max-sim)."""
    return [article.title, *article.questions, article.summary]


def content_hash(article: Article) -> str:
    payload = json.dumps(
        {"v": _TEXTS_VERSION, "lang": article.language, "texts": search_texts(article)},
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class BuildReport:
    embedded: int  # articles whose vectors were computed now
    reused: int  # articles whose vectors came from disk
    removed: int  # stale vector files deleted
    embedded_texts: int

    def __str__(self) -> str:
        return (
            f"embedded {self.embedded} articles ({self.embedded_texts} texts), "
            f"reused {self.reused}, removed {self.removed} stale"
        )


def build_vectors(
    articles: list[Article],
    model: EmbeddingModel,
    index_dir: Path,
    memory: dict[str, np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], BuildReport]:
    """Vectors per article id (rows match :func:`search_texts`), embedding only what changed.

    ``memory`` (content hash -> vectors), when given, is consulted before the disk and left
    holding exactly the current articles' vectors: a long-lived knowledge base passes the same
    dict to every rebuild, so an edit costs one article's embedding, not reading the whole index.
    """
    model_dir = Path(index_dir) / model.identity
    model_dir.mkdir(parents=True, exist_ok=True)
    known = memory if memory is not None else {}
    vectors: dict[str, np.ndarray] = {}
    keys: dict[str, str] = {}
    missing: list[tuple[Article, str]] = []
    for article in articles:
        key = keys[article.id] = content_hash(article)
        cached = known.get(key)
        if cached is None:
            cached = _read(model_dir / f"{key}.npy", len(search_texts(article)))
        if cached is None:
            missing.append((article, key))
        else:
            vectors[article.id] = cached
    texts = [text for article, _ in missing for text in search_texts(article)]
    if texts:
        encoded = model.encode(texts)
        start = 0
        for article, key in missing:
            n = len(search_texts(article))
            vectors[article.id] = encoded[start : start + n]
            _write_atomic(model_dir / f"{key}.npy", vectors[article.id])
            start += n
    if memory is not None:
        memory.clear()
        memory.update((keys[article_id], v) for article_id, v in vectors.items())
    keep = {f"{key}.npy" for key in keys.values()}
    removed = 0
    for file in model_dir.glob("*.npy"):
        if file.name not in keep:
            file.unlink(missing_ok=True)
            removed += 1
    report = BuildReport(
        embedded=len(missing),
        reused=len(articles) - len(missing),
        removed=removed,
        embedded_texts=len(texts),
    )
    logger.info("index %s: %s", model_dir, report)
    return vectors, report


@dataclass(frozen=True)
class ReindexResult:
    """What :func:`reindex` did: where, with which model, and what it found in the KB."""

    model_dir: Path
    report: BuildReport
    published: int
    drafts: int
    errors: list[ArticleError] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"index {self.model_dir}: {self.report}; {self.published} published articles "
            f"indexed, {self.drafts} drafts not indexed, {len(self.errors)} invalid"
        )


def reindex(settings: KnowledgeSettings, progress: bool = False) -> ReindexResult:
    """Build or refresh the on-disk index of the published articles (what ``make index`` and
    ``kb reindex`` run): the same article set the serving knowledge base indexes, so neither
    deletes the other's vectors. ``progress`` shows a bar on stderr while embedding."""
    from knowledge.articles import load_articles
    from knowledge.embedding import served_model

    loaded = load_articles(settings.kb_dir)
    published = [a for a in loaded.articles if a.is_published]
    model = served_model(settings)
    encoder = _ProgressEncoder(model) if progress else model
    _, report = build_vectors(published, encoder, settings.index_dir)
    return ReindexResult(
        Path(settings.index_dir) / model.identity,
        report,
        len(published),
        len(loaded.articles) - len(published),
        loaded.errors,
    )


class _ProgressEncoder:
    """The embedding model with a tqdm bar: ``build_vectors`` hands all new texts to one
    ``encode`` call, which this splits into batches."""

    def __init__(self, model: EmbeddingModel, batch: int = 256):
        self._model = model
        self.identity = model.identity
        self.batch = batch

    def encode(self, texts: list[str]) -> np.ndarray:
        from tqdm import tqdm

        parts = []
        with tqdm(total=len(texts), unit="text", desc="embedding", file=sys.stderr) as bar:
            for start in range(0, len(texts), self.batch):
                chunk = texts[start : start + self.batch]
                parts.append(self._model.encode(chunk))
                bar.update(len(chunk))
        return np.vstack(parts)


def _read(path: Path, rows: int) -> np.ndarray | None:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if array.ndim != 2 or array.shape[0] != rows:
        logger.warning("ignoring corrupt index file %s", path)
        return None
    return array.astype(np.float32, copy=False)


def _write_atomic(path: Path, array: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
