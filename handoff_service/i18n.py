"""Ticket facts in the customer's words, in ``en`` and ``es``: one home for the texts that the
service's pages and e-mails and the bot's answers share (the bot imports them from here).

The due date is the end of a day in the organisation's time zone (``NIVEL0_TIMEZONE``), said as
a weekday and a date plus how far away it is in calendar days: "no later than Friday 28
November (in 3 days)". Weekday and month names come from Babel's locale data.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from handoff_service.vocabulary import Status

# Customer language -> (Babel locale, date pattern): the names are Babel's, the order ours.
DATE_FORMATS = {
    "en": ("en_GB", "EEEE d MMMM"),  # Friday 28 November
    "es": ("es_ES", "EEEE d 'de' MMMM"),  # viernes 28 de noviembre
}

STATUS_TEXT: dict[str, dict[Status, str]] = {
    "en": {
        Status.NEW: "Received: an agent will pick it up soon.",
        Status.ASSIGNED: "An agent has taken your request.",
        Status.IN_PROGRESS: "We are working on your request.",
        Status.WAITING_ON_CUSTOMER: "We are waiting for information from you.",
        Status.RESOLVED: "Resolved.",
        Status.CLOSED: "Closed.",
    },
    "es": {
        Status.NEW: "Recibida: un agente la atenderá pronto.",
        Status.ASSIGNED: "Un agente se ha hecho cargo de tu solicitud.",
        Status.IN_PROGRESS: "Estamos trabajando en tu solicitud.",
        Status.WAITING_ON_CUSTOMER: "Estamos esperando información tuya.",
        Status.RESOLVED: "Resuelta.",
        Status.CLOSED: "Cerrada.",
    },
}


def _language(language: str) -> str:
    return language if language in DATE_FORMATS else "en"


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
    lang = _language(language)
    locale, pattern = DATE_FORMATS[lang]
    date = format_date(due, pattern, locale=locale)
    if lang == "es":
        relative = {0: "hoy", 1: "mañana"}.get(days, f"dentro de {days} días")
        when = f"como tarde el {date}"
    else:
        relative = {0: "today", 1: "tomorrow"}.get(days, f"in {days} days")
        when = f"no later than {date}"
    return when if days < 0 else f"{when} ({relative})"


def when_text(moment: dt.datetime, language: str, timezone: ZoneInfo) -> str:
    """A moment in words and local time: "Friday 28 November, 14:05" / "viernes 28 de
    noviembre, 14:05" (message times on the private page and in e-mails)."""
    locale, pattern = DATE_FORMATS[_language(language)]
    return format_datetime(moment.astimezone(timezone), f"{pattern}, HH:mm", locale=locale)
