"""How the console writes values for agents, registered in one place as Jinja filters and tests.

The functions take everything they need as arguments (tests call them directly); the Jinja
wrappers take the organisation's time zone (``zone``) and the help centre's base URL
(``help_center_url``) from the template context, which :func:`..templating.render` fills.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from pydantic import ValidationError

from handoff_service import sla
from handoff_service.lifecycle import OPEN
from handoff_service.models import Ticket
from handoff_service.vocabulary import Status
from knowledge.articles import article_url

LANGUAGE_NAMES = {"en": "English", "es": "Español"}


def duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else "less than a minute"


def percent(fraction: float | None) -> str:
    """'42.5 %'; '—' for a rate with nothing to count (null in the reports)."""
    return "—" if fraction is None else f"{fraction * 100:.1f} %"


def day(value: dt.date) -> str:
    """A calendar day as the console writes it: 'Mon 02 Nov 2026'."""
    return value.strftime("%a %d %b %Y")


def time_left(ticket: Ticket, now: dt.datetime) -> str:
    """'2 d 3 h left' / 'overdue by 4 h 10 min' for open tickets, 'clock paused (waiting on the
    customer)' while the due-date clock stands still; the status otherwise."""
    if Status(ticket.status) not in OPEN:
        return ticket.status.replace("_", " ")
    if ticket.sla_paused_at is not None:
        return "clock paused (waiting on the customer)"
    seconds = int((ticket.due_at - now).total_seconds())
    return f"{duration(seconds)} left" if seconds >= 0 else f"overdue by {duration(-seconds)}"


def is_overdue(ticket: Ticket, now: dt.datetime) -> bool:
    """The due-state rule's own answer (a paused ticket is not overdue)."""
    return sla.current_due_state(ticket, now) is sla.DueState.OVERDUE


def local_time(moment: dt.datetime | None, timezone: ZoneInfo) -> str:
    if moment is None:
        return ""
    return moment.astimezone(timezone).strftime("%a %d %b %Y %H:%M")


def event_value(key: str, value: object, timezone: ZoneInfo) -> str:
    """A history detail as an agent reads it: probabilities in %, instants in local time."""
    if key.endswith("_confidence") and isinstance(value, float):
        return f"{value * 100:.0f} %"
    if key.endswith("_at") and isinstance(value, str):
        try:
            return local_time(dt.datetime.fromisoformat(value), timezone)
        except ValueError:
            return value
    return str(value)


def help_center_link(help_center_url: str, article_id: str, language: str) -> str | None:
    """The help-centre page of a KB article id ``<topic>-<language>``, if it has that form."""
    suffix = f"-{language}"
    if not article_id.endswith(suffix):
        return None
    return article_url(help_center_url, language, quote(article_id[: -len(suffix)]))


def mailto(address: str) -> str:
    """A ``mailto:`` link to ``address`` alone: everything but ``@`` is percent-encoded, so an
    address stored before the e-mail check refused ``?&=%`` (``x?bcc=...@example.com``)
    cannot add headers or recipients to the agent's message."""
    return "mailto:" + quote(address, safe="@")


def describe(error: ValidationError) -> str:
    """'resolution note: String should have at least 1 character; ...' for a flash message."""
    parts = []
    for item in error.errors():
        field = " ".join(str(part) for part in item["loc"]).replace("_", " ")
        parts.append(f"{field}: {item['msg']}" if field else item["msg"])
    return "; ".join(parts)


@pass_context
def _local_time(context: Context, moment: dt.datetime | None) -> str:
    return local_time(moment, context["zone"])


@pass_context
def _event_value(context: Context, value: object, key: str) -> str:
    return event_value(key, value, context["zone"])


@pass_context
def _article_url(context: Context, article_id: str, language: str) -> str | None:
    return help_center_link(context["help_center_url"], article_id, language)


def register(env: Environment) -> None:
    """Make the console's formatting available to its templates:

    ``moment|local_time``, ``date|day``, ``value|event_value(key)``, ``ticket|time_left(now)``,
    ``language|language_name``, ``article_id|article_url(language)``, ``address|mailto`` and
    the test ``ticket is overdue(now)``.
    """
    env.filters.update(
        local_time=_local_time,
        day=day,
        event_value=_event_value,
        time_left=time_left,
        language_name=LANGUAGE_NAMES.__getitem__,
        article_url=_article_url,
        mailto=mailto,
    )
    env.tests["overdue"] = is_overdue
