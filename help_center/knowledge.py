"""The help centre's knowledge service: one reloading knowledge base for browsing and search.

Pages and search read the same :class:`knowledge.reload.ReloadingKnowledgeBase` the action
server uses, so an edited, added or removed article file shows in the help centre within
``NIVEL0_KB_RELOAD_SECONDS`` without a restart, exactly as the bot sees it.

Loading the embedding model and the index takes seconds, so the load runs in a warm-up thread
that the app starts with the server (:meth:`HelpKnowledge.start_warm_up`): start-up does not
wait for it, and a request that arrives during those first seconds waits for the load instead
of failing. A failed load is logged, the request gets a "not available" page, and the next
request tries again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from knowledge.articles import Article, Category, article_id
from knowledge.reload import ReloadingKnowledgeBase
from knowledge.service import KnowledgeService
from knowledge.settings import KnowledgeSettings

logger = logging.getLogger(__name__)


class KnowledgeUnavailable(RuntimeError):
    """The knowledge base could not be loaded."""


class HelpKnowledge:
    """The one knowledge base of a help-centre process, loaded once, on first use or warm-up."""

    def __init__(self, load: Callable[[], ReloadingKnowledgeBase]):
        self._load = load
        self._kb: ReloadingKnowledgeBase | None = None
        self._lock = threading.Lock()
        self._warm_up: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: KnowledgeSettings) -> HelpKnowledge:
        def load() -> ReloadingKnowledgeBase:
            settings.limit_search_threads()
            return ReloadingKnowledgeBase.from_settings(settings)

        return cls(load)

    def service(self) -> KnowledgeService:
        """The knowledge base, loading it (or waiting for the warm-up) if it is not in yet."""
        with self._lock:
            if self._kb is None:
                try:
                    self._kb = self._load()
                except Exception as exc:
                    logger.exception("cannot load the knowledge base")
                    raise KnowledgeUnavailable(str(exc)) from exc
            return self._kb

    def warm_up(self) -> None:
        """Load the knowledge base now; a failure is logged and retried by the next request."""
        with contextlib.suppress(KnowledgeUnavailable):
            self.service()

    def start_warm_up(self) -> None:
        """Load in a background thread (once per instance)."""
        if self._warm_up is None:
            self._warm_up = threading.Thread(target=self.warm_up, name="kb-warm-up", daemon=True)
            self._warm_up.start()

    def close(self) -> None:
        """Stop following the article files."""
        with self._lock:
            if self._kb is not None:
                self._kb.stop()


@dataclass(frozen=True)
class CategoryGroup:
    category: Category
    articles: list[Article]


def published_article(kb: KnowledgeService, language: str, topic: str) -> Article | None:
    """The published article of ``topic`` in ``language``, if there is one."""
    article = kb.get(article_id(topic, language))
    return article if article is not None and article.is_published else None


def by_category(kb: KnowledgeService, language: str) -> list[CategoryGroup]:
    """Published articles grouped in :class:`Category` order, by title; empty groups left out."""
    published = [a for a in kb.articles(language) if a.is_published]
    groups = []
    for category in Category:
        articles = sorted(
            (a for a in published if a.category == category), key=lambda a: a.title.casefold()
        )
        if articles:
            groups.append(CategoryGroup(category, articles))
    return groups
