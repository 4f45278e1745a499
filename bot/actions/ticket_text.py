"""Ticket facts in plain words for the customer: the queue's name and the due date.

The queue names of the handoff service (``handoff_service/config/routing_rules.yml``) are
described by the domain responses ``utter_queue_<queue>`` (``-`` written ``_``); a queue
without its own response is described by ``utter_queue_general``.

The due date is the end of a day in the organisation's time zone (``NIVEL0_TIMEZONE``, read by
``actions.settings``; the handoff service reads the same variable), said as a weekday and a
date plus how far away it is in calendar days: "no later than Friday 28 November (in 3 days)".
Weekday and month names come from Babel's locale data. Calendar days, not business days: the
bot does not know the service's holidays.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date

from actions.conversation import response_text

# Customer language -> (Babel locale, date pattern): the names are Babel's, the order ours.
_DATE_FORMATS = {
    "en": ("en_GB", "EEEE d MMMM"),  # Friday 28 November
    "es": ("es_ES", "EEEE d 'de' MMMM"),  # viernes 28 de noviembre
}


def queue_text(domain: dict[str, Any], queue: str, language: str) -> str:
    name = f"utter_queue_{queue.replace('-', '_')}"
    if name not in domain.get("responses", {}):
        name = "utter_queue_general"
    return response_text(domain, name, language)


def due_text(
    due_at: dt.datetime, language: str, timezone: ZoneInfo, now: dt.datetime | None = None
) -> str:
    """ "no later than Friday 28 November (in 3 days)" / "como tarde el viernes 28 de
    noviembre (dentro de 3 días)"; "today" and "tomorrow" are said as such. ``timezone``: the
    organisation's, in which the due date is a calendar day."""
    if due_at.tzinfo is None:
        due_at = due_at.replace(tzinfo=dt.UTC)
    due = due_at.astimezone(timezone).date()
    today = (now or dt.datetime.now(dt.UTC)).astimezone(timezone).date()
    days = (due - today).days
    lang = language if language in _DATE_FORMATS else "en"
    locale, pattern = _DATE_FORMATS[lang]
    date = format_date(due, pattern, locale=locale)
    if lang == "es":
        relative = {0: "hoy", 1: "mañana"}.get(days, f"dentro de {days} días")
        when = f"como tarde el {date}"
    else:
        relative = {0: "today", 1: "tomorrow"}.get(days, f"in {days} days")
        when = f"no later than {date}"
    return when if days < 0 else f"{when} ({relative})"
