"""Report the questions the bot could not answer to the handoff service (``POST
/v1/unanswered``, read back by ``kb gaps``) without ever breaking the conversation: FALLBACK
answers, negative feedback and handoffs.

The record goes through the outbox (validated as ``handoff_service.schemas.UnansweredIn``,
stored, then sent by the outbox's worker), so every action-server replica reports to the one
service and nothing is lost while it is down; the conversation never waits for it.
"""

from __future__ import annotations

import datetime as dt
import logging
import typing

from actions.handoff_payload import clean_text
from actions.outbox import default_outbox
from handoff_service.schemas import MAX_MESSAGE_CHARS, UnansweredReason

logger = logging.getLogger(__name__)

FALLBACK = "fallback"
NEGATIVE_FEEDBACK = "negative_feedback"
HANDOFF = "handoff"
REASONS = typing.get_args(UnansweredReason)
assert {FALLBACK, NEGATIVE_FEEDBACK, HANDOFF} == set(REASONS), REASONS


def record_gap(text: str | None, language: str, reason: str, conversation_id: str) -> None:
    """Queue the unanswered question ``text`` (nothing for empty text or a button payload)."""
    if not text or not text.strip() or text.lstrip().startswith("/"):
        return  # nothing the customer wrote
    payload = {
        "conversation_id": conversation_id,
        "language": language,
        "reason": reason,
        "text": clean_text(" ".join(text.split()), MAX_MESSAGE_CHARS),
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    try:
        default_outbox().submit_unanswered(payload)
    except Exception:  # a gap report must never cost the customer their answer
        logger.exception("could not record the unanswered question (%s)", reason)
