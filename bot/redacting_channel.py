"""Rasa's REST channel with personal data redacted before Rasa sees the message (runs inside the
Rasa server; ``credentials.yml`` enables it under the same URL as Rasa's own REST channel,
``/webhooks/rest/webhook``).

A customer who types a card number, IBAN, CVV or identity document into the chat must not have
it stored: Rasa keeps every message in its tracker store (PostgreSQL in production) and passes
it to the action server, the outbox, the unanswered-question records and the ticket. Redacting
here, before ``on_new_message``, means none of them ever receives it. The redaction is the
handoff service's (:mod:`handoff_service.redaction`, on ``PYTHONPATH``), so the chat and the
service agree on what such data looks like; the bot's sensitive-topic check recognises the
labels it leaves ("[card ****1111]") and hands such a conversation over.

Phone numbers and e-mail addresses are kept: the handoff form asks for them. They live in the
tracker only as long as ``HANDOFF_RETENTION_TRACKER_DAYS`` says and are erased with the rest of
a customer's data (``handoff_service.privacy``).

When a message was changed, the reply starts with ``{"custom": {"redacted": "<text>"}}`` so
that the widget keeps the redacted text, not what was typed, in the browser's storage.

A number split over two messages ("4111 1111" then "1111 1111") is caught in the second one:
each replica remembers the last message of its most recent conversations, in memory only.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint

from handoff_service.redaction import CONTACT, redact_messages

#: The key of the custom message that carries the redacted text back to the widget.
REDACTED = "redacted"
#: Conversations whose last message is remembered (to catch a number split over two).
REMEMBERED = 10_000


class RedactingRestInput(RestInput):
    """``rest`` with card numbers, IBANs, CVVs and identity documents replaced by labels."""

    def __init__(self) -> None:
        self._last: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def name(cls) -> str:
        return "rest"

    def redact(self, sender_id: str, text: str) -> str:
        """``text`` redacted, together with the sender's previous message."""
        previous = self._last.pop(sender_id, None)
        self._last[sender_id] = text
        while len(self._last) > REMEMBERED:
            self._last.popitem(last=False)
        if previous is None:
            return redact_messages([text], keep=CONTACT)[0]
        return redact_messages([previous, text], keep=CONTACT)[-1]

    async def redact_message(self, message: UserMessage) -> None:
        """Redact ``message.text`` in place; if that changed it, send the client the new text
        (before Rasa's replies)."""
        if not message.text:
            return
        text = self.redact(message.sender_id, message.text)
        if text != message.text:
            message.text = text
            await message.output_channel.send_custom_json(message.sender_id, {REDACTED: text})

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def redacted(message: UserMessage) -> Any:
            await self.redact_message(message)
            return await on_new_message(message)

        return super().blueprint(redacted)
