"""Ticket facts in plain words for the customer: the queue's name and the due date.

The queue names of the handoff service (``handoff_service/config/routing_rules.yml``) are
described by the domain responses ``utter_queue_<queue>`` (``-`` written ``_``); a queue
without its own response is described by ``utter_queue_general``.

The due date is the end of a day in the organisation's time zone (``NIVEL0_TIMEZONE``, default
``Europe/Madrid``, the handoff service's default ``HANDOFF_TIMEZONE``), said as a weekday and
a date plus how far away it is in calendar days: "no later than Friday 28 November (in 3
days)". Calendar days, not business days: the bot does not know the service's holidays.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any
from zoneinfo import ZoneInfo

from actions.conversation import response_text

TIMEZONE_ENV = "NIVEL0_TIMEZONE"
DEFAULT_TIMEZONE = "Europe/Madrid"

_WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}
_MONTHS = {
    "en": (
        "January", "February", "March", "April", "May", "June", "July", "August", "September",
        "October", "November", "December",
    ),
    "es": (
        "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
        "octubre", "noviembre", "diciembre",
    ),
}  # fmt: skip


def organisation_timezone() -> ZoneInfo:
    name = os.environ.get(TIMEZONE_ENV, DEFAULT_TIMEZONE)
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{TIMEZONE_ENV} must be an IANA time zone, got {name!r}") from exc


def queue_text(domain: dict[str, Any], queue: str, language: str) -> str:
    name = f"utter_queue_{queue.replace('-', '_')}"
    if name not in domain.get("responses", {}):
        name = "utter_queue_general"
    return response_text(domain, name, language)


def due_text(due_at: dt.datetime, language: str, now: dt.datetime | None = None) -> str:
    """ "no later than Friday 28 November (in 3 days)" / "como tarde el viernes 28 de
    noviembre (dentro de 3 días)"; "today" and "tomorrow" are said as such."""
    zone = organisation_timezone()
    if due_at.tzinfo is None:
        due_at = due_at.replace(tzinfo=dt.UTC)
    due = due_at.astimezone(zone).date()
    today = (now or dt.datetime.now(dt.UTC)).astimezone(zone).date()
    days = (due - today).days
    lang = language if language in _WEEKDAYS else "en"
    weekday = _WEEKDAYS[lang][due.weekday()]
    month = _MONTHS[lang][due.month - 1]
    if lang == "es":
        relative = {0: "hoy", 1: "mañana"}.get(days, f"dentro de {days} días")
        when = f"como tarde el {weekday} {due.day} de {month}"
    else:
        relative = {0: "today", 1: "tomorrow"}.get(days, f"in {days} days")
        when = f"no later than {weekday} {due.day} {month}"
    return when if days < 0 else f"{when} ({relative})"
