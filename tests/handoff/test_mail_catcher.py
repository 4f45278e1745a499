"""The laptop's SMTP catch-all: it receives over real SMTP, lists and shows what it received,
serves the HTML part under a strict CSP, and keeps messages across a restart (var/mail)."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from handoff_service.mail import sender
from handoff_service.mail.catcher import MESSAGE_CSP, MailCatcher
from handoff_service.models import EmailMessage as OutboxRow
from tests.support.network import free_port
from tests.support.polling import wait_until


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    with MailCatcher("127.0.0.1", free_port(), free_port(), tmp_path / "mail") as running:
        yield running


def send(catcher: MailCatcher, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "support@nivel0.localhost"
    message["To"] = "lucia@example.com"
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@test>"
    message.set_content("Ver tu solicitud: http://localhost:8000/t/abc")
    message.add_alternative(
        '<!DOCTYPE html><html lang="es"><body><p>Hola <script>alert(1)</script></p></body></html>',
        subtype="html",
    )
    with smtplib.SMTP(catcher.smtp_host, catcher.smtp_port, timeout=30) as smtp:
        smtp.send_message(message)


def test_receives_lists_and_shows_a_message(catcher: MailCatcher) -> None:
    send(catcher, "First <one>")
    send(catcher, "Second one")
    wait_until(lambda: len(catcher.messages) == 2, "two messages caught")

    listing = httpx.get(catcher.url, timeout=30)
    assert listing.status_code == 200
    page = listing.text
    assert page.index("Second one") < page.index("First &lt;one&gt;")  # newest first
    assert "lucia@example.com" in page and "<one>" not in page

    newest = catcher.messages[0]
    view = httpx.get(f"{catcher.url}messages/{newest.id}", timeout=30)
    assert view.status_code == 200
    assert '<a href="http://localhost:8000/t/abc">' in view.text
    assert f'src="/messages/{newest.id}/html" sandbox=""' in view.text

    part = httpx.get(f"{catcher.url}messages/{newest.id}/html", timeout=30)
    assert part.headers["content-security-policy"] == MESSAGE_CSP
    assert "script-src" not in MESSAGE_CSP and "sandbox" in MESSAGE_CSP

    raw = httpx.get(f"{catcher.url}messages/{newest.id}.eml", timeout=30)
    assert b"Subject: Second one" in raw.content
    api = httpx.get(f"{catcher.url}api/messages", timeout=30).json()
    assert [m["subject"] for m in api] == ["Second one", "First <one>"]
    assert httpx.get(f"{catcher.url}messages/nope", timeout=30).status_code == 404


def test_messages_survive_a_restart(tmp_path: Path) -> None:
    directory = tmp_path / "mail"
    first = MailCatcher("127.0.0.1", free_port(), free_port(), directory)
    with first:
        send(first, "Kept")
        wait_until(lambda: first.messages, "message caught")
    assert len(list(directory.glob("*.eml"))) == 1

    with MailCatcher("127.0.0.1", free_port(), free_port(), directory) as second:
        (kept,) = second.messages
        assert kept.header("Subject") == "Kept"
        assert "Kept" in httpx.get(second.url, timeout=30).text


def test_the_product_e_mails_show_up_in_the_catcher(
    app: FastAPI, catcher: MailCatcher, make_ticket
) -> None:
    settings = app.state.ctx.settings.model_copy(
        update={"smtp_host": catcher.smtp_host, "smtp_port": catcher.smtp_port}
    )
    ctx = replace(app.state.ctx, settings=settings)
    number = make_ticket(language="en")["number"]
    assert sender.send_due(ctx) == 1
    (caught,) = wait_until(lambda: catcher.messages, "the e-mail caught")
    with ctx.sessions() as session:
        (row,) = session.query(OutboxRow).all()
        assert caught.header("Message-ID") == row.message_id
    assert number in httpx.get(catcher.url, timeout=30).text
