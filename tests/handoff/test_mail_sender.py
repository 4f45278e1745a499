"""The e-mail sender against a real SMTP server (aiosmtpd), on SQLite and PostgreSQL:
headers and threading, retries with backoff, giving up, permanent refusals, exactly one
delivery per outbox row after an outage, and the background worker."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from email.message import EmailMessage as MimeMessage

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff_service.context import AppContext
from handoff_service.mail import sender
from handoff_service.mail.links import key_from_address
from handoff_service.mail.outbox import enqueue
from handoff_service.models import EmailMessage, Ticket, utcnow
from handoff_service.vocabulary import EmailKind, EmailStatus
from tests.handoff import test_console
from tests.support import smtp
from tests.support.polling import WAIT_SECONDS, wait_until
from tests.support.smtp import SmtpServer, sending_to

# fixtures shared with other modules
smtp_server = smtp.smtp_server
browser, agent = test_console.browser, test_console.agent
act = test_console.act


@pytest.fixture
def ctx(app: FastAPI, smtp_server: SmtpServer) -> AppContext:
    return sending_to(app.state.ctx, smtp_server)


def outbox(ctx: AppContext) -> list[EmailMessage]:
    with ctx.sessions() as session:
        rows = list(session.scalars(select(EmailMessage).order_by(EmailMessage.id)))
        session.expunge_all()
        return rows


def body(message: MimeMessage, subtype: str) -> str:
    """A part's text with the line ends as rendered (SMTP carries CRLF)."""
    part = message.get_body((subtype,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def reply(client: TestClient, tokens, number: str, body: str, visibility: str = "customer") -> None:
    r = client.post(
        f"/v1/tickets/{number}/comments",
        json={"body": body, "visibility": visibility},
        headers=tokens["agent"],
    )
    assert r.status_code == 201, r.text


def test_sent_with_fixed_headers_and_threaded(
    ctx: AppContext, smtp_server: SmtpServer, client: TestClient, tokens, make_ticket
) -> None:
    number = make_ticket()["number"]
    reply(client, tokens, number, "Hola Lucía, ya lo estamos mirando con el transportista.")

    assert sender.send_due(ctx) == 2
    first, second = smtp_server.wait_for(2)
    rows = outbox(ctx)
    assert [r.status for r in rows] == [EmailStatus.SENT.value] * 2
    assert all(r.sent_at is not None and r.attempts == 1 for r in rows)
    with ctx.sessions() as session:
        key = session.scalars(select(Ticket.access_key).where(Ticket.number == number)).one()

    for received, row in zip((first, second), rows, strict=True):
        message = received.message
        assert received.rcpt_tos == ["lucia@example.com"]
        assert message["To"] == "lucia@example.com"
        assert message["From"] == ctx.settings.mail_from
        assert message["Message-ID"] == row.message_id
        assert message["Subject"] == row.subject and number in row.subject
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["Content-Language"] == "es"
        assert message["Date"]
        assert key_from_address(ctx.settings, str(message["Reply-To"])) == key
        assert body(message, "plain") == row.text_body
        assert body(message, "html") == row.html_body
    assert first.message["In-Reply-To"] is None
    assert second.message["In-Reply-To"] == first.message_id
    assert second.message["References"] == first.message_id
    assert "ya lo estamos mirando" in body(second.message, "plain")

    assert sender.send_due(ctx) == 0  # nothing is sent twice


def test_internal_notes_and_tickets_without_address_send_nothing(
    ctx: AppContext, smtp_server: SmtpServer, client: TestClient, tokens, make_ticket
) -> None:
    number = make_ticket()["number"]
    assert sender.send_due(ctx) == 1
    reply(client, tokens, number, "Nota interna: el transportista es lento.", "internal")
    silent = make_ticket(customer={"name": "Sin correo", "phone": "+34600123456"})["number"]
    reply(client, tokens, silent, "Te llamamos mañana.")

    assert sender.send_due(ctx) == 0
    assert len(outbox(ctx)) == 1
    assert len(smtp_server.messages) == 1


def test_backoff_doubles_then_gives_up(
    ctx: AppContext, smtp_server: SmtpServer, make_ticket
) -> None:
    smtp_server.stop()
    make_ticket()
    now = utcnow()
    expected_waits = [30, 60, 120, 240, 480, 900, 900]
    for attempt, wait in enumerate(expected_waits, start=1):
        assert sender.send_due(ctx, now) == 0
        (row,) = outbox(ctx)
        assert row.status == EmailStatus.PENDING.value and row.attempts == attempt
        assert row.last_error and "Connection" in row.last_error
        assert row.next_attempt_at == now + dt.timedelta(seconds=wait)
        # not due a moment before: no attempt
        assert sender.send_due(ctx, row.next_attempt_at - dt.timedelta(seconds=1)) == 0
        assert outbox(ctx)[0].attempts == attempt
        now = row.next_attempt_at

    give_up = row.created_at + dt.timedelta(hours=ctx.settings.email_give_up_hours)
    assert sender.send_due(ctx, give_up) == 0
    (row,) = outbox(ctx)
    assert row.status == EmailStatus.FAILED.value
    assert row.attempts == len(expected_waits) + 1
    smtp_server.start()
    assert sender.send_due(ctx, give_up + dt.timedelta(days=1)) == 0
    assert smtp_server.messages == []


def test_permanent_refusal_fails_at_once_and_temporary_is_retried(
    ctx: AppContext, smtp_server: SmtpServer, make_ticket
) -> None:
    smtp_server.refuse["nadie@example.com"] = "550 5.1.1 No such user here"
    smtp_server.refuse["lleno@example.com"] = "452 4.2.2 Mailbox full, try later"
    make_ticket(customer={"name": "Nadie", "email": "nadie@example.com"})
    make_ticket(customer={"name": "Lleno", "email": "lleno@example.com"})
    now = utcnow()

    assert sender.send_due(ctx, now) == 0
    refused, full = outbox(ctx)
    assert refused.status == EmailStatus.FAILED.value and refused.attempts == 1
    assert refused.last_error and "550 5.1.1 No such user here" in refused.last_error
    assert full.status == EmailStatus.PENDING.value
    assert full.last_error and "452" in full.last_error
    assert full.next_attempt_at == now + dt.timedelta(seconds=30)

    del smtp_server.refuse["lleno@example.com"]
    assert sender.send_due(ctx, full.next_attempt_at) == 1
    (received,) = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["lleno@example.com"]
    assert [r.status for r in outbox(ctx)] == [EmailStatus.FAILED.value, EmailStatus.SENT.value]


def test_smtp_down_during_ten_changes_then_every_email_arrives_exactly_once(
    ctx: AppContext, smtp_server: SmtpServer, client: TestClient, tokens, make_ticket
) -> None:
    smtp_server.stop()
    agent = tokens["agent"]
    number = make_ticket()["number"]  # 1: ticket_created
    url = f"/v1/tickets/{number}"
    assert client.post(f"{url}/claim", headers=agent).status_code == 200
    assert client.post(f"{url}/start", headers=agent).status_code == 200
    for n in range(6):  # 2-7: agent replies
        reply(client, tokens, number, f"Respuesta número {n + 1}")
    wait = client.post(
        f"{url}/wait-on-customer", json={"message": "La foto del paquete"}, headers=agent
    )
    assert wait.status_code == 200  # 8
    assert client.post(f"{url}/resume", headers=agent).status_code == 200
    resolved = client.post(f"{url}/resolve", json={"resolution_note": "Reenviado"}, headers=agent)
    assert resolved.status_code == 200  # 9
    reopened = client.post(f"{url}/reopen", json={"reason": "No llegó"}, headers=agent)
    assert reopened.status_code == 200  # 10

    now = utcnow()
    assert sender.send_due(ctx, now) == 0
    rows = outbox(ctx)
    assert len(rows) == 10
    assert all(r.status == EmailStatus.PENDING.value and r.last_error for r in rows)
    subjects = [r.subject for r in rows]

    smtp_server.start()
    later = max(r.next_attempt_at for r in rows)
    assert sender.send_due(ctx, later) == 10
    received = smtp_server.wait_for(10)
    assert sorted(m.message_id for m in received) == sorted(r.message_id for r in rows)
    assert len({m.message_id for m in received}) == 10
    assert [r.subject for r in outbox(ctx)] == subjects  # rendered once, at the first attempt
    assert sender.send_due(ctx, later + dt.timedelta(hours=1)) == 0
    assert len(smtp_server.messages) == 10


def test_a_claimed_row_is_not_claimed_again(ctx: AppContext, make_ticket) -> None:
    make_ticket()
    now = utcnow()
    first = sender._claim(ctx, now)
    assert len(first) == 1
    assert sender._claim(ctx, now) == []  # another sender (or the next pass) skips it
    (row,) = outbox(ctx)
    assert row.subject and row.next_attempt_at == now + sender.lease(ctx.settings)


def test_worker_thread_sends_and_stops(app: FastAPI, smtp_server: SmtpServer, make_ticket) -> None:
    ctx = sending_to(app.state.ctx, smtp_server, email_poll_seconds=0.05)
    with sender.running_worker(ctx) as thread:
        make_ticket()
        (received,) = smtp_server.wait_for(1)
        wait_until(lambda: outbox(ctx)[0].status == EmailStatus.SENT.value, "row marked sent")
    assert not thread.is_alive()
    assert received.message_id == outbox(ctx)[0].message_id


def test_backoff_is_capped() -> None:
    assert [sender.backoff(n).total_seconds() for n in range(1, 8)] == [
        30,
        60,
        120,
        240,
        480,
        900,
        900,
    ]


def test_console_shows_sent_and_failed_emails_and_asks_what_we_need(
    ctx: AppContext, smtp_server: SmtpServer, agent: TestClient, make_ticket
) -> None:
    number = make_ticket()["number"]
    assert sender.send_due(ctx) == 1
    smtp_server.refuse["lucia@example.com"] = "550 5.1.1 Mailbox unavailable"
    for action in ("claim", "start"):
        assert act(agent, number, action).status_code == 200
    page = act(agent, number, "wait-on-customer", message="El número de seguimiento, por favor")
    assert "They are e-mailed what we need." in page.text
    assert sender.send_due(ctx) == 0

    created, waiting = outbox(ctx)
    assert waiting.status == EmailStatus.FAILED.value
    assert "El número de seguimiento, por favor" in (waiting.text_body or "")
    html = agent.get(f"/console/tickets/{number}").text
    section = html[html.index('id="emails-h"') :]
    assert section.index("waiting on customer") < section.index("ticket created")  # newest first
    assert '<span class="badge">sent</span>' in section
    assert '<span class="badge">failed</span>' in section
    assert "550 5.1.1 Mailbox unavailable" in section
    assert f"<summary>{created.subject}</summary>" in section
    assert 'id="wait-message"' not in html  # no longer waitable: it is waiting


def test_cli_send_email_once(app: FastAPI, smtp_server: SmtpServer, make_ticket) -> None:
    """``cli send-email --once``: the worker's pass as a separate process (email_worker=false)."""
    settings = app.state.ctx.settings
    make_ticket()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "HANDOFF_AUTO_MIGRATE": "false",
        "HANDOFF_TRIAGE_MODEL_PATH": str(settings.triage_model_path),
        "HANDOFF_SMTP_HOST": smtp_server.host,
        "HANDOFF_SMTP_PORT": str(smtp_server.port),
        "HANDOFF_LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [sys.executable, "-m", "handoff_service.cli", "send-email", "--once"],
        env=env,
        capture_output=True,
        timeout=WAIT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    (received,) = smtp_server.wait_for(1)
    (row,) = outbox(app.state.ctx)
    assert row.status == EmailStatus.SENT.value and received.message_id == row.message_id


def test_session_jobs_are_committed_and_a_failing_job_stops_nothing(
    ctx: AppContext, smtp_server: SmtpServer, make_ticket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """How the due-notice announcer plugs in: ``in_session`` commits what a job queued, and a
    failing job is logged without stopping the others."""
    number = make_ticket()["number"]

    def notice(_ctx: AppContext, session: Session, _now: dt.datetime) -> int:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        enqueue(ticket, EmailKind.OVERDUE, "ana@example.com", None)
        return 1

    def broken(_ctx: AppContext, _now: dt.datetime) -> int:
        raise RuntimeError("a job that fails")

    monkeypatch.setattr(sender, "JOBS", [broken, sender.in_session(notice), sender.send_due])
    sender.run_jobs(ctx, utcnow())
    sender.run_jobs(ctx, utcnow())  # the next tick sends what the first one queued
    received = smtp_server.wait_for(2)
    assert sorted(m.rcpt_tos[0] for m in received) == ["ana@example.com", "lucia@example.com"]
    overdue = next(m.message for m in received if m.rcpt_tos == ["ana@example.com"])
    assert overdue["Reply-To"] is None and overdue["Content-Language"] == "en"
    assert f"/console/tickets/{number}" in body(overdue, "plain")
