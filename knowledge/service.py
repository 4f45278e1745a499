"""The knowledge-service interface: what the action server, the help centre and ``kb`` ask of
the knowledge base.

:class:`knowledge.search.KnowledgeBase` (one generation) and
:class:`knowledge.reload.ReloadingKnowledgeBase` (follows article edits; what serving processes
use) implement it; action tests use a small fake of it. The confidence bands are applied in one
place, :meth:`KnowledgeService.search`: callers read ``SearchOutcome.band``, never thresholds.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from knowledge.articles import Article
    from knowledge.search import Hit, SearchOutcome


@runtime_checkable
class KnowledgeService(Protocol):
    def search(self, text: str, language: str, k: int = 3) -> SearchOutcome:
        """Best articles for the customer's text with their band (answer, clarify, fallback)."""
        ...

    def next_best(self, text: str | None, language: str, exclude: Collection[str]) -> Hit | None:
        """The best article not in ``exclude`` if it clears the clarify threshold, else None."""
        ...

    def translation(self, article: Article, language: str) -> Article | None:
        """The published article of the same topic in ``language``."""
        ...

    def url(self, article: Article) -> str:
        """The article's help-centre page."""
        ...

    def get(self, article_id: str) -> Article | None:
        """An article by id, drafts included."""
        ...

    def articles(self, language: str | None = None) -> list[Article]:
        """All loaded articles (drafts included), optionally of one language."""
        ...
