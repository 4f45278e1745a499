"""``action_ticket_status``: "¿Cómo va mi ticket T-2026-000123?" answered from the handoff
service (``POST /v1/status``) once ``ticket_status_form`` has the number and the e-mail.

The service answers 404 both for an unknown number and for a number with another e-mail, and
the bot says the same neutral "not found" for both (and forgets the e-mail, so the next try asks
for it again).

The answer shows the latest reply of our team and links the ticket's private page only when
the request was handed over from this very chat (the service's ``/v1/handoffs/updates`` knows
the chat's secret sender id): number and e-mail can be guessed, the link carries the ticket's
secret. Elsewhere the bot says the link is in the e-mails we sent.
"""

from __future__ import annotations

import asyncio
import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import EMAIL, QUERIED_TICKET, current_language
from actions.handoff_client import HandoffClient, HandoffError, default_client
from actions.handoff_payload import conversation_sender
from actions.settings import get_settings
from handoff_service.i18n import due_text

logger = logging.getLogger(__name__)


class ActionTicketStatus(Action):
    def name(self) -> str:
        return "action_ticket_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> list[EventType]:
        number = tracker.get_slot(QUERIED_TICKET)
        email = tracker.get_slot(EMAIL)
        done: list[EventType] = [SlotSet(QUERIED_TICKET, None)]
        if not number or not email:  # the customer cancelled the form
            dispatcher.utter_message(response="utter_status_cancelled")
            return done
        try:
            status = await asyncio.to_thread(default_client().ticket_status, number, email)
        except HandoffError as exc:
            logger.warning("ticket status lookup failed: %s", exc)
            dispatcher.utter_message(response="utter_ticket_status_unavailable")
            return done
        if status is None:
            dispatcher.utter_message(response="utter_ticket_not_found")
            return [*done, SlotSet(EMAIL, None)]
        language = current_language(tracker)
        dispatcher.utter_message(
            response="utter_ticket_status",
            number=status.number,
            status=status.status_text,
            due=due_text(status.due_at, language, get_settings().timezone),
        )
        if status.messages:
            dispatcher.utter_message(
                response="utter_ticket_latest_message", message=status.messages[-1]
            )
            link = await _own_page_link(default_client(), tracker, status.number)
            if link:
                dispatcher.utter_message(response="utter_ticket_page_link", link=link)
            else:
                dispatcher.utter_message(response="utter_ticket_page_in_emails")
        return done


async def _own_page_link(client: HandoffClient, tracker: Tracker, number: str) -> str | None:
    """The private page of ticket ``number`` if it was handed over from this chat's sender,
    else None (also when the service cannot tell: the e-mails have the link)."""
    try:
        update = await asyncio.to_thread(client.sender_update, conversation_sender(tracker))
    except HandoffError as exc:
        logger.info("no private link for the status answer: %s", exc)
        return None
    return update.page_url if update is not None and update.number == number else None
