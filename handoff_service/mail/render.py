"""Rendering an outbox row into its subject, plain-text part and HTML part.

Every kind is said in a few pieces (heading, paragraphs, an optional quoted block such as the
agent's reply, links) written here in Spanish and English; two Jinja templates lay those pieces
out, once as plain text and once as HTML (``templates/message.txt``, ``templates/message.html``:
autoescaped, inline CSS only, no external resources). Customer e-mails are in the ticket's
language; the two agent notices (due soon, overdue) in English. Dates are said in words, in the
organisation's time zone, relative to the moment the e-mail was written (the row's creation).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from handoff_service.i18n import due_text, when_text
from handoff_service.mail.links import page_url
from handoff_service.models import EmailMessage, Ticket
from handoff_service.settings import Settings
from handoff_service.vocabulary import EmailKind

TEMPLATES = Path(__file__).parent / "templates"

#: The kinds that go to the ticket's customer (the rest to agents).
CUSTOMER_KINDS = frozenset(
    {
        EmailKind.TICKET_CREATED,
        EmailKind.AGENT_REPLY,
        EmailKind.WAITING_ON_CUSTOMER,
        EmailKind.RESOLVED,
        EmailKind.REOPENED,
    }
)

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Link:
    label: str
    url: str
    primary: bool = False


@dataclass(frozen=True)
class Content:
    """What one e-mail says, before layout."""

    language: str
    subject: str
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    quote_heading: str | None = None
    quote: str | None = None
    after: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Facts:
    """What the texts talk about."""

    settings: Settings
    timezone: ZoneInfo
    ticket: Ticket
    message: EmailMessage
    language: str
    written_at: dt.datetime

    @property
    def number(self) -> str:
        return self.ticket.number

    @property
    def page(self) -> str:
        return page_url(self.settings, self.ticket)

    @property
    def data(self) -> dict[str, object]:
        return self.message.event.data if self.message.event is not None else {}

    def due(self) -> str:
        return due_text(self.ticket.due_at, self.language, self.timezone, now=self.written_at)

    def when(self, moment: dt.datetime) -> str:
        return when_text(moment, self.language, self.timezone)


def _greeting(facts: _Facts) -> str:
    name = facts.ticket.customer_name
    if facts.language == "es":
        return f"Hola, {name}:" if name else "Hola:"
    return f"Hello {name}," if name else "Hello,"


def _customer_footer(facts: _Facts) -> list[str]:
    if facts.language == "es":
        return [
            "Los enlaces de este correo son privados: llevan a tu solicitud sin contraseña, así "
            "que no lo reenvíes.",
            f"Mensaje automático del servicio de atención sobre la solicitud {facts.number}.",
        ]
    return [
        "The links in this e-mail are private: they open your request without a password, so "
        "please do not forward it.",
        f"Automatic message from customer support about request {facts.number}.",
    ]


def _page_link(facts: _Facts, primary: bool = True) -> Link:
    label = "Ver tu solicitud" if facts.language == "es" else "See your request"
    return Link(label, facts.page, primary)


def _ticket_created(facts: _Facts) -> Content:
    if facts.language == "es":
        return Content(
            language="es",
            subject=f"[{facts.number}] Hemos recibido tu solicitud",
            heading=f"Hemos recibido tu solicitud {facts.number}",
            paragraphs=[
                _greeting(facts),
                f"Gracias por escribirnos. Tu solicitud tiene el número {facts.number}.",
                f"Qué pasará ahora: un agente la revisará y te responderá {facts.due()}. Te "
                "escribiremos a esta dirección cada vez que haya novedades.",
                "Si quieres añadir algo, responde a este correo o escribe en la página de tu "
                "solicitud.",
            ],
            links=[_page_link(facts)],
            footer=_customer_footer(facts),
        )
    return Content(
        language="en",
        subject=f"[{facts.number}] We have received your request",
        heading=f"We have received your request {facts.number}",
        paragraphs=[
            _greeting(facts),
            f"Thank you for contacting us. Your request number is {facts.number}.",
            f"What happens next: an agent will look at it and answer {facts.due()}. We will "
            "write to this address whenever there is news.",
            "To add anything, reply to this e-mail or write on your request's page.",
        ],
        links=[_page_link(facts)],
        footer=_customer_footer(facts),
    )


def _agent_reply(facts: _Facts) -> Content:
    body = str(facts.data.get("body", ""))
    when = facts.when(facts.message.event.created_at if facts.message.event else facts.written_at)
    if facts.language == "es":
        return Content(
            language="es",
            subject=f"[{facts.number}] Nueva respuesta a tu solicitud",
            heading="Tenemos una respuesta para ti",
            paragraphs=[
                _greeting(facts),
                f"Un agente ha respondido a tu solicitud {facts.number}.",
            ],
            quote_heading=f"Respuesta de nuestro equipo ({when})",
            quote=body,
            after=["Puedes contestar respondiendo a este correo o en la página de tu solicitud."],
            links=[_page_link(facts)],
            footer=_customer_footer(facts),
        )
    return Content(
        language="en",
        subject=f"[{facts.number}] New reply to your request",
        heading="We have an answer for you",
        paragraphs=[_greeting(facts), f"An agent has replied to your request {facts.number}."],
        quote_heading=f"Reply from our team ({when})",
        quote=body,
        after=["You can answer by replying to this e-mail or on your request's page."],
        links=[_page_link(facts)],
        footer=_customer_footer(facts),
    )


def _waiting_on_customer(facts: _Facts) -> Content:
    need = facts.data.get("message")
    need_text = str(need) if need else None
    if facts.language == "es":
        return Content(
            language="es",
            subject=f"[{facts.number}] Necesitamos información tuya",
            heading="Necesitamos información tuya",
            paragraphs=[
                _greeting(facts),
                f"Para seguir con tu solicitud {facts.number} necesitamos que nos des algún "
                "dato más."
                + ("" if need_text else " Encontrarás los detalles en la página de tu solicitud."),
            ],
            quote_heading="Qué necesitamos" if need_text else None,
            quote=need_text,
            after=[
                "Cómo responder: contesta a este correo o escribe en la página de tu solicitud. "
                "Seguiremos en cuanto recibamos tu respuesta."
            ],
            links=[_page_link(facts)],
            footer=_customer_footer(facts),
        )
    return Content(
        language="en",
        subject=f"[{facts.number}] We need information from you",
        heading="We need information from you",
        paragraphs=[
            _greeting(facts),
            f"To continue with your request {facts.number} we need a little more information."
            + ("" if need_text else " You will find the details on your request's page."),
        ],
        quote_heading="What we need" if need_text else None,
        quote=need_text,
        after=[
            "How to answer: reply to this e-mail or write on your request's page. We will "
            "continue as soon as we have your answer."
        ],
        links=[_page_link(facts)],
        footer=_customer_footer(facts),
    )


def _resolved(facts: _Facts) -> Content:
    note = str(facts.data.get("resolution_note") or facts.ticket.resolution_note or "")
    resolved_at = facts.ticket.resolved_at or facts.written_at
    days = facts.settings.reopen_days
    until = facts.when(resolved_at + dt.timedelta(days=days))
    rating = f"{facts.page}#rating"
    if facts.language == "es":
        return Content(
            language="es",
            subject=f"[{facts.number}] Tu solicitud está resuelta",
            heading=f"Tu solicitud {facts.number} está resuelta",
            paragraphs=[_greeting(facts), "Hemos terminado de atender tu solicitud."],
            quote_heading="Cómo la hemos resuelto",
            quote=note,
            after=[
                "¿Te hemos ayudado? Dinos qué te ha parecido con el enlace de abajo.",
                f"Si el problema sigue sin resolverse, puedes reabrir la solicitud desde su "
                f"página durante {days} días (hasta el {until}).",
            ],
            links=[Link("Valorar la atención", rating, True), _page_link(facts, False)],
            footer=_customer_footer(facts),
        )
    return Content(
        language="en",
        subject=f"[{facts.number}] Your request has been resolved",
        heading=f"Your request {facts.number} has been resolved",
        paragraphs=[_greeting(facts), "We have finished working on your request."],
        quote_heading="How we solved it",
        quote=note,
        after=[
            "Did we help? Tell us how we did with the link below.",
            f"If the problem is not solved, you can reopen the request from its page for "
            f"{days} days (until {until}).",
        ],
        links=[Link("Rate our help", rating, True), _page_link(facts, False)],
        footer=_customer_footer(facts),
    )


def _reopened(facts: _Facts) -> Content:
    if facts.language == "es":
        return Content(
            language="es",
            subject=f"[{facts.number}] Hemos reabierto tu solicitud",
            heading=f"Hemos reabierto tu solicitud {facts.number}",
            paragraphs=[
                _greeting(facts),
                f"Volvemos a trabajar en tu solicitud. Te responderemos {facts.due()}.",
                "Si quieres añadir algo, responde a este correo o escribe en la página de tu "
                "solicitud.",
            ],
            links=[_page_link(facts)],
            footer=_customer_footer(facts),
        )
    return Content(
        language="en",
        subject=f"[{facts.number}] Your request has been reopened",
        heading=f"Your request {facts.number} has been reopened",
        paragraphs=[
            _greeting(facts),
            f"We are working on your request again and will answer {facts.due()}.",
            "To add anything, reply to this e-mail or write on your request's page.",
        ],
        links=[_page_link(facts)],
        footer=_customer_footer(facts),
    )


def _agent_notice(facts: _Facts, overdue: bool) -> Content:
    ticket = facts.ticket
    due = when_text(ticket.due_at, "en", facts.timezone)
    console = f"{facts.settings.public_url}/console/tickets/{ticket.number}"
    state = "is overdue" if overdue else "is due soon"
    return Content(
        language="en",
        subject=f"[{ticket.number}] {'Overdue' if overdue else 'Due soon'}: {ticket.queue} "
        f"ticket due {due}",
        heading=f"Ticket {ticket.number} {state}",
        paragraphs=[
            f"Ticket {ticket.number} in queue {ticket.queue} (priority {ticket.priority}, "
            f"status {ticket.status.replace('_', ' ')}) {state}: it is due {due}"
            + (f" ({due_text(ticket.due_at, 'en', facts.timezone, now=facts.written_at)})."),
            f"Assignee: {ticket.assignee.name if ticket.assignee else 'nobody yet'}.",
        ],
        links=[Link("Open the ticket in the console", console, True)],
        footer=[f"Sent to the agents of queue {ticket.queue}: this notice is sent once."],
    )


def content(settings: Settings, timezone: ZoneInfo, message: EmailMessage) -> Content:
    """What ``message`` says (before layout)."""
    kind = EmailKind(message.kind)
    customer = kind in CUSTOMER_KINDS
    language = (
        (message.language if message.language in ("es", "en") else "en") if customer else "en"
    )
    facts = _Facts(
        settings=settings,
        timezone=timezone,
        ticket=message.ticket,
        message=message,
        language=language,
        written_at=message.created_at,
    )
    if kind is EmailKind.TICKET_CREATED:
        return _ticket_created(facts)
    if kind is EmailKind.AGENT_REPLY:
        return _agent_reply(facts)
    if kind is EmailKind.WAITING_ON_CUSTOMER:
        return _waiting_on_customer(facts)
    if kind is EmailKind.RESOLVED:
        return _resolved(facts)
    if kind is EmailKind.REOPENED:
        return _reopened(facts)
    return _agent_notice(facts, overdue=kind is EmailKind.OVERDUE)


def render(settings: Settings, timezone: ZoneInfo, message: EmailMessage) -> tuple[str, str, str]:
    """``(subject, text, html)`` of an outbox row."""
    said = content(settings, timezone, message)
    text = _environment.get_template("message.txt").render(c=said)
    html = _environment.get_template("message.html").render(c=said)
    return said.subject, text, html
