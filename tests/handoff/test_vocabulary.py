"""The service's ticket categories are the KB's (knowledge.articles owns the list) plus other."""

from __future__ import annotations

from handoff_service.vocabulary import Category
from knowledge.articles import Category as ArticleCategory


def test_ticket_categories_are_the_kb_categories_plus_other() -> None:
    assert [c.value for c in Category] == [c.value for c in ArticleCategory] + ["other"]
    assert Category.DEVICE_SETUP == "device-setup" and Category.OTHER == "other"
    assert Category(ArticleCategory.PRIVACY) is Category.PRIVACY
