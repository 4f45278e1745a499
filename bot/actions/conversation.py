"""Slot names and the record of KB articles shown in a conversation (kept for the handoff).

``kb_articles`` is a list of :class:`ShownArticle` dicts, oldest first; ``feedback`` is
``None`` until the customer answers "did this solve your problem?".
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from rasa_sdk import Tracker

from actions.language import SUPPORTED, default_language

LANGUAGE = "language"
LAST_QUESTION = "last_question"
KB_ARTICLES = "kb_articles"
KB_CANDIDATES = "kb_candidates"
PENDING_FEEDBACK = "pending_feedback"

HELPFUL = "helpful"
NOT_HELPFUL = "not_helpful"
Feedback = Literal["helpful", "not_helpful"]


class ShownArticle(TypedDict):
    article_id: str
    title: str
    url: str
    score: float | None
    question: str | None
    feedback: Feedback | None


def current_language(tracker: Tracker) -> str:
    language = tracker.get_slot(LANGUAGE)
    return language if language in SUPPORTED else default_language()


def shown_articles(tracker: Tracker) -> list[ShownArticle]:
    value = tracker.get_slot(KB_ARTICLES)
    return [dict(item) for item in value] if isinstance(value, list) else []  # type: ignore[misc]


def with_feedback(
    articles: list[ShownArticle], article_id: str, feedback: Feedback
) -> list[ShownArticle]:
    """Record the feedback on the latest showing of ``article_id``."""
    updated = [dict(item) for item in articles]
    for item in reversed(updated):
        if item["article_id"] == article_id:
            item["feedback"] = feedback
            break
    return updated  # type: ignore[return-value]


def latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def latest_metadata(tracker: Tracker) -> dict[str, Any] | None:
    metadata = tracker.latest_message.get("metadata")
    return metadata if isinstance(metadata, dict) else None
