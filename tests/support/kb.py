"""The one fixture-KB writer of the test packages: articles built as
:class:`knowledge.articles.Article` and written with :meth:`Article.dump`, so fixture files are
exactly the format the parser reads and ``kb new`` writes.

    write_kb(tmp_path / "kb", [fixture_article("order-status", "en", "Where is my order?")])

Invalid files (for the parser's own tests) cannot be built as an ``Article``; write their text
directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path

from knowledge.articles import Article, Category, article_path

FIXTURE_DATE = dt.date(2026, 10, 12)
FIXTURE_QUESTIONS = ("question one", "question two", "question three")


def fixture_article(
    topic: str,
    language: str,
    title: str,
    *,
    category: Category | str = Category.ACCOUNT,
    summary: str | None = None,
    questions: Sequence[str] = FIXTURE_QUESTIONS,
    body: str = "Some text.\n\n## Details\n\nMore text.",
    status: str = "published",
    tags: Sequence[str] = ("test",),
    updated: dt.date = FIXTURE_DATE,
) -> Article:
    """A valid article; only what a test cares about needs to be given."""
    return Article.new(
        topic=topic,
        title=title,
        language=language,
        category=category,
        tags=list(tags),
        summary=summary if summary is not None else f"Summary of {topic}.",
        questions=list(questions),
        updated=updated,
        status=status,
        body=body,
    )


def write_kb(directory: Path, articles: Iterable[Article]) -> Path:
    """Write each article at its place (``<directory>/<language>/<topic>.md``), replacing a file
    that is there (tests edit articles this way); returns ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for article in articles:
        path = article_path(directory, article.language, article.topic)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(article.dump(), encoding="utf-8")
    return directory
