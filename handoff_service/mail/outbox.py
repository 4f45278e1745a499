"""The e-mail outbox rule: which ticket event e-mails whom.

``enqueue_for_event`` runs inside the ticket change itself (``tickets._record``), so the outbox
row is committed in the same transaction as the change or not at all: nothing sent for a change
that was rolled back, nothing lost for one that was committed. The sender renders and delivers
the rows later and retries them; the Message-ID is fixed here, once per row.
"""

from __future__ import annotations

import uuid

from handoff_service.models import EmailMessage, Ticket, TicketEvent, utcnow
from handoff_service.vocabulary import EmailKind, EmailStatus, Visibility

#: Ticket event kind -> the e-mail it sends to the ticket's customer.
CUSTOMER_EMAILS: dict[str, EmailKind] = {
    "created": EmailKind.TICKET_CREATED,
    "wait_on_customer": EmailKind.WAITING_ON_CUSTOMER,
    "resolve": EmailKind.RESOLVED,
    "reopen": EmailKind.REOPENED,
}


def new_message_id() -> str:
    """A globally unique Message-ID, fixed when the outbox row is written."""
    return f"<{uuid.uuid4().hex}@nivel0>"


def customer_email_for(event: TicketEvent) -> EmailKind | None:
    """The e-mail ``event`` sends to the customer, if any (agent replies: customer-visible
    comments only; internal notes never leave the service)."""
    if event.kind == "comment":
        visible = event.data.get("visibility") == Visibility.CUSTOMER.value
        return EmailKind.AGENT_REPLY if visible else None
    return CUSTOMER_EMAILS.get(event.kind)


def enqueue(ticket: Ticket, kind: EmailKind, to_address: str, event: TicketEvent | None) -> None:
    """Add one e-mail to the outbox, in the session ``ticket`` belongs to."""
    ticket.emails.append(
        EmailMessage(
            event=event,
            kind=kind.value,
            to_address=to_address,
            language=ticket.language,
            message_id=new_message_id(),
            status=EmailStatus.PENDING.value,
            attempts=0,
            next_attempt_at=utcnow(),
        )
    )


def enqueue_for_event(ticket: Ticket, event: TicketEvent) -> None:
    """Queue the customer e-mail that ``event`` calls for (none without an address)."""
    kind = customer_email_for(event)
    if kind is not None and ticket.customer_email:
        enqueue(ticket, kind, ticket.customer_email, event)
