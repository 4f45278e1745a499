"""The published articles the help centre lists, read with knowledge.articles.load_articles.

Browsing needs no embedding model, so the catalogue reads the files directly; searching goes
through :class:`help_center.search.SearchService` (the knowledge package's KnowledgeBase).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from help_center.i18n import CATEGORY_ORDER
from knowledge.articles import Article, load_articles
from knowledge.settings import LANGUAGES

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CategoryGroup:
    category: str
    articles: list[Article]


class Catalog:
    def __init__(self, articles: list[Article]):
        published = [a for a in articles if a.is_published]
        self._by_key = {(a.language, a.topic): a for a in published}

    @classmethod
    def load(cls, kb_dir: Path) -> Catalog:
        loaded = load_articles(kb_dir)
        if loaded.errors:
            logger.warning("%d invalid article(s) in %s are not shown", len(loaded.errors), kb_dir)
        return cls(loaded.articles)

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, language: str, topic: str) -> Article | None:
        return self._by_key.get((language, topic))

    def translation(self, article: Article) -> Article | None:
        """The same topic in the other language, if published."""
        other = next(lang for lang in LANGUAGES if lang != article.language)
        return self.get(other, article.topic)

    def by_category(self, language: str) -> list[CategoryGroup]:
        """Categories in the help centre's order, articles by title; empty categories left out."""
        groups = []
        for category in CATEGORY_ORDER:
            articles = sorted(
                (
                    a
                    for a in self._by_key.values()
                    if a.language == language and a.category == category
                ),
                key=lambda a: a.title.casefold(),
            )
            if articles:
                groups.append(CategoryGroup(category, articles))
        return groups
