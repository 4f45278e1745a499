"""Replies by e-mail (handoff_service.mail.inbound): a real aiosmtpd listener fed by smtplib
as the customer's mail server, the console's forms for held messages, and the MTA pipe
(`cli receive-email`) in a subprocess; on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from handoff_service.context import AppContext
from handoff_service.db import make_engine, make_session_factory
from handoff_service.mail import inbound
from handoff_service.mail.links import reply_address
from handoff_service.models import Ticket, TicketEvent
from handoff_service.settings import Settings
from handoff_service.vocabulary import InboundStatus, Status
from knowledge.settings import PROJECT_ROOT
from tests.handoff.test_console import act, browser, flashes  # noqa: F401 (fixture)
from tests.handoff.test_console import agent as agent  # fixture
from tests.support.network import free_port

CUSTOMER = "lucia@example.com"
MAX_BYTES = 200_000
PIPE_SECONDS = 120  # generous: the subprocess loads the classifier on a shared machine

SPANISH_GMAIL = """Ya lo encontré, lo tenía el vecino del 3º. Gracias.

El lun, 1 dic 2026 a las 10:00, Soporte Veltra (<reply+x@nivel0.localhost>)
escribió:

> Hola Lucía, ¿puedes confirmar si el paquete ha llegado?
"""

SPANISH_OUTLOOK = """Sí, el pedido es el VT-88123.

Saludos,
Lucía

Enviado desde mi iPhone

De: Soporte Veltra <reply+x@nivel0.localhost>
Enviado el: lunes, 1 de diciembre de 2026 10:00
Para: Lucía Pérez <lucia@example.com>
Asunto: RE: Tu solicitud

Hola Lucía, ¿nos dices el número de pedido?
"""

ENGLISH_GMAIL = """The parcel arrived this morning.
- the box was open
- one item is missing

--\x20
Lucía Pérez

On Mon, Dec 1, 2026 at 10:00 AM Veltra Support <reply+x@nivel0.localhost> wrote:
> Hello Lucía, can you confirm the parcel arrived?
"""

ENGLISH_IPHONE = """Yes, that is the right address.

Sent from my iPhone

> On 1 Dec 2026, at 10:00, Veltra Support <reply+x@nivel0.localhost> wrote:
>
> Hello Lucía, is the address right?
"""


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def listener(app: FastAPI, client: TestClient) -> Iterator[AppContext]:
    """The inbound listener of the app's context on a free port (empty database)."""
    ctx: AppContext = app.state.ctx
    settings = ctx.settings.model_copy(
        update={"inbound_smtp_port": free_port(), "inbound_max_bytes": MAX_BYTES}
    )
    ctx = replace(ctx, settings=settings)
    with inbound.running_listener(ctx):
        yield ctx


def mail(
    to: str,
    text: str,
    sender: str = CUSTOMER,
    subject: str = "RE: Tu solicitud",
    message_id: str | None = "new",
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Lucía Pérez <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = make_msgid() if message_id == "new" else message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


def send(
    ctx: AppContext, message: EmailMessage, to: str | None = None, envelope_from: str = CUSTOMER
) -> tuple[int, str]:
    """Deliver as the customer's mail server does; the final reply to DATA."""
    with smtplib.SMTP(ctx.settings.inbound_smtp_host, ctx.settings.inbound_smtp_port) as smtp:
        smtp.ehlo()
        smtp.mail(envelope_from)
        code, reply = smtp.rcpt(to or str(message["To"]))
        assert code == 250, reply
        code, reply = smtp.data(message.as_bytes(policy=policy.SMTP))  # CRLF line ends
        return code, reply.decode()


def ticket_row(session_factory, number: str) -> Ticket:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        ticket.inbound_emails, ticket.events  # noqa: B018 (loaded before the session ends)
        return ticket


def address_of(ctx: AppContext, session_factory, number: str) -> str:  # type: ignore[no-untyped-def]
    return reply_address(ctx.settings, ticket_row(session_factory, number))


def replies(ticket: Ticket) -> list[TicketEvent]:
    return [e for e in ticket.events if e.kind == "customer_reply"]


# --- the listener --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SPANISH_GMAIL, "Ya lo encontré, lo tenía el vecino del 3º. Gracias."),
        (SPANISH_OUTLOOK, "Sí, el pedido es el VT-88123."),
        (
            ENGLISH_GMAIL,
            "The parcel arrived this morning.\n- the box was open\n- one item is missing",
        ),
        (ENGLISH_IPHONE, "Yes, that is the right address."),
    ],
    ids=["es-gmail", "es-outlook", "en-gmail", "en-iphone"],
)
def test_a_reply_lands_on_the_ticket_without_quotes_and_signature(
    listener: AppContext, make_ticket, session_factory, text: str, expected: str
):
    number = make_ticket()["number"]
    code, reply = send(listener, mail(address_of(listener, session_factory, number), text))
    assert code == 250, reply

    ticket = ticket_row(session_factory, number)
    [received] = ticket.inbound_emails
    assert received.status == InboundStatus.APPENDED
    assert received.body == expected
    assert received.from_address == CUSTOMER
    [event] = replies(ticket)
    assert event.actor == "customer"
    assert event.data == {"body": expected, "via": "email"}


def test_a_reply_resumes_a_ticket_waiting_on_the_customer(
    listener: AppContext, client: TestClient, tokens, make_ticket, session_factory
):
    number = make_ticket()["number"]
    for step in ("claim", "start", "wait-on-customer"):
        response = client.post(f"/v1/tickets/{number}/{step}", headers=tokens["agent"])
        assert response.status_code == 200, response.text
    local, domain = address_of(listener, session_factory, number).split("@")
    to = f"{local}@{domain.upper()}"  # domains compare case-insensitively, keys do not
    code, _reply = send(listener, mail(to, "Adjunto el número: VT-88123."))
    assert code == 250

    api = client.get(f"/v1/tickets/{number}", headers=tokens["agent"]).json()
    assert api["status"] == Status.IN_PROGRESS
    ticket = ticket_row(session_factory, number)
    kinds = [e.kind for e in ticket.events]
    assert kinds[-2:] == ["customer_reply", "resume"]
    assert ticket.events[-1].actor == "customer"


def test_an_unknown_key_is_refused_at_rcpt(listener: AppContext, make_ticket):
    make_ticket()
    unknown = listener.settings.mail_reply_to.format(key="k" * 43)
    with smtplib.SMTP(
        listener.settings.inbound_smtp_host, listener.settings.inbound_smtp_port
    ) as s:
        s.ehlo()
        s.mail(CUSTOMER)
        for address in (unknown, "someone@nivel0.localhost", "reply+short@nivel0.localhost"):
            code, _reply = s.rcpt(address)
            assert code == 550


def test_the_same_message_twice_is_recorded_once(
    listener: AppContext, make_ticket, session_factory
):
    number = make_ticket()["number"]
    to = address_of(listener, session_factory, number)
    with_id = mail(to, "Con Message-ID")
    without_id = mail(to, "Sin Message-ID", message_id=None)
    for message in (with_id, with_id, without_id, without_id):
        assert send(listener, message)[0] == 250

    ticket = ticket_row(session_factory, number)
    assert sorted(m.body for m in ticket.inbound_emails) == ["Con Message-ID", "Sin Message-ID"]
    assert len(replies(ticket)) == 2
    assert {m.message_id for m in ticket.inbound_emails} >= {str(with_id["Message-ID"])}


def test_attachments_are_refused_and_noted_the_text_kept(
    listener: AppContext, make_ticket, session_factory
):
    number = make_ticket()["number"]
    message = mail(address_of(listener, session_factory, number), "Te mando la factura.")
    message.add_attachment(
        b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="factura.pdf"
    )
    code, reply = send(listener, message)
    assert code == 250
    assert reply.endswith("attachments were not accepted (no se aceptan adjuntos): factura.pdf")

    ticket = ticket_row(session_factory, number)
    [received] = ticket.inbound_emails
    assert received.status == InboundStatus.APPENDED
    assert received.body == "Te mando la factura."
    assert received.note == "attachments not accepted: factura.pdf (application/pdf, 13 bytes)"
    [event] = replies(ticket)
    assert event.data["refused_attachments"] == [
        {"name": "factura.pdf", "type": "application/pdf", "size": 13}
    ]


def test_a_message_over_the_size_limit_gets_552(listener: AppContext, make_ticket, session_factory):
    number = make_ticket()["number"]
    message = mail(address_of(listener, session_factory, number), "x" * (MAX_BYTES + 1000))
    code, _reply = send(listener, message)
    assert code == 552
    assert ticket_row(session_factory, number).inbound_emails == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"X_Autoreply": "yes"},
        {"Precedence": "bulk"},
        {"subject": "Respuesta automática: Tu solicitud"},
        {"envelope_from": ""},
    ],
    ids=["auto-submitted", "x-autoreply", "precedence", "out-of-office", "bounce"],
)
def test_automatic_replies_are_discarded_never_appended(
    listener: AppContext, make_ticket, session_factory, headers: dict[str, str]
):
    number = make_ticket()["number"]
    fields = {"subject": "RE: Tu solicitud", "envelope_from": CUSTOMER, **headers}
    envelope_from = fields.pop("envelope_from")
    message = mail(
        address_of(listener, session_factory, number),
        "Estoy fuera de la oficina hasta el lunes.",
        **fields,
    )
    assert send(listener, message, envelope_from=envelope_from)[0] == 250

    ticket = ticket_row(session_factory, number)
    [received] = ticket.inbound_emails
    assert received.status == InboundStatus.DISCARDED
    assert "to prevent mail loops" in (received.note or "")
    assert replies(ticket) == []


def test_a_card_number_in_a_reply_is_redacted_before_it_is_stored(
    listener: AppContext, make_ticket, session_factory
):
    number = make_ticket()["number"]
    to = address_of(listener, session_factory, number)
    send(listener, mail(to, "Pagué con la tarjeta 4111 1111 1111 1111, ¿lo veis?"))

    ticket = ticket_row(session_factory, number)
    expected = "Pagué con la tarjeta [card ****1111], ¿lo veis?"
    assert ticket.inbound_emails[0].body == expected
    assert replies(ticket)[0].data["body"] == expected


def test_a_database_failure_is_temporary_so_the_mail_is_not_lost(
    listener: AppContext, make_ticket, session_factory
):
    number = make_ticket()["number"]
    raw = mail(address_of(listener, session_factory, number), "Hola").as_bytes()
    down = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nivel0")
    ctx = replace(listener, engine=down, sessions=make_session_factory(down))
    try:
        outcome = inbound.receive(ctx, raw, [address_of(ctx, session_factory, number)])
        assert outcome.result is inbound.Result.TEMPORARY
        assert outcome.smtp_reply.startswith("451 ")
        settings = ctx.settings.model_copy(update={"inbound_smtp_port": free_port()})
        with (
            inbound.running_listener(replace(ctx, settings=settings)),
            smtplib.SMTP(settings.inbound_smtp_host, settings.inbound_smtp_port) as smtp,
        ):
            smtp.ehlo()
            smtp.mail(CUSTOMER)
            assert smtp.rcpt(address_of(ctx, session_factory, number))[0] == 451
    finally:
        down.dispose()


# --- held messages and the console ------------------------------------------------------


def test_another_sender_is_held_and_an_agent_accepts_or_discards_it(
    listener: AppContext,
    agent: TestClient,
    make_ticket,
    session_factory,
):
    number = make_ticket()["number"]
    to = address_of(listener, session_factory, number)
    send(listener, mail(to, "Soy su hermano: el paquete llegó.", sender="hermano@example.com"))
    send(listener, mail(to, "Publicidad", sender="spam@example.net"))

    ticket = ticket_row(session_factory, number)
    held = {m.from_address: m for m in ticket.inbound_emails}
    assert {m.status for m in held.values()} == {InboundStatus.HELD}
    assert held["hermano@example.com"].note == "from hermano@example.com, not the ticket's customer"
    assert replies(ticket) == []

    page = agent.get(f"/console/tickets/{number}").text
    assert page.count("Add to the ticket as the customer's reply") == 2
    assert "Soy su hermano: el paquete llegó." in page

    page = act(agent, number, "accept-email", inbound_id=str(held["hermano@example.com"].id))
    assert flashes(page.text) == ["E-mail added to the ticket as the customer&#39;s reply."]
    page = act(agent, number, "discard-email", inbound_id=str(held["spam@example.net"].id))
    assert flashes(page.text) == ["E-mail discarded: it stays listed, not in the history."]
    page = act(agent, number, "discard-email", inbound_id=str(held["spam@example.net"].id))
    assert flashes(page.text) == ["this e-mail was already discarded"]

    ticket = ticket_row(session_factory, number)
    decided = {m.from_address: (m.status, m.decided_by) for m in ticket.inbound_emails}
    assert decided == {
        "hermano@example.com": (InboundStatus.ACCEPTED, "ana"),
        "spam@example.net": (InboundStatus.DISCARDED, "ana"),
    }
    [event] = replies(ticket)
    assert event.data == {
        "body": "Soy su hermano: el paquete llegó.",
        "via": "email",
        "accepted_by": "ana",
    }
    assert "Add to the ticket" not in agent.get(f"/console/tickets/{number}").text


def test_a_reply_to_a_resolved_ticket_or_with_no_text_is_held(
    app: FastAPI, client: TestClient, tokens, make_ticket, session_factory
):
    ctx: AppContext = app.state.ctx
    number = make_ticket()["number"]
    to = address_of(ctx, session_factory, number)
    empty = inbound.receive(ctx, mail(to, "> solo la cita\n").as_bytes(), [to])
    assert (empty.status, empty.note) == (
        InboundStatus.HELD,
        "no text left once the quoted history was removed",
    )
    client.post(f"/v1/tickets/{number}/claim", headers=tokens["agent"])
    response = client.post(
        f"/v1/tickets/{number}/resolve",
        json={"resolution_note": "Entregado"},
        headers=tokens["agent"],
    )
    assert response.status_code == 200, response.text
    late = inbound.receive(ctx, mail(to, "Gracias!").as_bytes(), [to])
    assert (late.status, late.note) == (InboundStatus.HELD, "ticket resolved: reopen or answer")
    assert replies(ticket_row(session_factory, number)) == []


def test_an_html_only_reply_is_read_as_text(app: FastAPI, make_ticket, session_factory):
    ctx: AppContext = app.state.ctx
    number = make_ticket()["number"]
    to = address_of(ctx, session_factory, number)
    message = mail(to, "")
    message.set_content(
        '<div dir="ltr">Hola,<br>ya ha llegado &amp; está bien.</div><br>'
        '<div class="gmail_quote"><div class="gmail_attr">El lun, 1 dic 2026 a las 10:00, '
        "Soporte &lt;reply@x&gt; escribió:<br></div><blockquote>Hola Lucía</blockquote></div>",
        subtype="html",
    )
    outcome = inbound.receive(ctx, message.as_bytes(), [to])
    assert outcome.status is InboundStatus.APPENDED
    [received] = ticket_row(session_factory, number).inbound_emails
    assert received.body == "Hola,\nya ha llegado & está bien."


# --- the MTA pipe --------------------------------------------------------------------------


def pipe(settings: Settings, raw: bytes, *args: str, database_url: str | None = None) -> int:
    env = {
        **os.environ,
        "DATABASE_URL": database_url or settings.database_url,
        "HANDOFF_TRIAGE_MODEL_PATH": str(settings.triage_model_path),
        "HANDOFF_KB_DRAFTS_DIR": str(settings.kb_drafts_dir),
    }
    done = subprocess.run(
        [sys.executable, "-m", "handoff_service.cli", "receive-email", *args],
        input=raw,
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        timeout=PIPE_SECONDS,
        check=False,
    )
    return done.returncode


def test_the_pipe_records_a_reply_and_refuses_unknown_recipients(
    app: FastAPI, settings: Settings, make_ticket, session_factory
):
    ctx: AppContext = app.state.ctx
    number = make_ticket()["number"]
    to = address_of(ctx, session_factory, number)

    # recipients from the headers (Delivered-To first), then from the envelope argument
    from_headers = mail("Soporte <soporte@veltra.example>", "Por la tubería", Delivered_To=to)
    assert pipe(settings, from_headers.as_bytes()) == 0
    from_argv = mail("Soporte <soporte@veltra.example>", "Otra vez por la tubería")
    assert pipe(settings, from_argv.as_bytes(), to) == 0
    assert pipe(settings, from_argv.as_bytes(), to) == 0  # redelivered: recorded once
    unknown = settings.mail_reply_to.format(key="k" * 43)
    assert pipe(settings, from_argv.as_bytes(), unknown) == 67
    assert pipe(settings, b"not an e-mail", to) == 65

    ticket = ticket_row(session_factory, number)
    assert [r.data["body"] for r in replies(ticket)] == [
        "Por la tubería",
        "Otra vez por la tubería",
    ]


def test_the_pipe_asks_the_mta_to_retry_when_the_database_is_down(
    app: FastAPI, settings: Settings, make_ticket, session_factory
):
    ctx: AppContext = app.state.ctx
    number = make_ticket()["number"]
    to = address_of(ctx, session_factory, number)
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/nivel0"
    assert pipe(settings, mail(to, "Hola").as_bytes(), to, database_url=down) == 75
