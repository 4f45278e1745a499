"""Turn a resolved ticket into a draft KB article (tier 3's feedback loop).

The draft is a :class:`knowledge.articles.Article` with ``status: draft`` (the bot ignores
drafts until an editor publishes them), written by :func:`knowledge.articles.write_article`,
the format's one writer: it places the file at ``<kb_dir>/<language>/<topic>.md``, never
overwrites one, and re-parses what it wrote. A draft that would not be a valid article is a
:class:`DraftError` (HTTP 422) and leaves no file behind.

An article is public, so a draft never copies what the customer wrote (their messages, or the
summary that quotes them): its title, questions and summary are the agent's, in general words,
and its solution is the agent's resolution note.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import ValidationError

from handoff_service.models import Ticket
from handoff_service.schemas import KbDraftIn
from handoff_service.vocabulary import Category
from knowledge.articles import (
    MAX_QUESTIONS,
    MAX_SUMMARY_CHARS,
    MAX_TOPIC_CHARS,
    MIN_QUESTIONS,
    Article,
    ArticleError,
    article_path,
    slugify,
    write_article,
)
from knowledge.articles import Category as ArticleCategory

MAX_QUESTION_CHARS = 200
#: Drafts one ticket may make. A ticket documents one solution: a second or third draft
#: (another title or topic) is a correction, more is an agent token filling the KB folder
#: with files for editors to review.
MAX_DRAFTS_PER_TICKET = 3

HEADINGS = {
    "en": ("Question", "Solution", "Source"),
    "es": ("Pregunta", "Solución", "Origen"),
}


class DraftError(ValueError):
    """The ticket lacks something the draft needs, or the draft is not a valid article (422)."""


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _questions(title: str, given: list[str] | None) -> list[str]:
    """The agent's questions and the title, without repeats."""
    seen: list[str] = []
    for text in [*(given or []), title]:
        question = _shorten(text, MAX_QUESTION_CHARS)
        if question and question.lower() not in {q.lower() for q in seen}:
            seen.append(question)
    if len(seen) < MIN_QUESTIONS:
        raise DraftError(
            f"give at least {MIN_QUESTIONS - 1} questions besides the title, as customers would "
            "ask them, in general words (a draft never copies the customer's messages: an "
            "article is public)"
        )
    return seen[:MAX_QUESTIONS]


def _topic(ticket: Ticket, title: str, given: str | None, kb_dir: Path) -> str:
    """The requested topic, else one from the title; another ticket's draft is never replaced:
    a taken topic gets the ticket number appended (within the topic length)."""
    if given is not None and slugify(given) != given:
        raise DraftError(
            f"topic {given!r} must be lowercase words joined by '-', at most "
            f"{MAX_TOPIC_CHARS} characters (e.g. {slugify(given)!r})"
        )
    topic = given or slugify(title) or slugify(ticket.number)
    if not article_path(kb_dir, ticket.language, topic).exists():
        return topic
    suffix = slugify(ticket.number)
    return f"{topic[: MAX_TOPIC_CHARS - len(suffix) - 1].rstrip('-')}-{suffix}"


def build_draft(ticket: Ticket, request: KbDraftIn, kb_dir: Path, today: dt.date) -> Article:
    """The draft article for ``ticket``, validated as any article is; :class:`DraftError` if
    the ticket cannot become one."""
    category = request.category or Category(ticket.category)
    if category is Category.OTHER:
        raise DraftError("the ticket's category is 'other'; give a KB category for the article")
    if not ticket.resolution_note:
        raise DraftError("the ticket has no resolution note")
    if not request.title:
        raise DraftError(
            "give a title, the question in general words (a draft never copies the customer's "
            "messages: an article is public)"
        )
    title = request.title
    questions = _questions(title, request.questions)
    topic = _topic(ticket, title, request.topic, kb_dir)
    language = ticket.language
    asked, solution, source = HEADINGS[language]
    body = (
        f"## {asked}\n\n{title}\n\n"
        f"## {solution}\n\n{ticket.resolution_note}\n\n"
        f"## {source}\n\nTicket {ticket.number} ({ticket.category}, {ticket.request_type})."
    )
    try:
        return Article.new(
            topic=topic,
            title=title,
            language=language,
            category=ArticleCategory(category.value),
            tags=list(request.tags or [category.value]),
            summary=request.summary or _shorten(ticket.resolution_note, MAX_SUMMARY_CHARS),
            questions=questions,
            updated=today,
            status="draft",
            body=body,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'article'}: {error['msg']}"
            for error in exc.errors()
        )
        raise DraftError(
            f"the draft would not be a valid KB article ({problems}); give the missing or "
            "corrected fields (title, topic, summary, questions) in the request"
        ) from exc


def write_draft(ticket: Ticket, request: KbDraftIn, kb_dir: Path, today: dt.date) -> Path:
    """Write the draft through the article format's writer; the path of the new file."""
    article = build_draft(ticket, request, kb_dir, today)
    try:
        write_article(article, kb_dir)
    except FileExistsError as exc:
        raise DraftError(f"a draft for this ticket already exists: {exc.filename}") from exc
    except ArticleError as exc:
        raise DraftError(f"the draft would not be a valid KB article: {exc}") from exc
    return article_path(kb_dir, article.language, article.topic)
