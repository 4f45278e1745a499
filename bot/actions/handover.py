"""Handing the conversation over to a tier-1 agent.

:func:`handoff_context` collects what an agent needs so the customer does not have to repeat
themselves: language, last question, the articles shown and the feedback on each.

HANDOFF ISSUE: :func:`request_handover` is the single place where the handoff service will be
called (create the triaged ticket). Today it only logs the context; it does not create a ticket,
and the customer-facing text (``utter_handover``) does not claim that one was created.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import (
    KB_CANDIDATES,
    LAST_QUESTION,
    PENDING_FEEDBACK,
    ShownArticle,
    current_language,
    shown_articles,
)

logger = logging.getLogger(__name__)

HandoverReason = Literal["customer_request", "not_solved", "no_matching_article"]


@dataclass(frozen=True)
class HandoffContext:
    conversation_id: str
    language: str
    reason: HandoverReason
    last_question: str | None
    articles: list[ShownArticle] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def handoff_context(
    tracker: Tracker, reason: HandoverReason, articles: list[ShownArticle] | None = None
) -> HandoffContext:
    """``articles`` overrides the slot when the calling action has just updated the feedback."""
    return HandoffContext(
        conversation_id=tracker.sender_id,
        language=current_language(tracker),
        reason=reason,
        last_question=tracker.get_slot(LAST_QUESTION),
        articles=shown_articles(tracker) if articles is None else articles,
    )


def request_handover(context: HandoffContext) -> None:
    """HANDOFF ISSUE: send ``context`` to the handoff service here. For now it is only logged."""
    logger.info("handover requested (not yet sent to a handoff service): %s", context.as_dict())


def hand_over(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: HandoverReason,
    articles: list[ShownArticle] | None = None,
) -> list[EventType]:
    """Tell the customer a person will take over and record the handover request."""
    request_handover(handoff_context(tracker, reason, articles))
    dispatcher.utter_message(response="utter_handover")
    return [SlotSet(PENDING_FEEDBACK, None), SlotSet(KB_CANDIDATES, [])]
