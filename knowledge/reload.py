"""Hot reload: a knowledge base that follows the article files while the bot keeps running.

:class:`ReloadingKnowledgeBase` implements :class:`knowledge.service.KnowledgeService` on the
current :class:`knowledge.search.KnowledgeBase` generation. A daemon thread polls the KB
directory every ``kb_reload_seconds`` (``NIVEL0_KB_RELOAD_SECONDS``, default 2; 0 disables the
thread) by file mtime and size. When
something changed it re-parses only the changed files, builds a new ``KnowledgeBase`` (the
on-disk index re-embeds only articles whose search texts changed) and then swaps one reference:
a search that started before the swap finishes on the old state, later ones see the new one,
and nobody ever sees a half-built index. Conversations are not affected (they live in Rasa).

A malformed article is skipped and logged (``load_errors``); the others are served. If the
rebuild itself fails (e.g. the disk is full), the previous state stays in service and the
reload is retried on the next poll.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from knowledge.articles import Article, ArticleError, duplicate_ids, parse_or_error
from knowledge.bands import Calibration
from knowledge.embedding import EmbeddingModel, served_model
from knowledge.search import Hit, KnowledgeBase, SearchOutcome
from knowledge.settings import KnowledgeSettings

logger = logging.getLogger(__name__)

_DEFAULTS = KnowledgeSettings.model_fields

Signature = tuple[int, int]  # (mtime_ns, size)


def scan(kb_dir: Path) -> dict[Path, Signature]:
    """mtime and size of every article file (files vanishing meanwhile are left out)."""
    found: dict[Path, Signature] = {}
    for path in sorted(Path(kb_dir).glob("*/*.md")):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        found[path] = (stat.st_mtime_ns, stat.st_size)
    return found


class ArticleCache:
    """Parsed articles per file, re-parsed only when the file's mtime or size changed.

    :meth:`load` has the result of :func:`knowledge.articles.load_articles` (same order, same
    duplicate-id rule: the later file in path order is skipped) without re-reading unchanged
    files, which matters for a large KB.
    """

    def __init__(self) -> None:
        self._parsed: dict[Path, tuple[Signature, Article | ArticleError]] = {}

    def load(self, files: dict[Path, Signature]) -> tuple[list[Article], list[ArticleError]]:
        parsed: dict[Path, tuple[Signature, Article | ArticleError]] = {}
        for path, signature in files.items():
            cached = self._parsed.get(path)
            if cached is not None and cached[0] == signature:
                parsed[path] = cached
                continue
            parsed[path] = (signature, parse_or_error(path))
        self._parsed = parsed
        return duplicate_ids((path, result) for path, (_, result) in parsed.items())


@dataclass(frozen=True)
class ReloadStatus:
    generation: int  # 1 after the first load, +1 per successful reload
    loaded_at: float  # time.time() of the last successful (re)load
    seconds: float  # how long it took
    articles: int
    errors: int


class ReloadingKnowledgeBase:
    def __init__(
        self,
        kb_dir: Path,
        model: EmbeddingModel,
        index_dir: Path,
        calibration: Calibration,
        max_query_chars: int = _DEFAULTS["max_query_chars"].default,
        interval: float = _DEFAULTS["kb_reload_seconds"].default,
        help_center_url: str = _DEFAULTS["help_center_url"].default,
    ):
        self.kb_dir = Path(kb_dir)
        self.model = model
        self.index_dir = Path(index_dir)
        self.calibration = calibration
        self.max_query_chars = max_query_chars
        self.help_center_url = help_center_url
        self.interval = interval
        self._cache = ArticleCache()
        self._reload_lock = threading.Lock()  # one rebuild at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._files: dict[Path, Signature] = {}
        self._generation = 0
        files = scan(self.kb_dir)
        self._kb = self._build(files)
        self._files = files
        if interval > 0:
            self.start()

    @classmethod
    def from_settings(cls, settings: KnowledgeSettings) -> ReloadingKnowledgeBase:
        """Like :meth:`KnowledgeBase.from_settings`, plus the watcher (``kb_reload_seconds``)."""
        model = served_model(settings)
        return cls(
            settings.kb_dir,
            model,
            settings.index_dir,
            Calibration.load(settings.calibration, model.identity),
            settings.max_query_chars,
            settings.kb_reload_seconds,
            settings.help_center_url,
        )

    # --- the KnowledgeBase interface, always on the current state --------------------------

    @property
    def current(self) -> KnowledgeBase:
        """The state in service now; keep the reference for several calls that must agree."""
        return self._kb

    def search(self, text: str, language: str, k: int = 3) -> SearchOutcome:
        return self._kb.search(text, language, k)

    def next_best(self, text: str | None, language: str, exclude: Collection[str]) -> Hit | None:
        return self._kb.next_best(text, language, exclude)

    def translation(self, article: Article, language: str) -> Article | None:
        return self._kb.translation(article, language)

    def url(self, article: Article) -> str:
        return self._kb.url(article)

    def rank(self, text: str, language: str, k: int = 3) -> list[Hit]:
        return self._kb.rank(text, language, k)

    def get(self, article_id: str) -> Article | None:
        return self._kb.get(article_id)

    def articles(self, language: str | None = None) -> list[Article]:
        return self._kb.articles(language)

    def thresholds(self, language: str):
        return self._kb.thresholds(language)

    def clean_query(self, text: str | None) -> tuple[str, str]:
        return self._kb.clean_query(text)

    def scores(self, queries: list[str], language: str):
        return self._kb.scores(queries, language)

    @property
    def load_errors(self) -> list[ArticleError]:
        return self._kb.load_errors

    @property
    def build_report(self):
        return self._kb.build_report

    # --- reloading -------------------------------------------------------------------------

    @property
    def status(self) -> ReloadStatus:
        return self._status

    def reload_if_changed(self) -> bool:
        """Rebuild and swap if any article file was added, changed or removed since the last
        successful load. Returns whether a new state went into service."""
        with self._reload_lock:
            files = scan(self.kb_dir)
            if files == self._files:
                return False
            self._kb = self._build(files)
            self._files = files
            return True

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="kb-reload", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.reload_if_changed()
            except Exception:  # keep serving the previous state; retried on the next poll
                logger.exception("knowledge base reload failed; still serving the previous state")

    def _build(self, files: dict[Path, Signature]) -> KnowledgeBase:
        started = time.perf_counter()
        articles, errors = self._cache.load(files)
        for error in errors:
            logger.error("skipping invalid article: %s", error)
        kb = KnowledgeBase(
            articles,
            self.model,
            self.index_dir,
            self.calibration,
            self.max_query_chars,
            errors,
            previous=self._kb if self._generation else None,  # reuse what did not change
            help_center_url=self.help_center_url,
        )
        self._generation += 1
        seconds = time.perf_counter() - started
        self._status = ReloadStatus(
            self._generation, time.time(), seconds, len(articles), len(errors)
        )
        logger.info(
            "knowledge base generation %d from %s: %d articles, %d invalid, %s (%.2f s)",
            self._generation,
            self.kb_dir,
            len(articles),
            len(errors),
            kb.build_report,
            seconds,
        )
        return kb
