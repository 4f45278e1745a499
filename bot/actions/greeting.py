"""``action_greet``: the greeting, and for a returning customer the news on their request.

When the chat's sender has an open ticket with agent replies they have not seen, the bot
greets and then says so: the latest reply and the link to the ticket's private page, where
they read everything and answer. The link carries the ticket's secret, so it comes from the
handoff service's bot-only ``GET /v1/handoffs/updates`` for this sender's own tickets, never
from anything a customer could guess (the ``ticket_status_form`` lookup by number + e-mail
does not give it).

Showing the replies counts as reading them: the bot then tells the service
(``POST /v1/handoffs/updates/seen``) up to the reply it showed, so the next greeting does not
repeat it and a reply written meanwhile stays unread. Asking alone marks nothing.

The greeting never depends on the service: down, slow or without a token, the customer just
gets the greeting.
"""

from __future__ import annotations

import asyncio
import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff_client import HandoffError, default_client
from actions.handoff_payload import conversation_sender

logger = logging.getLogger(__name__)


class ActionGreet(Action):
    def name(self) -> str:
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_greet")
        sender = conversation_sender(tracker)
        client = default_client()
        try:
            update = await asyncio.to_thread(client.sender_update, sender)
        except HandoffError as exc:
            logger.warning("no news for the greeting (handoff service: %s)", exc)
            return []
        if (
            update is None
            or update.unread_replies == 0
            or update.latest_reply is None
            or update.latest_reply_at is None
        ):
            return []
        dispatcher.utter_message(
            response="utter_ticket_new_reply"
            if update.unread_replies == 1
            else "utter_ticket_new_replies",
            number=update.number,
            count=update.unread_replies,
            reply=update.latest_reply,
            link=update.page_url,
        )
        try:
            await asyncio.to_thread(client.mark_seen, sender, update.number, update.latest_reply_at)
        except HandoffError as exc:  # shown again next time: better than never
            logger.warning("could not mark %s's replies as seen: %s", update.number, exc)
        return []
