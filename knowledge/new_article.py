"""The template behind ``kb new``: a new article file that passes the schema, as a draft.

A new article is a draft (``status: draft``): the bot ignores it and ``kb lint`` reports its
``TODO`` placeholders as warnings until the editor fills them in and sets ``status: published``
(then leftover placeholders are errors).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import ValidationError

from knowledge.articles import (
    Article,
    ArticleError,
    Category,
    article_path,
    slugify,
    write_article,
)
from knowledge.lint import PLACEHOLDER
from knowledge.settings import LANGUAGES

_TEXT = {
    "en": {
        "summary": f"{PLACEHOLDER}: the short answer shown in the chat (1-3 sentences).",
        "questions": [
            f"{PLACEHOLDER}: how a customer asks this",
            f"{PLACEHOLDER}: another way to ask it",
            f"{PLACEHOLDER}: a third way to ask it",
        ],
        "body": (
            f"{PLACEHOLDER}: one or two sentences of introduction.\n\n"
            f"## What to do\n\n1. {PLACEHOLDER}: first step.\n2. {PLACEHOLDER}: second step.\n\n"
            f"## When to contact us\n\n{PLACEHOLDER}: when the steps above do not help.\n"
        ),
    },
    "es": {
        "summary": f"{PLACEHOLDER}: la respuesta corta que se muestra en el chat (1-3 frases).",
        "questions": [
            f"{PLACEHOLDER}: cómo lo pregunta un cliente",
            f"{PLACEHOLDER}: otra forma de preguntarlo",
            f"{PLACEHOLDER}: una tercera forma de preguntarlo",
        ],
        "body": (
            f"{PLACEHOLDER}: una o dos frases de introducción.\n\n"
            f"## Qué hacer\n\n1. {PLACEHOLDER}: primer paso.\n2. {PLACEHOLDER}: segundo paso.\n\n"
            f"## Cuándo contactarnos\n\n{PLACEHOLDER}: cuándo no bastan los pasos anteriores.\n"
        ),
    },
}


class NewArticleError(ValueError):
    """The article cannot be created as asked (bad topic, already exists)."""


def template_article(
    topic: str, title: str, language: str, category: str, today: dt.date
) -> Article:
    """The draft ``kb new`` writes: the title, and placeholders for everything else."""
    text = _TEXT[language]
    return Article.new(
        topic=topic,
        title=title,
        language=language,
        category=category,
        tags=[category],
        summary=text["summary"],
        questions=text["questions"],
        updated=today,
        status="draft",
        body=text["body"],
    )


def create_article(
    kb_dir: Path,
    title: str,
    language: str,
    category: str,
    topic: str | None = None,
    today: dt.date | None = None,
) -> Article:
    """Write ``<kb_dir>/<language>/<topic>.md`` (never overwriting) and return it, validated.

    The id ``<topic>-<language>`` must be fresh: no file of the KB may use it already.
    """
    title = " ".join(title.split())
    if not title:
        raise NewArticleError("the title is empty")
    if language not in LANGUAGES:
        raise NewArticleError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    categories = [c.value for c in Category]
    if category not in categories:
        raise NewArticleError(f"category must be one of {', '.join(categories)}, got {category!r}")
    topic = topic or slugify(title)
    if not topic or slugify(topic) != topic:
        raise NewArticleError(
            f"topic {topic!r} must be lowercase words joined by '-' (e.g. {slugify(title)!r})"
        )
    path = article_path(kb_dir, language, topic)
    if path.exists():
        raise NewArticleError(f"{path} already exists: edit it, or choose another --topic")
    try:
        article = template_article(topic, title, language, category, today or dt.date.today())
        return write_article(article, kb_dir)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise NewArticleError(problems) from exc
    except ArticleError as exc:  # the id is taken by another file
        raise NewArticleError(str(exc)) from exc
