"""The template behind ``kb new``: a new article file that passes the schema, as a draft.

A new article is a draft (``status: draft``): the bot ignores it and ``kb lint`` reports its
``TODO`` placeholders as warnings until the editor fills them in and sets ``status: published``
(then leftover placeholders are errors).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path
from typing import get_args

import yaml

from knowledge.articles import Article, ArticleError, Category, parse_article
from knowledge.lint import PLACEHOLDER
from knowledge.settings import LANGUAGES

MAX_TOPIC_CHARS = 60
CATEGORIES: tuple[str, ...] = get_args(Category)

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


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_TOPIC_CHARS].rstrip("-")


def article_text(
    *,
    topic: str,
    title: str,
    language: str,
    category: str,
    summary: str,
    questions: list[str],
    updated: dt.date,
    status: str,
    body: str,
) -> str:
    """The text of an article file: YAML front matter in the order of docs/kb-format.md (tagged
    with its category), then the Markdown body. Not validated: :func:`parse_article` does that."""
    meta = {
        "id": f"{topic}-{language}",
        "topic": topic,
        "title": title,
        "language": language,
        "category": category,
        "tags": [category],
        "summary": summary,
        "questions": questions,
        "updated": updated,
        "status": status,
    }
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=100)
    return f"---\n{front}---\n\n{body}"


def article_template(topic: str, title: str, language: str, category: str, today: dt.date) -> str:
    text = _TEXT[language]
    return article_text(
        topic=topic,
        title=title,
        language=language,
        category=category,
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
    if category not in CATEGORIES:
        raise NewArticleError(f"category must be one of {', '.join(CATEGORIES)}, got {category!r}")
    topic = topic or slugify(title)
    if not topic or slugify(topic) != topic:
        raise NewArticleError(
            f"topic {topic!r} must be lowercase words joined by '-' (e.g. {slugify(title)!r})"
        )
    article_id = f"{topic}-{language}"
    path = Path(kb_dir) / language / f"{topic}.md"
    if path.exists():
        raise NewArticleError(f"{path} already exists: edit it, or choose another --topic")
    declared = re.compile(rf"(?m)^id:\s*['\"]?{re.escape(article_id)}['\"]?\s*$")
    for other in sorted(Path(kb_dir).glob("*/*.md")):
        if declared.search(other.read_text("utf-8", errors="replace")):
            raise NewArticleError(f"id {article_id!r} is already used by {other}")
    text = article_template(topic, title, language, category, today or dt.date.today())
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as handle:
        handle.write(text)
    try:
        return parse_article(path)
    except ArticleError:
        path.unlink()  # the schema refuses it (e.g. a 200-character title): leave nothing behind
        raise
