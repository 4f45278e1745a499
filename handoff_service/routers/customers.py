"""Customers look their ticket up with its number and their e-mail address."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session

from handoff_service import tickets
from handoff_service.auth import authenticate
from handoff_service.dependencies import Ctx, DbSession, bearer
from handoff_service.i18n import STATUS_TEXT
from handoff_service.ratelimit import RESPONSES, Scope, client_address
from handoff_service.routers.errors import errors
from handoff_service.schemas import PublicComment, PublicStatus, StatusLookupIn
from handoff_service.vocabulary import Role, Status

router = APIRouter(prefix="/v1", tags=["customers"])

# The customer's language is unknown until the ticket is found: answer in both.
NOT_FOUND = (
    "No ticket with this number and e-mail address. / "
    "No hay ninguna solicitud con este número y correo electrónico."
)


def _asked_by_bot(session: Session, credentials: HTTPAuthorizationCredentials | None) -> bool:
    """Whether the bot's service token asks, for one of its chat customers (optional: anyone
    may look a ticket up; a wrong token is simply not the bot)."""
    if credentials is None:
        return False
    account = authenticate(session, credentials.credentials)
    return account is not None and account.role == Role.SERVICE.value


@router.post(
    "/status", response_model=PublicStatus, responses={**errors(404, 413, 422), **RESPONSES}
)
def lookup_status(
    body: StatusLookupIn,
    request: Request,
    ctx: Ctx,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> PublicStatus:
    """A ticket's status for its customer. A wrong number/e-mail pair and a missing ticket get
    the same 404, so tickets cannot be enumerated. (POST keeps the e-mail out of URLs/logs.)

    Number and e-mail can be guessed, so the answer never carries the private page's link
    (its access key) and reading it does not mark replies as seen: the link is in the
    ticket's e-mails, and the bot gets it from ``GET /v1/handoffs/updates``.

    Rate limits (429 with ``Retry-After``): lookups per client address, except the bot's
    (its service token asks for every chat customer from one address), and failed lookups
    per ticket number from anyone; a number over its limit is refused even with the right
    e-mail, or guessing could go on at the limit's pace."""
    limits = ctx.rate_limits
    if not _asked_by_bot(session, credentials):
        limits.hit(Scope.STATUS_PER_CLIENT, client_address(request))
    number = body.number.upper()
    limits.check(Scope.STATUS_PER_TICKET, number)
    try:
        ticket = tickets.get_ticket(session, number)
    except tickets.TicketNotFound:
        ticket = None
    given = body.email.casefold().encode()
    stored = (ticket.customer_email or "").casefold().encode() if ticket else b""
    if ticket is None or not stored or not hmac.compare_digest(given, stored):
        limits.record(Scope.STATUS_PER_TICKET, number)
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    messages = [
        PublicComment(body=e.data["body"], created_at=e.created_at) for e in tickets.replies(ticket)
    ]
    current = Status(ticket.status)
    return PublicStatus(
        number=ticket.number,
        status=current,
        status_text=STATUS_TEXT[ticket.language][current],
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        due_at=ticket.due_at,
        messages=messages,
    )
