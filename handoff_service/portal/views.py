"""The private ticket page and its three forms (reply, rating, reopen).

The access key in the URL is the only credential: whoever has the link is the customer, so
the forms need no other token, and every response keeps the link out of caches, referrers and
search engines (:data:`SECURITY_HEADERS`). A wrong key of any shape gets the same 404 page.
Forms follow post/redirect/get; a refused form is shown again with the customer's text and
the error next to its field. Posts are rate-limited per page and per client address
(:func:`throttled`: 429, the page again with the customer's text).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader
from pydantic import ValidationError
from sqlalchemy.orm import Session

from handoff_service import tickets
from handoff_service.context import AppContext
from handoff_service.dependencies import Ctx, DbSession
from handoff_service.i18n import PORTAL, PORTAL_NOT_FOUND, STATUS_TEXT, due_text, when_text
from handoff_service.lifecycle import KB_DRAFTABLE, OPEN, InvalidTransition
from handoff_service.mail.links import ACCESS_KEY_PATTERN
from handoff_service.models import SatisfactionRating, Ticket
from handoff_service.portal.forms import (
    MAX_RATING_COMMENT_CHARS,
    FormUnreadable,
    RatingForm,
    ReopenForm,
    ReplyForm,
    max_length,
    parse_form,
    rating_errors,
    reopen_errors,
    reply_errors,
)
from handoff_service.ratelimit import RateLimited, Scope, client_address
from handoff_service.vocabulary import Status, Visibility

PREFIX = "/t"
STATIC_PATH = "/t-static"
LANGUAGES = ("es", "en")

#: On every portal response. The key is in the URL: never cached, never sent as a referrer,
#: never indexed; the page runs no script and loads nothing from elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}

#: ?done=<form> after a successful post -> the notice shown.
DONE_NOTICES = {"reply": "reply_done", "rating": "rating_done", "reopen": "reopen_done"}

LIMITS = {
    "body": max_length(ReplyForm, "body"),
    "comment": MAX_RATING_COMMENT_CHARS,
    "reason": max_length(ReopenForm, "reason"),
}

router = APIRouter(prefix=PREFIX, include_in_schema=False)

_environment = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "templates"),
    autoescape=True,
    auto_reload=False,
)


class PortalNotFound(Exception):
    """No ticket behind this link: the portal's 404 page."""


@dataclass(frozen=True)
class Entry:
    """One message of the conversation as the customer sees it."""

    author: str  # "customer", "bot" or "agent"
    text: str
    at: dt.datetime | None  # None: a chat message the bot sent without a time
    via: str | None = None  # the customer's replies: "page" or "email"
    new: bool = False  # an agent reply the customer had not seen before this visit


async def _form_fields(request: Request) -> dict[str, str] | None:
    """The posted form, or None if it cannot be read (the handler says so on the page)."""
    try:
        return parse_form(request.headers.get("content-type", ""), await request.body())
    except FormUnreadable:
        return None


Form = Annotated[dict[str, str] | None, Depends(_form_fields)]


def secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def not_found_page(ctx: AppContext) -> HTMLResponse:
    """The same page for every wrong key, in both languages (it does not repeat the key)."""
    html = _environment.get_template("portal/not_found.html").render(
        lang="es",
        t=PORTAL["es"],
        help_url=f"{ctx.settings.help_center_url}/es",
        other_languages=[],
        texts=PORTAL_NOT_FOUND,
    )
    response = HTMLResponse(html, status_code=404)
    secured(response)
    return response


def load(session: Session, key: str) -> Ticket:
    if not re.fullmatch(ACCESS_KEY_PATTERN, key):
        raise PortalNotFound
    try:
        return tickets.get_by_access_key(session, key)
    except tickets.TicketNotFound as exc:
        raise PortalNotFound from exc


def language(request: Request, ticket: Ticket) -> str:
    """``?lang=`` if the customer switched, else the ticket's language."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    return ticket.language if ticket.language in LANGUAGES else "en"


def _moment(value: Any) -> dt.datetime | None:
    """A transcript message's optional timestamp (stored as ISO 8601 text)."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def conversation(ticket: Ticket, unread: set[int]) -> list[Entry]:
    """The chat with the assistant, then the customer-visible replies and the customer's own
    messages in the order they were written. Internal notes and every other event stay out."""
    entries = [
        Entry(
            author="customer" if message.get("role") == "customer" else "bot",
            text=message.get("text", ""),
            at=_moment(message.get("timestamp")),
        )
        for message in ticket.transcript
    ]
    for event in ticket.events:
        if event.kind == "comment" and event.data.get("visibility") == Visibility.CUSTOMER.value:
            entries.append(
                Entry("agent", event.data["body"], event.created_at, new=event.id in unread)
            )
        elif event.kind == "customer_reply":
            entries.append(
                Entry("customer", event.data["body"], event.created_at, via=event.data.get("via"))
            )
    return entries


def current_rating(ticket: Ticket) -> SatisfactionRating | None:
    """The latest rating given since the ticket was last resolved (a ticket reopened and
    resolved again asks for a new one)."""
    if not ticket.ratings:
        return None
    latest = ticket.ratings[-1]
    if ticket.resolved_at is not None and latest.created_at < ticket.resolved_at:
        return None
    return latest


def render_page(
    request: Request,
    ctx: AppContext,
    ticket: Ticket,
    *,
    status_code: int = 200,
    unread: set[int] | None = None,
    notice: str | None = None,
    alert: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    lang = language(request, ticket)
    t = PORTAL[lang]
    status = Status(ticket.status)
    zone = ctx.timezone
    reopen_until = None
    if tickets.can_reopen(ticket, ctx.settings.reopen_days):
        assert ticket.resolved_at is not None
        deadline = ticket.resolved_at + dt.timedelta(days=ctx.settings.reopen_days)
        reopen_until = when_text(deadline, lang, zone)
    rating = current_rating(ticket)
    base = f"{PREFIX}/{ticket.access_key}"
    html = _environment.get_template("portal/ticket.html").render(
        t=t,
        lang=lang,
        other_languages=[other for other in LANGUAGES if other != lang],
        all_texts=PORTAL,
        base=base,
        help_url=f"{ctx.settings.help_center_url}/{lang}",
        title=t["title"].format(number=ticket.number),
        status_text=STATUS_TEXT[lang][status],
        due=due_text(ticket.due_at, lang, zone) if status in OPEN else None,
        entries=conversation(ticket, unread or set()),
        when=lambda moment: when_text(moment, lang, zone),
        can_reply=status in OPEN,
        resolution_note=ticket.resolution_note if status in KB_DRAFTABLE else None,
        ratable=status in KB_DRAFTABLE,
        rating=rating,
        rating_text=t["rating_yours"].format(rating=rating.rating) if rating else None,
        reopen_until=reopen_until,
        reopen_text=t["reopen_text"].format(date=reopen_until) if reopen_until else None,
        reply_hint=t["reply_hint"].format(max=LIMITS["body"]),
        limits=LIMITS,
        notice=notice,
        alert=alert,
        errors=errors or {},
        values=values or {},
    )
    response = HTMLResponse(html, status_code=status_code)
    secured(response)
    return response


def throttled(
    request: Request, ctx: AppContext, ticket: Ticket, values: dict[str, str]
) -> HTMLResponse | None:
    """The page again with a 429 and ``Retry-After`` (the customer's text kept in the form)
    when this client or this page has posted too often, else None (the post is counted)."""
    try:
        ctx.rate_limits.hit(Scope.PORTAL_PER_CLIENT, client_address(request))
        ctx.rate_limits.hit(Scope.PORTAL_PER_KEY, ticket.access_key)
    except RateLimited as exc:
        alert = PORTAL[language(request, ticket)]["error_rate_limited"]
        page = render_page(request, ctx, ticket, status_code=429, alert=alert, values=values)
        page.headers.update(exc.headers)
        return page
    return None


def done(ticket: Ticket, lang: str, form: str) -> Response:
    """Post/redirect/get: back to the page, with the notice of the form that succeeded."""
    url = f"{PREFIX}/{ticket.access_key}?lang={lang}&done={form}"
    return secured(RedirectResponse(url, status_code=303))


@router.get("/{key}", response_class=HTMLResponse)
def ticket_page(request: Request, key: str, ctx: Ctx, session: DbSession) -> HTMLResponse:
    ticket = load(session, key)
    unread = {event.id for event in tickets.unread_replies(ticket)}
    tickets.mark_seen(ticket)
    session.commit()
    notice_key = DONE_NOTICES.get(request.query_params.get("done", ""))
    notice = PORTAL[language(request, ticket)][notice_key] if notice_key else None
    return render_page(request, ctx, ticket, unread=unread, notice=notice)


@router.post("/{key}/reply", response_class=HTMLResponse)
def reply(request: Request, key: str, ctx: Ctx, session: DbSession, form: Form) -> Response:
    ticket = load(session, key)
    lang = language(request, ticket)
    t = PORTAL[lang]
    if form is None:
        return render_page(request, ctx, ticket, status_code=400, alert=t["error_form"])
    values = {"body": form.get("body", "")}
    if refused := throttled(request, ctx, ticket, values):
        return refused
    try:
        body = ReplyForm.model_validate(values)
    except ValidationError as exc:
        errors = reply_errors(exc, lang)
        return render_page(request, ctx, ticket, status_code=422, errors=errors, values=values)
    try:
        tickets.customer_reply(ticket, body.body, "page")
    except InvalidTransition:
        session.rollback()
        if not tickets.can_reopen(ticket, ctx.settings.reopen_days):
            return render_page(request, ctx, ticket, status_code=409, alert=t["reopen_expired"])
        # The message becomes the reason of the reopen form, ready to send.
        return render_page(
            request,
            ctx,
            ticket,
            status_code=409,
            alert=t["reply_reopen_first"],
            values={"reason": values["body"]},
        )
    session.commit()
    return done(ticket, lang, "reply")


@router.post("/{key}/rating", response_class=HTMLResponse)
def rating(request: Request, key: str, ctx: Ctx, session: DbSession, form: Form) -> Response:
    ticket = load(session, key)
    lang = language(request, ticket)
    t = PORTAL[lang]
    if form is None:
        return render_page(request, ctx, ticket, status_code=400, alert=t["error_form"])
    values = {"rating": form.get("rating", ""), "comment": form.get("comment", "")}
    if refused := throttled(request, ctx, ticket, values):
        return refused
    try:
        body = RatingForm.model_validate(
            {"rating": values["rating"], "comment": values["comment"].strip() or None}
        )
    except ValidationError as exc:
        errors = rating_errors(exc, lang)
        return render_page(request, ctx, ticket, status_code=422, errors=errors, values=values)
    try:
        tickets.rate(ticket, body.rating, body.comment)
    except InvalidTransition:
        session.rollback()
        return render_page(
            request, ctx, ticket, status_code=409, alert=t["error_changed"], values=values
        )
    session.commit()
    return done(ticket, lang, "rating")


@router.post("/{key}/reopen", response_class=HTMLResponse)
def reopen(request: Request, key: str, ctx: Ctx, session: DbSession, form: Form) -> Response:
    ticket = load(session, key)
    lang = language(request, ticket)
    t = PORTAL[lang]
    if form is None:
        return render_page(request, ctx, ticket, status_code=400, alert=t["error_form"])
    values = {"reason": form.get("reason", "")}
    if refused := throttled(request, ctx, ticket, values):
        return refused
    try:
        body = ReopenForm.model_validate(values)
    except ValidationError as exc:
        errors = reopen_errors(exc, lang)
        return render_page(request, ctx, ticket, status_code=422, errors=errors, values=values)
    try:
        tickets.customer_reopen(ticket, body.reason, ctx.settings.reopen_days)
    except InvalidTransition:
        session.rollback()
        return render_page(
            request, ctx, ticket, status_code=409, alert=t["reopen_expired"], values=values
        )
    session.commit()
    return done(ticket, lang, "reopen")
