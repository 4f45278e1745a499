"""The customer e-mails' HTML in a real browser (Chromium via Playwright): it loads nothing
from anywhere, passes axe-core's WCAG 2.1 AA rules, and looks right. Screenshots go to
docs/screenshots/email-*.png.

The rows are built in memory (no database): rendering needs only the ticket, the event and
the settings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handoff_service.mail.outbox import new_message_id
from handoff_service.mail.render import render
from handoff_service.models import EmailMessage, Ticket, TicketEvent
from handoff_service.settings import Settings
from handoff_service.tickets import new_access_key
from handoff_service.vocabulary import EmailKind
from tests.support import chromium_browser, require_chromium
from tests.support.axe import assert_accessible

require_chromium()
pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
NOW = dt.datetime(2026, 11, 25, 10, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as running:
        yield running


def email(kind: EmailKind, language: str, event_kind: str, **data: object) -> EmailMessage:
    ticket = Ticket(
        number="T-2026-000123",
        customer_name="Lucía Pérez" if language == "es" else "Laura Smith",
        customer_email="cliente@example.com",
        language=language,
        queue="shipping",
        priority="normal",
        status="resolved" if kind is EmailKind.RESOLVED else "new",
        access_key=new_access_key(),
        created_at=NOW - dt.timedelta(days=2),
        due_at=NOW + dt.timedelta(days=3),
        resolved_at=NOW if kind is EmailKind.RESOLVED else None,
        resolution_note=data.get("resolution_note"),
    )
    event = TicketEvent(kind=event_kind, actor="ana", data=data, created_at=NOW)
    return EmailMessage(
        ticket=ticket,
        event=event,
        kind=kind.value,
        to_address="cliente@example.com",
        language=language,
        message_id=new_message_id(),
        created_at=NOW,
    )


CASES = [
    ("email-created-es.png", email(EmailKind.TICKET_CREATED, "es", "created")),
    (
        "email-resolved-en.png",
        email(
            EmailKind.RESOLVED,
            "en",
            "resolve",
            resolution_note="The carrier confirmed the parcel was lost. We sent a replacement "
            "at no cost; it arrives on Friday.",
        ),
    ),
]


@pytest.mark.parametrize(("screenshot", "row"), CASES, ids=[c[0] for c in CASES])
def test_email_html_in_chromium(browser: Any, screenshot: str, row: EmailMessage) -> None:
    settings = Settings()
    subject, _text, html = render(settings, ZoneInfo("Europe/Madrid"), row)
    context = browser.new_context(viewport={"width": 720, "height": 600})
    try:
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.set_content(html, wait_until="load")

        assert page.title() == subject
        assert page.locator("html").get_attribute("lang") == row.language
        assert page.get_by_role("heading", level=1).count() == 1
        link = page.get_by_role(
            "link", name="Ver tu solicitud" if row.language == "es" else "Rate our help"
        )
        expected = f"{settings.public_url}/t/{row.ticket.access_key}"
        assert (link.get_attribute("href") or "").startswith(expected)
        assert requests == []  # no image, font, stylesheet or script from anywhere
        assert_accessible(page)

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / screenshot), full_page=True)
    finally:
        context.close()
