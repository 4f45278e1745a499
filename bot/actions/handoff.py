"""Handing the conversation off to a tier-1 agent through the handoff service.

1. :func:`start_handoff` starts it (the customer asked for a person, complained, raised a
   sensitive topic, or the articles did not help): it says a person will take over and starts
   ``handoff_form`` (``FollowupAction``), which asks only for the contact details still missing
   (``actions/handoff_form.py``). A conversation that already handed off is told its number
   (or that its request is recorded) instead.
2. ``action_submit_handoff`` runs when the form is done (:func:`submit_handoff`).
   :func:`send_handoff` - the single place where a handoff is sent - builds the payload
   (transcript, intent ranking of the message that started the handoff, KB articles with
   feedback, slots, language, channel; ``actions/handoff_payload.py``) and submits it to the
   persistent outbox, which validates it as the service's ``HandoffIn``, stores it and posts it
   with the conversation id as idempotency key (``actions/outbox/``). If the service answers,
   the customer gets the ticket number, queue and due date; if it is down or slow, the handoff
   stays in the outbox, the background worker retries it, and the customer is told that the
   request is recorded and will be answered by e-mail. If the service refuses it (a payload it
   cannot take; the row stays in the outbox as ``failed`` for an operator, logged at ERROR),
   the customer is told it could not be recorded and to try again, never that it was.
3. :func:`announce_ticket` runs on every later customer message (from
   ``action_validate_slot_mappings``): once the outbox has delivered a pending handoff, the
   customer is told its number; if the service refused it meanwhile, that it failed.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import (
    CONTACT_CONSENT,
    DESCRIPTION,
    HANDOFF_FORM,
    HANDOFF_PENDING,
    HANDOFF_REASON,
    KB_CANDIDATES,
    LAST_QUESTION,
    PENDING_FEEDBACK,
    REQUESTED_SLOT,
    TICKET_NUMBER,
    current_language,
    latest_text,
)
from actions.events import record_event
from actions.gaps import HANDOFF, record_gap
from actions.handoff_client import HandoffResult
from actions.handoff_payload import build_handoff_payload, conversation_id, service_reason
from actions.outbox import OutboxEntry, default_outbox
from actions.settings import get_settings
from actions.ticket_text import queue_text
from handoff_service.i18n import due_text
from handoff_service.vocabulary import EventKind

logger = logging.getLogger(__name__)

DEFAULT_REASON = "customer_request"


def start_handoff(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: str,
    response: str = "utter_handoff",
    question: str | None = None,
) -> list[EventType]:
    """Start the handoff: say so, then run ``handoff_form`` (or say it exists already).

    ``question``: the customer's question when it is not in ``last_question`` yet.
    """
    events: list[EventType] = [SlotSet(PENDING_FEEDBACK, None), SlotSet(KB_CANDIDATES, [])]
    language = current_language(tracker)
    key = conversation_id(tracker)
    question = question or tracker.get_slot(LAST_QUESTION) or latest_text(tracker)
    record_gap(question, language, HANDOFF, key)
    entry = _existing(tracker, key)
    if entry is not None and entry.ticket is not None:
        dispatcher.utter_message(response="utter_handoff_already_created", number=entry.number)
        return [*events, SlotSet(TICKET_NUMBER, entry.number), SlotSet(HANDOFF_PENDING, False)]
    if entry is not None and entry.pending:
        dispatcher.utter_message(response="utter_handoff_already_recorded")
        return events
    dispatcher.utter_message(response=response)
    return [
        *events,
        SlotSet(HANDOFF_REASON, reason),
        SlotSet(CONTACT_CONSENT, None),
        FollowupAction(HANDOFF_FORM),
    ]


def _existing(tracker: Tracker, key: str) -> OutboxEntry | None:
    """This conversation's handoff, if it was already sent or stored."""
    if not tracker.get_slot(TICKET_NUMBER) and not tracker.get_slot(HANDOFF_PENDING):
        return None  # nothing was handed off in this conversation: no need to ask the outbox
    try:
        return default_outbox().lookup(key)
    except Exception:
        logger.exception("outbox lookup failed for %s", key)
        return None


async def send_handoff(tracker: Tracker, reason: str) -> OutboxEntry:
    """Send the handoff: store it in the outbox and try to deliver it now (see module doc).

    Raises :class:`actions.handoff_payload.MissingContact` without e-mail/phone,
    ``pydantic.ValidationError`` for a payload ``HandoffIn`` refuses and the outbox's storage
    errors (in all three cases nothing was stored).
    """
    payload = build_handoff_payload(
        tracker, reason, tracker.get_slot(DESCRIPTION), trigger=triggering_message(tracker)
    )
    return await default_outbox().asubmit_handoff(payload)


def triggering_message(tracker: Tracker) -> dict[str, Any] | None:
    """Parse data of the customer message that started the handoff (the last one before the
    form started), whose intent ranking tells the agent more than the form's "yes"."""
    last_user: dict[str, Any] | None = None
    trigger: dict[str, Any] | None = None
    for event in tracker.events:
        if event.get("event") == "user":
            last_user = event.get("parse_data") or None
        elif event.get("event") == "active_loop" and event.get("name") == HANDOFF_FORM:
            trigger = last_user
    return trigger


def ticket_message_params(
    domain: dict[str, Any], ticket: HandoffResult, language: str
) -> dict[str, str]:
    queue = queue_text(domain, ticket.queue, language)
    return {
        "number": ticket.number,
        "queue": queue,
        "queue_capitalized": queue[:1].upper() + queue[1:],
        "due": due_text(ticket.due_at, language, get_settings().timezone),
    }


def announce_ticket(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any], language: str
) -> list[EventType]:
    """A recorded handoff got its ticket since the last message: tell the customer."""
    if not tracker.get_slot(HANDOFF_PENDING) or tracker.get_slot(TICKET_NUMBER):
        return []
    try:
        entry = default_outbox().lookup(conversation_id(tracker))
    except Exception:
        logger.exception("outbox lookup failed")
        return []
    if entry is not None and entry.rejected:
        dispatcher.utter_message(response="utter_handoff_failed")
        return [SlotSet(HANDOFF_PENDING, False)]
    if entry is None or entry.ticket is None:
        return []
    params = ticket_message_params(domain, entry.ticket, language)
    dispatcher.utter_message(response="utter_handoff_ticket_ready", **params)
    return [SlotSet(TICKET_NUMBER, entry.number), SlotSet(HANDOFF_PENDING, False)]


async def submit_handoff(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
) -> list[EventType]:
    """``action_submit_handoff``: the form is done - send the handoff, or confirm the cancel."""
    done: list[EventType] = [
        SlotSet(CONTACT_CONSENT, None),
        SlotSet(REQUESTED_SLOT, None),
        SlotSet(DESCRIPTION, None),
        SlotSet(HANDOFF_REASON, None),
    ]
    if tracker.get_slot(CONTACT_CONSENT) is not True:
        dispatcher.utter_message(response="utter_handoff_cancelled")
        return done
    reason = tracker.get_slot(HANDOFF_REASON) or DEFAULT_REASON
    try:
        entry = await send_handoff(tracker, reason)
    except Exception:
        logger.exception("handoff of %s could not be stored", tracker.sender_id)
        dispatcher.utter_message(response="utter_handoff_failed")
        return done
    language = current_language(tracker)
    if not entry.rejected:
        record_event(tracker, EventKind.HANDOFF, reason=service_reason(reason))
    if entry.ticket is not None:
        params = ticket_message_params(domain, entry.ticket, language)
        dispatcher.utter_message(response="utter_handoff_created", **params)
        return [*done, SlotSet(TICKET_NUMBER, entry.number), SlotSet(HANDOFF_PENDING, False)]
    if entry.rejected:  # refused by the service: not recorded as a request (see module doc)
        dispatcher.utter_message(response="utter_handoff_failed")
        return done
    # Pending: the worker delivers it, and the customer is told its number on a later message.
    dispatcher.utter_message(response="utter_handoff_recorded")
    return [*done, SlotSet(HANDOFF_PENDING, True)]
