"""Semantic search over the knowledge base with confidence bands.

Score of an article for a query, within the customer's language only::

    score = (1 - w) * max_i cos(embed(query), embed(text_i))
            +     w * max_i cos(tfidf(query), tfidf(text_i))

where text_i are the article's title, alternative questions and summary (max-sim over several
vectors per article), tfidf is a character n-gram TF-IDF fitted on that language's texts and the
lexical weight w is chosen per language by calibration (0 = pure embeddings). Draft articles are
loaded (``get`` finds them) but never searched.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse

from knowledge.articles import Article, ArticleError, article_id, article_url, load_articles
from knowledge.bands import Band, Calibration, Thresholds, assign_band
from knowledge.embedding import EmbeddingModel, served_model
from knowledge.index import build_vectors, content_hash, search_texts
from knowledge.lexical import LexicalIndex, count_rows, empty_rows
from knowledge.settings import LANGUAGES, KnowledgeSettings

__all__ = ["Band", "Hit", "KnowledgeBase", "SearchOutcome"]

logger = logging.getLogger(__name__)

_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Hit:
    """An article and its hybrid score; ``dense`` and ``lexical`` are the two components."""

    article: Article
    score: float
    dense: float = 0.0
    lexical: float = 0.0


@dataclass(frozen=True)
class SearchOutcome:
    """``hits`` are best first: the answer (ANSWER), the candidates (CLARIFY), none (FALLBACK).

    ``reason`` says why the band was chosen: confident, ambiguous, low_score, empty, no_letters,
    too_long.
    """

    band: Band
    hits: list[Hit] = field(default_factory=list)
    reason: str = ""


@dataclass(frozen=True)
class Scores:
    """Per-article component scores of a batch of queries (rows) in one language."""

    articles: list[Article]
    dense: np.ndarray  # (queries, articles)
    lexical: np.ndarray  # (queries, articles)

    def combined(self, lexical_weight: float) -> np.ndarray:
        return (1.0 - lexical_weight) * self.dense + lexical_weight * self.lexical


class _LanguageIndex:
    """Vectors and lexical index of the published articles of one language.

    Built from the previous generation's index of the language when there is one: unchanged
    articles keep their lexical count rows (only new or edited articles are analysed), and an
    unchanged language is reused as it is.
    """

    def __init__(
        self,
        articles: list[Article],
        vectors: dict[str, np.ndarray],
        previous: _LanguageIndex | None = None,
    ):
        self.articles = articles
        self.keys = [content_hash(a) for a in articles]
        counts = [len(search_texts(a)) for a in articles]
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
        if previous is not None and previous.keys == self.keys:
            self.vectors, self.lexical = previous.vectors, previous.lexical
            return
        self.vectors = np.vstack([vectors[a.id] for a in articles])
        self.lexical = LexicalIndex(self._count_rows(previous))

    def _count_rows(self, previous: _LanguageIndex | None) -> sparse.csr_matrix:
        """The lexical count rows of all texts, in article order, reusing ``previous``'s."""
        rows_of = previous.rows_by_key() if previous is not None else {}
        fresh = [a for a, key in zip(self.articles, self.keys, strict=True) if key not in rows_of]
        old = previous.lexical.counts if previous is not None else empty_rows()
        new = count_rows([t for a in fresh for t in search_texts(a)]) if fresh else empty_rows()
        cursor = old.shape[0]  # rows of ``new`` follow those of ``old``
        order: list[np.ndarray] = []
        for article, key in zip(self.articles, self.keys, strict=True):
            rows = rows_of.get(key)
            if rows is None:
                rows = np.arange(cursor, cursor + len(search_texts(article)))
                cursor = int(rows[-1]) + 1
            order.append(rows)
        return sparse.vstack([old, new], format="csr")[np.concatenate(order)]

    def rows_by_key(self) -> dict[str, np.ndarray]:
        ends = [*self.starts[1:], self.vectors.shape[0]]
        return {
            key: np.arange(start, end)
            for key, start, end in zip(self.keys, self.starts, ends, strict=True)
        }

    def scores(self, query_vectors: np.ndarray, queries: list[str]) -> Scores:
        dense = np.maximum.reduceat(query_vectors @ self.vectors.T, self.starts, axis=1)
        lexical = np.maximum.reduceat(self.lexical.similarities(queries), self.starts, axis=1)
        return Scores(self.articles, dense, lexical)


_DEFAULTS = KnowledgeSettings.model_fields


class KnowledgeBase:
    """One generation of the knowledge base: the articles, their index and the bands.

    It implements :class:`knowledge.service.KnowledgeService`; serving processes use the
    reloading wrapper :class:`knowledge.reload.ReloadingKnowledgeBase`.
    """

    def __init__(
        self,
        articles: list[Article],
        model: EmbeddingModel,
        index_dir: Path,
        calibration: Calibration,
        max_query_chars: int = _DEFAULTS["max_query_chars"].default,
        load_errors: list[ArticleError] | None = None,
        previous: KnowledgeBase | None = None,
        help_center_url: str = _DEFAULTS["help_center_url"].default,
    ):
        """``previous``: the knowledge base this one replaces (hot reload); when it uses the same
        model, its in-memory vectors and lexical rows are reused for unchanged articles.
        """
        self.model = model
        self.calibration = calibration
        self.max_query_chars = max_query_chars
        self.help_center_url = help_center_url
        self.load_errors = load_errors or []
        self._by_id = {a.id: a for a in articles}
        published = [a for a in articles if a.is_published]
        reuse = previous is not None and previous.model.identity == model.identity
        self._vector_memory: dict[str, np.ndarray] = (
            previous._vector_memory if previous is not None and reuse else {}
        )
        vectors, self.build_report = build_vectors(published, model, index_dir, self._vector_memory)
        self._indexes = {
            lang: _LanguageIndex(
                group, vectors, previous._indexes.get(lang) if previous and reuse else None
            )
            for lang in LANGUAGES
            if (group := [a for a in published if a.language == lang])
        }

    @classmethod
    def from_settings(cls, settings: KnowledgeSettings) -> KnowledgeBase:
        """Load articles, model, index and calibration as ``settings`` configure them."""
        loaded = load_articles(settings.kb_dir)
        model = served_model(settings)
        return cls(
            loaded.articles,
            model,
            settings.index_dir,
            Calibration.load(settings.calibration, model.identity),
            settings.max_query_chars,
            loaded.errors,
            help_center_url=settings.help_center_url,
        )

    def get(self, article_id: str) -> Article | None:
        return self._by_id.get(article_id)

    def articles(self, language: str | None = None) -> list[Article]:
        return [a for a in self._by_id.values() if language in (None, a.language)]

    def thresholds(self, language: str) -> Thresholds:
        return self.calibration.for_language(language)

    def clean_query(self, text: str | None) -> tuple[str, str]:
        """``(query, "")`` or ``("", reason)`` when the input must not be searched."""
        query = _WHITESPACE.sub(" ", text or "").strip()
        if not query:
            return "", "empty"
        if len(query) > self.max_query_chars:
            return "", "too_long"
        if sum(ch.isalpha() for ch in query) < 2:
            return "", "no_letters"
        return query, ""

    def scores(self, queries: list[str], language: str) -> Scores:
        """Component scores for cleaned queries (used by search, calibration and evaluation)."""
        index = self._index(language)
        if index is None:
            return Scores([], np.zeros((len(queries), 0)), np.zeros((len(queries), 0)))
        return index.scores(self.model.encode_queries(queries), queries)

    def rank(self, text: str, language: str, k: int = 3) -> list[Hit]:
        """The k best articles regardless of confidence ([] for input that is not searched)."""
        query, reason = self.clean_query(text)
        if reason:
            return []
        scores = self.scores([query], language)
        combined = scores.combined(self.thresholds(language).lexical_weight)[0]
        order = np.argsort(-combined, kind="stable")[:k]
        return [
            Hit(
                scores.articles[i],
                float(combined[i]),
                float(scores.dense[0, i]),
                float(scores.lexical[0, i]),
            )
            for i in order
        ]

    def next_best(self, text: str | None, language: str, exclude: Collection[str]) -> Hit | None:
        """The best article for ``text`` whose id is not in ``exclude``, if it clears the
        calibrated clarify threshold (the score at which the search would still have offered
        it as a candidate); None otherwise."""
        if not text:
            return None
        minimum = self.thresholds(language).clarify_min
        for hit in self.rank(text, language, k=len(exclude) + 1):
            if hit.article.id not in exclude:
                return hit if hit.score >= minimum else None
        return None

    def translation(self, article: Article, language: str) -> Article | None:
        """The same topic in ``language`` if it is published there (``article`` itself when it
        is in ``language`` already)."""
        if article.language == language:
            return article
        other = self.get(article_id(article.topic, language))
        return other if other is not None and other.is_published else None

    def url(self, article: Article) -> str:
        """The article's page in the help centre: ``<help_center_url>/<language>/<topic>``."""
        return article_url(self.help_center_url, article.language, article.topic)

    def search(self, text: str, language: str, k: int = 3) -> SearchOutcome:
        """Best articles in ``language`` for the customer's text, with a confidence band."""
        query, reason = self.clean_query(text)
        if reason:
            return SearchOutcome(Band.FALLBACK, [], reason)
        hits = self.rank(query, language, k=max(k, 2))
        if not hits:
            return SearchOutcome(Band.FALLBACK, [], "low_score")
        t = self.thresholds(language)
        second = hits[1].score if len(hits) > 1 else -1.0
        band = assign_band(hits[0].score, second, t)
        if band is Band.ANSWER:
            return SearchOutcome(band, hits[:1], "confident")
        if band is Band.CLARIFY:
            return SearchOutcome(
                band, [h for h in hits[:k] if h.score >= t.clarify_min], "ambiguous"
            )
        return SearchOutcome(band, [], "low_score")

    def _index(self, language: str) -> _LanguageIndex | None:
        if language not in LANGUAGES:
            raise ValueError(f"unsupported language {language!r}; expected one of {LANGUAGES}")
        return self._indexes.get(language)
