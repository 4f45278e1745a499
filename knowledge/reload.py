"""Hot reload: a knowledge base that follows the article files while the bot keeps running.

:class:`ReloadingKnowledgeBase` has the search interface of
:class:`knowledge.search.KnowledgeBase` (``search``, ``rank``, ``get``, ``articles``,
``thresholds``, ``clean_query``, ``scores``). A daemon thread polls the KB directory every
``NIVEL0_KB_RELOAD_SECONDS`` (default 2; 0 disables the thread) by file mtime and size. When
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
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from knowledge.articles import Article, ArticleError, parse_article
from knowledge.bands import Calibration
from knowledge.embedding import EmbeddingModel, load_model
from knowledge.search import KnowledgeBase
from knowledge.settings import DEFAULT_MAX_QUERY_CHARS, Settings

logger = logging.getLogger(__name__)

RELOAD_SECONDS_ENV = "NIVEL0_KB_RELOAD_SECONDS"
DEFAULT_RELOAD_SECONDS = 2.0

Signature = tuple[int, int]  # (mtime_ns, size)


def reload_interval() -> float:
    value = os.environ.get(RELOAD_SECONDS_ENV, str(DEFAULT_RELOAD_SECONDS))
    try:
        seconds = float(value)
    except ValueError as exc:
        raise ValueError(
            f"{RELOAD_SECONDS_ENV} must be a number of seconds, got {value!r}"
        ) from exc
    if seconds < 0:
        raise ValueError(f"{RELOAD_SECONDS_ENV} must be >= 0, got {value!r}")
    return seconds


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
            try:
                parsed[path] = (signature, parse_article(path))
            except ArticleError as err:
                parsed[path] = (signature, err)
        self._parsed = parsed
        articles: list[Article] = []
        errors: list[ArticleError] = []
        seen: dict[str, Path] = {}
        for path, (_, result) in parsed.items():
            if isinstance(result, Article) and result.id in seen:
                result = ArticleError(
                    path, [("id", f"duplicate id {result.id!r}, also in {seen[result.id]}")]
                )
            if isinstance(result, ArticleError):
                errors.append(result)
                continue
            seen[result.id] = path
            articles.append(result)
        return articles, errors


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
        max_query_chars: int = DEFAULT_MAX_QUERY_CHARS,
        interval: float = DEFAULT_RELOAD_SECONDS,
    ):
        self.kb_dir = Path(kb_dir)
        self.model = model
        self.index_dir = Path(index_dir)
        self.calibration = calibration
        self.max_query_chars = max_query_chars
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
    def from_env(cls) -> ReloadingKnowledgeBase:
        """Like :meth:`KnowledgeBase.from_env`, plus the watcher (``NIVEL0_KB_RELOAD_SECONDS``)."""
        settings = Settings.from_env()
        model = load_model(settings.model_path)
        return cls(
            settings.kb_dir,
            model,
            settings.index_dir,
            Calibration.load(settings.calibration_path, model.identity),
            settings.max_query_chars,
            reload_interval(),
        )

    # --- the KnowledgeBase interface, always on the current state --------------------------

    @property
    def current(self) -> KnowledgeBase:
        """The state in service now; keep the reference for several calls that must agree."""
        return self._kb

    def search(self, text: str, language: str, k: int = 3):
        return self._kb.search(text, language, k)

    def rank(self, text: str, language: str, k: int = 3):
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
