"""The body of ``POST /v1/handoffs`` (``handoff_service.schemas.HandoffIn``) from a Tracker.

Everything an agent needs so the customer never repeats themselves: the transcript of the
current session (customer and bot messages with their times), the intent ranking of the
customer message that started the handoff, the KB articles shown with the customer's feedback,
language, channel, the customer's contact details (slots ``customer_name``/``name``, ``email``,
``phone``, ``order_number`` when the domain has them), the handoff reason and an optional
description.

The contract is the service's schema: limits, patterns and vocabularies are read from
``handoff_service.schemas`` and ``handoff_service.vocabulary``, never re-typed here, and the
outbox validates the body as ``HandoffIn`` before storing it. The body is made valid here
rather than rejected (a rejected handoff would need an operator): texts are trimmed to the
schema's limits and control characters removed, lists keep their most recent items, contact
details that the schema refuses are dropped. A conversation with no usable e-mail or phone
raises :class:`MissingContact`: the bot must ask for one before handing the conversation off.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from rasa_sdk import Tracker

from actions.conversation import ShownArticle, current_language, shown_articles
from actions.settings import get_settings
from handoff_service.schemas import (
    MAX_KB_ARTICLES,
    MAX_MESSAGE_CHARS,
    MAX_RANKED_INTENTS,
    MAX_TRANSCRIPT_MESSAGES,
    ConversationId,
    Customer,
    Email,
    HandoffIn,
    Phone,
    RankedIntent,
)
from handoff_service.schemas import ShownArticle as ShownArticleIn
from handoff_service.vocabulary import Channel, Feedback, HandoffReason

logger = logging.getLogger(__name__)


def _constraints(annotation: Any) -> Iterator[Any]:
    """The metadata (``StringConstraints``, ``MaxLen``, ...) inside an annotation, also
    through ``Optional`` and nested ``Annotated``."""
    yield from getattr(annotation, "__metadata__", ())
    for arg in typing.get_args(annotation):
        yield from _constraints(arg)


def max_length(model: type[BaseModel], field: str) -> int:
    """The schema's ``max_length`` of ``model.field`` (a string or a list)."""
    info = model.model_fields[field]
    for item in (*info.metadata, *_constraints(info.annotation)):
        if getattr(item, "max_length", None) is not None:
            return int(item.max_length)
    raise LookupError(f"{model.__name__}.{field} has no max_length")


MAX_SUMMARY_CHARS = max_length(HandoffIn, "summary")
MAX_NAME_CHARS = max_length(Customer, "name")
MAX_ORDER_NUMBER_CHARS = max_length(Customer, "order_number")
MAX_INTENT_CHARS = max_length(RankedIntent, "name")
MAX_ARTICLE_ID_CHARS = max_length(ShownArticleIn, "article_id")
MAX_TITLE_CHARS = max_length(ShownArticleIn, "title")

# The bot's own names for why it hands off (actions/handoff.py) -> the service's reasons.
BOT_REASONS = {
    "not_solved": HandoffReason.NEGATIVE_FEEDBACK,
    "no_matching_article": HandoffReason.LOW_CONFIDENCE,
}

# Rasa input channel name -> the service's channel; unknown channels count as web.
CHANNELS = {
    "whatsapp": Channel.WHATSAPP,
    "twilio_whatsapp": Channel.WHATSAPP,
    "facebook": Channel.SOCIAL,
    "instagram": Channel.SOCIAL,
    "messenger": Channel.SOCIAL,
    "telegram": Channel.SOCIAL,
    "twitter": Channel.SOCIAL,
    "slack": Channel.SOCIAL,
    "email": Channel.EMAIL,
    "phone": Channel.PHONE,
    "voice": Channel.PHONE,
    "twilio_voice": Channel.PHONE,
    "audiocodes": Channel.PHONE,
    "jambonz": Channel.PHONE,
}

# Slot names read for the customer (the first one that is set wins).
CUSTOMER_SLOTS = {
    "name": ("customer_name", "name"),
    "email": ("email", "customer_email"),
    "phone": ("phone", "customer_phone"),
    "order_number": ("order_number",),
}

# Control characters the schema refuses (all but tab, newline and carriage return).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONVERSATION_ID = TypeAdapter(ConversationId)
_EMAIL = TypeAdapter(Email)
_PHONE = TypeAdapter(Phone)


def _valid(adapter: TypeAdapter[str], value: str) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


class MissingContact(ValueError):
    """Neither a valid e-mail nor a valid phone number: the service cannot accept the handoff."""


def clean_text(value: Any, max_chars: int) -> str:
    """Printable, valid Unicode, stripped, at most ``max_chars`` (cut with an ellipsis)."""
    text = _CONTROL.sub(" ", str(value))
    text = text.encode("utf-8", errors="replace").decode("utf-8").strip()
    if len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    return text


def conversation_id(tracker: Tracker) -> str:
    """The handoff's idempotency key: the sender id plus the start of the current session.

    A customer coming back in a new session (same sender id) gets a new ticket; handing off
    twice in one session gives the same ticket. Sender ids the service would refuse (other
    characters, too long) are replaced by a hash.
    """
    sender, suffix = _conversation_parts(tracker)
    return sender + suffix


def conversation_sender(tracker: Tracker) -> str:
    """The sender part of :func:`conversation_id` (the same in every session of the sender):
    what ``GET /v1/handoffs/updates?sender=`` matches the tickets' conversation ids with."""
    return _conversation_parts(tracker)[0]


def _conversation_parts(tracker: Tracker) -> tuple[str, str]:
    """(sender, ``:<session start>`` or ""), the sender hashed if the service would refuse it."""
    sender = str(tracker.sender_id)
    started = _session_start(tracker)
    suffix = f":{int(started)}" if started is not None else ""
    if not _valid(_CONVERSATION_ID, sender + suffix):
        sender = "sha256-" + hashlib.sha256(sender.encode("utf-8", "replace")).hexdigest()[:40]
    return sender, suffix


def build_handoff_payload(
    tracker: Tracker,
    reason: str,
    description: str | None = None,
    articles: list[ShownArticle] | None = None,
    trigger: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body for ``POST /v1/handoffs``.

    ``reason``: one of the service's reasons, or the bot's ``not_solved`` /
    ``no_matching_article``. ``description``: optional summary (the service writes one when
    absent). ``articles`` overrides the ``kb_articles`` slot when the calling action has just
    changed it. ``trigger``: the parse data of the message that started the handoff, whose
    intent ranking is sent instead of the latest message's (by default).
    """
    payload: dict[str, Any] = {
        "conversation_id": conversation_id(tracker),
        "customer": customer(tracker),
        "language": current_language(tracker),
        "channel": channel(tracker.get_latest_input_channel()),
        "transcript": transcript(tracker),
        "intent_ranking": intent_ranking(trigger or tracker.latest_message),
        "kb_articles": kb_articles(shown_articles(tracker) if articles is None else articles),
        "reason": service_reason(reason),
    }
    if description and description.strip():
        payload["summary"] = clean_text(description, MAX_SUMMARY_CHARS)
    if not any(m["role"] == "customer" for m in payload["transcript"]):
        raise ValueError("the conversation has no customer message to hand off")
    return fit_body_limit(payload, get_settings().handoff_max_body_bytes)


# Room left for what the outbox's ``HandoffIn`` dump adds to the payload (defaults, nulls).
BODY_HEADROOM_BYTES = 2048


def body_bytes(value: Any) -> int:
    """Size of ``value`` as JSON (ASCII-escaped: the largest encoding a client may send)."""
    return len(json.dumps(value, default=str))


def omitted_marker(count: int, timestamp: str | None) -> dict[str, Any]:
    """The bot turn that stands for ``count`` earlier messages left out (agent-facing: English)."""
    marker: dict[str, Any] = {
        "role": "bot",
        "text": f"[{count} earlier messages left out: the conversation was too long to send]",
    }
    if timestamp:
        marker["timestamp"] = timestamp
    return marker


def fit_body_limit(payload: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """``payload`` with its transcript cut so the body stays under ``max_bytes``.

    The oldest messages go first and one marker turn says how many were left out. The
    customer's latest message is always kept (with the messages after it), its text truncated
    with an ellipsis when it alone does not fit.
    """
    budget = max_bytes - BODY_HEADROOM_BYTES
    if body_bytes(payload) <= budget:
        return payload
    messages = payload["transcript"]
    latest = max(i for i, m in enumerate(messages) if m["role"] == "customer")
    marker = omitted_marker(len(messages), messages[0].get("timestamp"))
    room = budget - body_bytes({**payload, "transcript": []}) - body_bytes(marker) - 2
    kept: list[dict[str, Any]] = []
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        size = body_bytes(message) + 2  # ", " between items
        if size > room and index < latest:
            break
        if size > room:  # the latest customer message or a reply to it: cut, never dropped
            message = _truncated(message, room)
            size = body_bytes(message) + 2
        kept.append(message)
        room -= size
    kept.reverse()
    left_out = len(messages) - len(kept)
    if left_out:
        kept.insert(0, omitted_marker(left_out, messages[left_out - 1].get("timestamp")))
        logger.warning("handoff: %d oldest transcript messages left out (body limit)", left_out)
    return {**payload, "transcript": kept}


def _truncated(message: dict[str, Any], room: int) -> dict[str, Any]:
    """``message`` with its text cut (ending in an ellipsis) to take at most ``room`` bytes."""
    text = message["text"]
    cut = len(text)
    while cut > 1:
        cut = min(cut - 1, cut * 9 // 10)
        candidate = {**message, "text": text[:cut].rstrip() + "…"}
        if body_bytes(candidate) + 2 <= room:
            return candidate
    return {**message, "text": text[:1] + "…"}  # the shortest text the schema accepts


def service_reason(reason: str) -> str:
    if reason in BOT_REASONS:
        return BOT_REASONS[reason].value
    try:
        return HandoffReason(reason).value
    except ValueError:
        known = sorted({*HandoffReason, *BOT_REASONS})
        raise ValueError(f"unknown handoff reason {reason!r}; expected one of {known}") from None


def channel(input_channel: str | None) -> str:
    name = (input_channel or "").lower()
    default = Channel.WHATSAPP if "whatsapp" in name else Channel.WEB
    return CHANNELS.get(name, default).value


def customer(tracker: Tracker) -> dict[str, str]:
    values: dict[str, str] = {}
    for field, slots in CUSTOMER_SLOTS.items():
        for slot in slots:
            value = tracker.slots.get(slot)
            if value not in (None, "") and not isinstance(value, list | dict):
                values[field] = str(value).strip()
                break
    result: dict[str, str] = {}
    if values.get("name"):
        result["name"] = clean_text(values["name"], MAX_NAME_CHARS)
    if values.get("order_number"):
        result["order_number"] = clean_text(values["order_number"], MAX_ORDER_NUMBER_CHARS)
    email = values.get("email", "")
    if email and _valid(_EMAIL, email):
        result["email"] = email
    elif email:
        logger.warning("handoff: the e-mail slot is not a valid address; left out")
    phone = values.get("phone", "")
    if phone and _valid(_PHONE, phone):
        result["phone"] = phone
    elif phone:
        logger.warning("handoff: the phone slot is not a valid number; left out")
    if "email" not in result and "phone" not in result:
        raise MissingContact(
            "the customer has no valid e-mail or phone number (slots 'email', 'phone'): "
            "ask for one before handing off"
        )
    return result


def transcript(tracker: Tracker) -> list[dict[str, Any]]:
    """Customer and bot messages of the current session, oldest first (the most recent ones
    the schema allows).

    A button click arrives as its payload (``/affirm``); it is shown as the button's title.
    """
    messages: list[dict[str, Any]] = []
    buttons: dict[str, str] = {}
    for event in _session_events(tracker):
        kind = event.get("event")
        if kind == "bot":
            text = event.get("text") or ""
            data = event.get("data") or {}
            buttons = {
                str(b.get("payload")): str(b.get("title"))
                for b in data.get("buttons") or []
                if isinstance(b, Mapping)
            }
            role = "bot"
        elif kind == "user":
            text = event.get("text") or ""
            text = buttons.get(text.strip(), text)
            role = "customer"
        else:
            continue
        text = clean_text(text, MAX_MESSAGE_CHARS)
        if not text:
            continue
        message: dict[str, Any] = {"role": role, "text": text}
        if isinstance(event.get("timestamp"), int | float):
            message["timestamp"] = dt.datetime.fromtimestamp(
                event["timestamp"], tz=dt.UTC
            ).isoformat()
        messages.append(message)
    return messages[-MAX_TRANSCRIPT_MESSAGES:]


def intent_ranking(latest_message: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    message = latest_message or {}
    ranking = message.get("intent_ranking") or (
        [message["intent"]] if message.get("intent") else []
    )
    result = []
    for item in ranking:
        if not isinstance(item, Mapping) or not item.get("name"):
            continue
        confidence = item.get("confidence")
        confidence = float(confidence) if isinstance(confidence, int | float) else 0.0
        result.append(
            {
                "name": clean_text(item["name"], MAX_INTENT_CHARS),
                "confidence": min(1.0, max(0.0, confidence)),
            }
        )
    return result[:MAX_RANKED_INTENTS]


def kb_articles(articles: list[ShownArticle]) -> list[dict[str, Any]]:
    """The articles shown (the most recent ones the schema allows) with their feedback."""
    result = []
    for article in articles:
        if not article.get("article_id"):
            continue
        item: dict[str, Any] = {
            "article_id": clean_text(article["article_id"], MAX_ARTICLE_ID_CHARS),
            "feedback": _feedback(article.get("feedback")),
        }
        if article.get("title"):
            item["title"] = clean_text(article["title"], MAX_TITLE_CHARS)
        result.append(item)
    return result[-MAX_KB_ARTICLES:]


def _feedback(value: Any) -> str:
    """The service's feedback value; anything else (no answer yet) is ``none``."""
    return value if value in set(Feedback) else Feedback.NONE.value


def _session_events(tracker: Tracker) -> list[dict[str, Any]]:
    """Events since the latest session start or restart."""
    events = tracker.events_after_latest_restart()
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "session_started":
            return events[index + 1 :]
    return events


def _session_start(tracker: Tracker) -> float | None:
    for event in reversed(tracker.events):
        if event.get("event") in ("session_started", "restart"):
            timestamp = event.get("timestamp")
            return float(timestamp) if isinstance(timestamp, int | float) else None
    return None
