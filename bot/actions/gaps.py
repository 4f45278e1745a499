"""Record the questions the bot could not answer (``knowledge.gaps``) without ever breaking
the conversation: FALLBACK answers, negative feedback and handoffs.

``NIVEL0_GAPS_DB`` defaults to the project's ``var/gaps.db`` (the action server runs from
``bot/``, where the knowledge package's relative default would land).
"""

from __future__ import annotations

import logging
import os

from actions.kb import PROJECT_ROOT
from knowledge.gaps import DEFAULT_GAPS_DB, GAPS_DB_ENV, record_unanswered

logger = logging.getLogger(__name__)

FALLBACK = "fallback"
NEGATIVE_FEEDBACK = "negative_feedback"
HANDOFF = "handoff"


def record_gap(text: str | None, language: str, reason: str, conversation_id: str) -> None:
    if not text or not text.strip() or text.lstrip().startswith("/"):
        return  # nothing the customer wrote (e.g. a button payload)
    os.environ.setdefault(GAPS_DB_ENV, str(PROJECT_ROOT / DEFAULT_GAPS_DB))
    try:
        record_unanswered(text, language, reason, conversation_id)
    except Exception:  # a gap report must never cost the customer their answer
        logger.exception("could not record the unanswered question (%s)", reason)
