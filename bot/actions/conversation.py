"""Slot names and the record of KB articles shown in a conversation (kept for the handoff).

``kb_articles`` is a list of :class:`ShownArticle` dicts, oldest first; ``feedback`` is
``None`` until the customer answers "did this solve your problem?"; ``category`` is the
article's KB category (it tells the handoff form whether an order number is needed).
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from rasa_sdk import Tracker

from actions.language import SUPPORTED, default_language

LANGUAGE = "language"
LAST_QUESTION = "last_question"
KB_ARTICLES = "kb_articles"
KB_CANDIDATES = "kb_candidates"
PENDING_FEEDBACK = "pending_feedback"
# Handoff (handoff_form) and ticket status (ticket_status_form).
REQUESTED_SLOT = "requested_slot"
HANDOFF_REASON = "handoff_reason"
CUSTOMER_NAME = "customer_name"
EMAIL = "email"
ORDER_NUMBER = "order_number"
DESCRIPTION = "description"
CONTACT_CONSENT = "contact_consent"
TICKET_NUMBER = "ticket_number"
HANDOFF_PENDING = "handoff_pending"
QUERIED_TICKET = "queried_ticket"
HANDOFF_FORM = "handoff_form"
TICKET_STATUS_FORM = "ticket_status_form"

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
    category: NotRequired[str]


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


def response_text(domain: dict[str, Any], response: str, language: str) -> str:
    """Text of a domain response in ``language``, for texts used inside other messages.

    Same choice as Rasa's conditional variations: the variation whose ``language`` condition
    matches, else the one without condition.
    """
    variations = domain.get("responses", {}).get(response) or []
    default = next((v["text"] for v in variations if not v.get("condition")), response)
    for variation in variations:
        for condition in variation.get("condition") or []:
            if condition.get("name") == LANGUAGE and condition.get("value") == language:
                return str(variation["text"])
    return str(default)
