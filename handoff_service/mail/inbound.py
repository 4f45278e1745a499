"""Replies by e-mail: a customer answers a notification and the answer lands on the ticket.

Every e-mail to a customer carries ``Reply-To: reply+<access key>@...`` (links.reply_address),
so the recipient address names the ticket. Two entry points read such a message and share
:func:`receive`: the SMTP listener (:func:`running_listener`, started with the service) and
``cli receive-email`` (one message on stdin, for an MTA's pipe transport).

What is recorded (one InboundEmail row per Message-ID, so a redelivered message is recorded
once): the reply without its quoted history and signature, redacted, and

- ``appended`` to the ticket as the customer's reply when it comes from the ticket's customer
  address and the ticket is open;
- ``held`` for an agent (console: add it or discard it) when it comes from another address,
  the ticket is resolved or closed, or nothing is left once the quoted history is removed;
- ``discarded`` at once when it is an automatic message (out of office, bounce, ...): answering
  those with a notification would start a mail loop.

Attachments are never stored; their names, types and sizes go into the note, and the
listener's SMTP reply says they were not accepted.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from enum import StrEnum
from html.parser import HTMLParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from mailparser_reply import EmailMessage as ReplyText
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session as DbSession

from handoff_service import tickets
from handoff_service.context import AppContext
from handoff_service.lifecycle import OPEN, InvalidTransition
from handoff_service.mail.links import key_from_address
from handoff_service.models import Account, InboundEmail, Ticket, utcnow
from handoff_service.redaction import redact
from handoff_service.schemas import MAX_NOTE_CHARS
from handoff_service.vocabulary import InboundStatus, Status

logger = logging.getLogger(__name__)

#: Languages whose mail-client reply headers and signatures are recognised (the tickets' ones).
REPLY_LANGUAGES = ["es", "en"]
READY_SECONDS = 30.0
_MESSAGE_ID_CHARS = 255  # InboundEmail.message_id
_SUBJECT_CHARS = 300
_ADDRESS_CHARS = 254

# Reply headers mailparser-reply misses: Gmail in Spanish ("El lun, 1 dic 2026 a las 10:00,
# Soporte <reply+...> escribió:", often wrapped over two lines), Outlook in Spanish ("De: ..."
# then "Enviado el: ..."/"Fecha: ...") and the old Outlook separator in Spanish.
_QUOTE = r"^(?:> ?)*"
_EXTRA_HEADERS = re.compile(
    rf"{_QUOTE}El\s[^\n]*(?:\n[^\n]*)?\sescribi[oó]:[ \t]*$"
    rf"|{_QUOTE}\**De:\**[ \t][^\n]*\n(?:> ?)*\**(?:Enviado(?: el)?|Fecha):\**[ \t]"
    rf"|{_QUOTE}-{{3,}} ?Mensaje original ?-{{3,}}[ \t]*$",
    re.MULTILINE | re.IGNORECASE,
)
_TRAILING_QUOTE = re.compile(r"(?:\n(?:>[^\n]*)?)+\Z")
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANK_LINES = re.compile(r"\n{3,}")

# Automatic messages: RFC 3834 Auto-Submitted, the older X-Autoreply/X-Autorespond and
# Precedence conventions, and out-of-office subjects of clients that set none of them.
_AUTO_PRECEDENCE = {"bulk", "junk", "auto_reply"}
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto(?:matic)?[- ]?reply|out of (?:the )?office|"
    r"respuesta autom[aá]tica|fuera de la oficina)\b",
    re.IGNORECASE,
)


class Result(StrEnum):
    """What became of a message, for the SMTP reply or the pipe's exit code."""

    RECORDED = "recorded"  # stored (appended, held or discarded: see Outcome.status)
    DUPLICATE = "duplicate"  # its Message-ID was recorded before
    NO_TICKET = "no_ticket"  # no recipient is a reply address of a ticket
    UNREADABLE = "unreadable"  # not an e-mail message (no headers, no From)
    TOO_BIG = "too_big"  # larger than inbound_max_bytes
    TEMPORARY = "temporary"  # the database failed: the sender should try again


@dataclass(frozen=True)
class Attachment:
    """A refused attachment, as noted (its content is never stored)."""

    name: str
    content_type: str
    size: int

    def describe(self) -> str:
        return f"{self.name} ({self.content_type}, {self.size} bytes)"

    def as_data(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.content_type, "size": self.size}


@dataclass(frozen=True)
class Outcome:
    """What :func:`receive` did with a message; ``smtp_reply`` says it to the sender."""

    result: Result
    status: InboundStatus | None = None
    ticket_number: str | None = None
    note: str | None = None
    refused: list[Attachment] = field(default_factory=list)

    @property
    def smtp_reply(self) -> str:
        """The listener's answer to DATA."""
        if self.result is Result.TEMPORARY:
            return "451 4.3.0 Temporary failure storing the message; please try again later"
        if self.result is Result.NO_TICKET:
            return "550 5.1.1 No such recipient"
        if self.result is Result.UNREADABLE:
            return "554 5.6.0 The message could not be read"
        if self.result is Result.TOO_BIG:
            return "552 5.3.4 Message too big"
        text = "250 2.0.0 Message received"
        if self.refused:
            # the sender's server may show this to the customer: both languages, and only
            # printable ASCII (a file name must not break the SMTP reply line)
            names = _NOT_PRINTABLE.sub("?", ", ".join(a.name for a in self.refused))
            text += f"; attachments were not accepted (no se aceptan adjuntos): {names}"
        return text


# --- reading the message -------------------------------------------------------------------


class _HtmlText(HTMLParser):
    """The readable text of an HTML body: block elements become line breaks; scripts, styles
    and quoted history (``<blockquote>``) are left out."""

    _SKIP = frozenset({"script", "style", "head", "title", "blockquote"})
    _BREAK = frozenset({"br", "p", "div", "li", "tr", "hr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAK and not self._skipping:
            self._parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BREAK and not self._skipping:
            self._parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        lines = (line.strip() for line in "".join(self._parts).split("\n"))
        return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return parser.text()


def strip_reply(text: str) -> str:
    """The new part of a reply: without the quoted history below it and the signature."""
    text = text.replace("\r\n", "\n")
    cut = _EXTRA_HEADERS.search(text)
    if cut:
        text = text[: cut.start()]
    reply = ReplyText(text=text, languages=list(REPLY_LANGUAGES), keep_hyphen_lists=True).read()
    body = reply.replies[0].body if reply.replies else ""
    return _TRAILING_QUOTE.sub("", "\n" + body).strip()


def _text_of(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):  # unknown or wrong charset
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    text = str(content)
    return text if part.get_content_subtype() == "plain" else html_to_text(text)


def _leaves(part: EmailMessage) -> Iterator[EmailMessage]:
    if part.get_content_maintype() == "multipart":
        for child in part.iter_parts():
            yield from _leaves(child)
    else:
        yield part


def _attachments(message: EmailMessage, body: EmailMessage | None) -> list[Attachment]:
    """Every part besides the body and its alternative versions."""
    refused = []
    for part in _leaves(message):
        if part is body:
            continue
        alternative = part.get_content_type() in ("text/plain", "text/html")
        if alternative and not part.is_attachment() and not part.get_filename():
            continue
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else len(part.as_bytes())
        name = redact(_clean(part.get_filename() or "")) or "unnamed"
        refused.append(Attachment(name, part.get_content_type(), size))
    return refused


def _clean(text: str) -> str:
    """Text both databases can store: no control characters, no lone surrogates."""
    text = _CONTROL.sub("", text).encode("utf-8", "replace").decode("utf-8")
    return _BLANK_LINES.sub("\n\n", text).strip()


def _automatic(message: EmailMessage, mail_from: str | None) -> str | None:
    """Why the message is an automatic one, or None."""
    submitted = str(message.get("Auto-Submitted", "")).strip().casefold()
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted}"
    for name in ("X-Autoreply", "X-Autorespond"):
        if message.get(name) is not None:
            return f"{name} header"
    if str(message.get("Precedence", "")).strip().casefold() in _AUTO_PRECEDENCE:
        return f"Precedence: {str(message['Precedence']).strip()}"
    if _AUTO_SUBJECT.match(str(message.get("Subject", ""))):
        return "out-of-office subject"
    return_path = mail_from if mail_from is not None else message.get("Return-Path")
    if return_path is not None and str(return_path).strip() in ("", "<>"):
        return "empty return path (a bounce)"
    return None


def _sender(message: EmailMessage) -> str:
    try:
        header = message.get("From")
        addresses: Sequence[Address] = header.addresses if header is not None else ()
    except (AttributeError, IndexError, ValueError):
        return ""
    return addresses[0].addr_spec if addresses else ""


def _message_id(message: EmailMessage, raw: bytes) -> str:
    """The sender's Message-ID, or a digest of the bytes when it has none (or one too long
    to store)."""
    value = str(message.get("Message-ID", "")).strip()
    if value and len(value) <= _MESSAGE_ID_CHARS:
        return value
    return "sha256:" + hashlib.sha256(value.encode() if value else raw).hexdigest()


def header_recipients(message: EmailMessage) -> list[str]:
    """The recipients an MTA pipe gets when not told the envelope: the delivery headers first,
    then To and Cc."""
    found: list[str] = []
    for name in ("Delivered-To", "X-Original-To", "To", "Cc"):
        for value in message.get_all(name, []):
            addresses = getattr(value, "addresses", None)
            if addresses is None:
                found.append(str(value).strip())
            else:
                found.extend(a.addr_spec for a in addresses)
    return found


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


# --- recording -----------------------------------------------------------------------------


def _ticket_for(session: DbSession, ctx: AppContext, recipients: Sequence[str]) -> Ticket | None:
    for address in recipients:
        key = key_from_address(ctx.settings, address)
        if key is None:
            continue
        try:
            return tickets.get_by_access_key(session, key)
        except tickets.TicketNotFound:
            continue
    return None


def known_recipient(ctx: AppContext, address: str) -> bool:
    """Whether ``address`` is the reply address of a ticket (the listener's RCPT check)."""
    with ctx.sessions() as session:
        return _ticket_for(session, ctx, [address]) is not None


def _decide(ticket: Ticket, sender: str, body: str) -> tuple[InboundStatus, list[str]]:
    customer = (ticket.customer_email or "").casefold()
    if not customer:
        return InboundStatus.HELD, ["the ticket has no customer e-mail address to check"]
    if sender.casefold() != customer:
        return InboundStatus.HELD, [f"from {sender or 'no address'}, not the ticket's customer"]
    if Status(ticket.status) not in OPEN:
        return InboundStatus.HELD, ["ticket resolved: reopen or answer"]
    if not body:
        return InboundStatus.HELD, ["no text left once the quoted history was removed"]
    return InboundStatus.APPENDED, []


def receive(
    ctx: AppContext, raw: bytes, recipients: Sequence[str], mail_from: str | None = None
) -> Outcome:
    """Record one message for the ticket named by the first recipient that is a reply address.

    ``mail_from`` is the SMTP envelope sender when known (an empty one marks a bounce). Never
    raises for the database: its failures are ``Result.TEMPORARY`` so that the sending server
    (or the MTA) keeps the message and tries again.
    """
    if len(raw) > ctx.settings.inbound_max_bytes:
        return Outcome(Result.TOO_BIG)
    message = parse(raw)
    if not raw.strip() or not message.keys() or message.get("From") is None:
        return Outcome(Result.UNREADABLE)
    try:
        return _record(ctx, raw, message, recipients, mail_from)
    except SQLAlchemyError:
        logger.exception("inbound e-mail not stored: database error")
        return Outcome(Result.TEMPORARY)


def _record(
    ctx: AppContext,
    raw: bytes,
    message: EmailMessage,
    recipients: Sequence[str],
    mail_from: str | None,
) -> Outcome:
    message_id = _message_id(message, raw)
    with ctx.sessions() as session:
        ticket = _ticket_for(session, ctx, recipients)
        if ticket is None:
            return Outcome(Result.NO_TICKET)
        number = ticket.number
        seen = select(InboundEmail.id).where(InboundEmail.message_id == message_id)
        if session.scalar(seen) is not None:
            return Outcome(Result.DUPLICATE, ticket_number=number)

        body_part = message.get_body(preferencelist=("plain", "html"))
        text = strip_reply(_text_of(body_part)) if body_part is not None else ""
        body = redact(_clean(text))
        refused = _attachments(message, body_part)
        sender = _sender(message)

        notes: list[str] = []
        automatic = _automatic(message, mail_from)
        if automatic:
            status = InboundStatus.DISCARDED
            notes.append(f"automatic message ({automatic}): not added, to prevent mail loops")
        else:
            status, notes = _decide(ticket, sender, body)
        if len(body) > MAX_NOTE_CHARS:
            body = body[:MAX_NOTE_CHARS]
            notes.append(f"shortened to {MAX_NOTE_CHARS} characters")
        if refused:
            notes.append("attachments not accepted: " + "; ".join(a.describe() for a in refused))
        note = "; ".join(notes) or None
        session.add(
            InboundEmail(
                ticket=ticket,
                message_id=message_id,
                from_address=sender[:_ADDRESS_CHARS],
                subject=redact(_clean(str(message.get("Subject", ""))))[:_SUBJECT_CHARS],
                body=body,
                status=status.value,
                note=note,
                received_at=utcnow(),
            )
        )
        if status is InboundStatus.APPENDED:
            extra = {"refused_attachments": [a.as_data() for a in refused]} if refused else {}
            tickets.customer_reply(ticket, body, "email", **extra)
        try:
            session.commit()
        except IntegrityError:
            # the same message delivered twice at once: the other delivery recorded it
            session.rollback()
            if session.scalar(seen) is None:
                raise
            return Outcome(Result.DUPLICATE, ticket_number=number)
    logger.info(
        "inbound e-mail recorded",
        extra={"ticket": number, "status": status.value, "attachments": len(refused)},
    )
    return Outcome(Result.RECORDED, status, number, note, refused)


# --- agents' decisions on held messages ---------------------------------------------------


def _held(ticket: Ticket, inbound_id: int) -> InboundEmail:
    for inbound in ticket.inbound_emails:
        if inbound.id == inbound_id:
            if inbound.status != InboundStatus.HELD.value:
                raise InvalidTransition(f"this e-mail was already {inbound.status}")
            return inbound
    raise InvalidTransition("this ticket has no such e-mail")


def accept(ticket: Ticket, inbound_id: int, agent: Account) -> None:
    """Add a held message to the ticket as the customer's reply (the ticket must be open)."""
    inbound = _held(ticket, inbound_id)
    if not inbound.body:
        raise InvalidTransition("this e-mail has no text to add; discard it")
    tickets.customer_reply(ticket, inbound.body, "email", accepted_by=agent.name)
    inbound.status = InboundStatus.ACCEPTED.value
    inbound.decided_by = agent.name


def discard(ticket: Ticket, inbound_id: int, agent: Account) -> None:
    inbound = _held(ticket, inbound_id)
    inbound.status = InboundStatus.DISCARDED.value
    inbound.decided_by = agent.name


# --- the SMTP listener ---------------------------------------------------------------------


class _Handler:
    """aiosmtpd handler: recipients are checked at RCPT, messages recorded at DATA. The
    database work runs in a thread, off the listener's event loop."""

    def __init__(self, ctx: AppContext) -> None:
        self._ctx = ctx

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        try:
            known = await asyncio.to_thread(known_recipient, self._ctx, address)
        except SQLAlchemyError:
            logger.exception("inbound e-mail: recipient not checked, database error")
            return Outcome(Result.TEMPORARY).smtp_reply
        if not known:
            return Outcome(Result.NO_TICKET).smtp_reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        outcome = await asyncio.to_thread(
            receive, self._ctx, raw, list(envelope.rcpt_tos), envelope.mail_from
        )
        return outcome.smtp_reply


@contextmanager
def running_listener(ctx: AppContext) -> Iterator[Controller]:
    """The inbound SMTP listener on ``inbound_smtp_host:inbound_smtp_port`` while inside."""
    settings = ctx.settings
    if settings.inbound_smtp_port is None:
        raise ValueError("inbound_smtp_port is off: no listener to start")
    controller = Controller(
        _Handler(ctx),
        hostname=settings.inbound_smtp_host,
        port=settings.inbound_smtp_port,
        ready_timeout=READY_SECONDS,
        data_size_limit=settings.inbound_max_bytes,
        decode_data=False,
        enable_SMTPUTF8=True,
    )
    # aiosmtpd logs every command at INFO, recipients included: their access keys are secrets
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    controller.start()
    logger.info(
        "inbound SMTP listener started",
        extra={"host": settings.inbound_smtp_host, "port": settings.inbound_smtp_port},
    )
    try:
        yield controller
    finally:
        controller.stop()
