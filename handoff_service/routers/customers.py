"""Customers look their ticket up with its number and their e-mail address."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, status

from handoff_service import tickets
from handoff_service.dependencies import DbSession
from handoff_service.i18n import STATUS_TEXT
from handoff_service.routers.errors import errors
from handoff_service.schemas import PublicComment, PublicStatus, StatusLookupIn
from handoff_service.vocabulary import Status

router = APIRouter(prefix="/v1", tags=["customers"])

# The customer's language is unknown until the ticket is found: answer in both.
NOT_FOUND = (
    "No ticket with this number and e-mail address. / "
    "No hay ninguna solicitud con este número y correo electrónico."
)


@router.post("/status", response_model=PublicStatus, responses=errors(404, 413, 422))
def lookup_status(body: StatusLookupIn, session: DbSession) -> PublicStatus:
    """A ticket's status for its customer. A wrong number/e-mail pair and a missing ticket get
    the same 404, so tickets cannot be enumerated. (POST keeps the e-mail out of URLs/logs.)

    Number and e-mail can be guessed, so the answer never carries the private page's link
    (its access key) and reading it does not mark replies as seen: the link is in the
    ticket's e-mails, and the bot gets it from ``GET /v1/handoffs/updates``."""
    try:
        ticket = tickets.get_ticket(session, body.number.upper())
    except tickets.TicketNotFound:
        ticket = None
    given = body.email.casefold().encode()
    stored = (ticket.customer_email or "").casefold().encode() if ticket else b""
    if ticket is None or not stored or not hmac.compare_digest(given, stored):
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
