"""Turn a resolved ticket into a draft KB article (tier 3's feedback loop).

The file follows docs/kb-format.md: ``<kb_dir>/<language>/<topic>.md`` with ``status: draft``
(the bot ignores drafts until an editor publishes them). Existing files are never overwritten.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path

import yaml

from handoff_service.models import Ticket
from handoff_service.schemas import KbDraftIn
from handoff_service.vocabulary import Category

MIN_QUESTIONS, MAX_QUESTIONS = 3, 8
MAX_SUMMARY = 400
MAX_TOPIC = 60

HEADINGS = {
    "en": ("What the customer asked", "Solution", "Source"),
    "es": ("Qué preguntó el cliente", "Solución", "Origen"),
}


class DraftError(ValueError):
    """The ticket lacks something the draft needs (HTTP 422)."""


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_TOPIC].rstrip("-")


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _questions(ticket: Ticket, title: str, given: list[str] | None) -> list[str]:
    candidates = list(given or [])
    candidates += [m["text"] for m in ticket.transcript if m["role"] == "customer"]
    candidates += [title, ticket.summary]
    seen: list[str] = []
    for text in candidates:
        question = _shorten(text, 200)
        if question and question.lower() not in {q.lower() for q in seen}:
            seen.append(question)
    return seen[:MAX_QUESTIONS]


def write_draft(ticket: Ticket, request: KbDraftIn, kb_dir: Path, today: dt.date) -> Path:
    category = request.category or Category(ticket.category)
    if category is Category.OTHER:
        raise DraftError("the ticket's category is 'other'; give a KB category for the article")
    if not ticket.resolution_note:
        raise DraftError("the ticket has no resolution note")
    first_question = next(m["text"] for m in ticket.transcript if m["role"] == "customer")
    title = request.title or _shorten(first_question, 120)
    topic = request.topic or slugify(title) or slugify(ticket.number)
    language = ticket.language
    questions = _questions(ticket, title, request.questions)
    if len(questions) < MIN_QUESTIONS:
        raise DraftError(f"give at least {MIN_QUESTIONS} distinct questions for the article")

    folder = kb_dir / language
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{topic}.md"
    if path.exists():
        topic = f"{topic}-{ticket.number.lower()}"
        path = folder / f"{topic}.md"
        if path.exists():
            raise DraftError(f"a draft for this ticket already exists: {path}")

    front_matter = {
        "id": f"{topic}-{language}",
        "topic": topic,
        "title": title,
        "language": language,
        "category": category.value,
        "tags": list(request.tags or [category.value]),
        "summary": request.summary or _shorten(ticket.resolution_note, MAX_SUMMARY),
        "questions": questions,
        "updated": today,
        "status": "draft",
    }
    asked, solution, source = HEADINGS[language]
    body = (
        f"## {asked}\n\n{first_question}\n\n"
        f"## {solution}\n\n{ticket.resolution_note}\n\n"
        f"## {source}\n\nTicket {ticket.number} ({ticket.category}, {ticket.request_type}).\n"
    )
    text = (
        "---\n"
        + yaml.safe_dump(front_matter, allow_unicode=True, sort_keys=False, width=100)
        + "---\n\n"
        + body
    )
    with path.open("x", encoding="utf-8") as handle:  # "x": never overwrite
        handle.write(text)
    return path
