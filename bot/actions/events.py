"""Report what happens in a conversation to the handoff service (``POST /v1/events``): the
support metrics are computed there from these events, the tickets and the ratings
(docs/metrics.md).

The bot reports facts, never text: which article was shown and its score, the customer's
feedback, clarify buttons shown and picked, fallbacks, handoffs (with their reason), and the
conversation's first customer message. Like unanswered questions, events go through the outbox
(validated as ``ConversationEventIn``, stored, then sent in batches by its worker), so every
action-server replica reports to the one service and nothing is lost while it is down; a
report never costs the customer an answer.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from rasa_sdk import Tracker

from actions.conversation import current_language
from actions.handoff_payload import conversation_id
from actions.outbox import default_outbox
from handoff_service.vocabulary import EventKind

logger = logging.getLogger(__name__)


def record_event(tracker: Tracker, kind: EventKind, **fields: Any) -> None:
    """Queue one event of the tracker's conversation (``fields``: article_id, score,
    helpful, reason, as the kind needs; None values are left out)."""
    event = {
        "event_id": uuid.uuid4().hex,
        "conversation_id": conversation_id(tracker),
        "kind": kind.value,
        "language": current_language(tracker),
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        **{name: value for name, value in fields.items() if value is not None},
    }
    try:
        default_outbox().submit_event(event)
    except Exception:  # a metrics report must never cost the customer their answer
        logger.exception("could not record the %s event", kind.value)


def is_first_message(tracker: Tracker) -> bool:
    """Whether the latest customer message is the first of its conversation (session)."""
    messages = 0
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        if event.get("event") == "user":
            messages += 1
            if messages > 1:
                return False
    return messages == 1
