"""Help-centre search: the knowledge package's KnowledgeBase, loaded on first use.

Loading the embedding model takes seconds, so pages that only browse never wait for it. A failed
load is logged and retried on the next search.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

from knowledge.search import KnowledgeBase, SearchOutcome
from knowledge.settings import limit_search_threads

logger = logging.getLogger(__name__)

SEARCH_K = 5


class SearchUnavailable(RuntimeError):
    """The knowledge base could not be loaded."""


class SearchService:
    def __init__(self, factory: Callable[[], KnowledgeBase] = KnowledgeBase.from_env):
        self._factory = factory
        self._kb: KnowledgeBase | None = None
        self._lock = threading.Lock()

    def knowledge_base(self) -> KnowledgeBase:
        with self._lock:
            if self._kb is None:
                try:
                    limit_search_threads()
                    self._kb = self._factory()
                except Exception as exc:
                    logger.exception("cannot load the knowledge base")
                    raise SearchUnavailable(str(exc)) from exc
            return self._kb

    def warm_up(self) -> None:
        """Load the knowledge base now (e.g. in a background thread at start-up)."""
        with contextlib.suppress(SearchUnavailable):  # already logged; the next search retries
            self.knowledge_base()

    def search(self, query: str, language: str) -> SearchOutcome:
        return self.knowledge_base().search(query, language=language, k=SEARCH_K)
