"""The console's POST forms on a ticket: each turns a form into a call of tickets.py.

Forms are validated with the JSON API's schemas (so limits and redaction apply alike) and the
state rules stay in lifecycle.py. Post/redirect/get: the outcome, including a refused
transition (the API's 409), is a flash message on the ticket page, and a refused form's text
comes back in it so nothing typed is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from handoff_service import console_sessions, tickets
from handoff_service.console.filters import describe
from handoff_service.console.session import COOKIE_PATH, Checked, ConsoleError, Form
from handoff_service.console.views import load_ticket
from handoff_service.context import AppContext
from handoff_service.dependencies import Ctx, DbSession
from handoff_service.kb_drafts import DraftError
from handoff_service.lifecycle import Action, InvalidTransition
from handoff_service.mail import inbound, links
from handoff_service.models import Account, Ticket
from handoff_service.redaction import redact
from handoff_service.schemas import (
    MAX_NOTE_CHARS,
    CommentIn,
    EscalateIn,
    KbDraftIn,
    ReasonIn,
    ResolveIn,
    TicketPatch,
    WaitIn,
)
from handoff_service.tickets import UnknownQueue
from handoff_service.vocabulary import Visibility

router = APIRouter(prefix=COOKIE_PATH, include_in_schema=False)

# Each action: (ctx, ticket, agent, form) -> the success message.
ActionFn = Callable[[AppContext, Ticket, Account, dict[str, str]], str]


def _optional(form: dict[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


def _claim(_ctx: AppContext, ticket: Ticket, agent: Account, _form: dict[str, str]) -> str:
    tickets.claim(ticket, agent)
    return "Claimed: the ticket is assigned to you."


def _lifecycle(action: Action, message: str) -> ActionFn:
    def run(_ctx: AppContext, ticket: Ticket, agent: Account, _form: dict[str, str]) -> str:
        tickets.transition(ticket, agent, action)
        return message

    return run


def _comment(_ctx: AppContext, ticket: Ticket, agent: Account, form: dict[str, str]) -> str:
    body = CommentIn.model_validate(
        {"body": form.get("body", ""), "visibility": form.get("visibility", "internal")}
    )
    tickets.comment(ticket, agent, body.body, body.visibility)
    if body.visibility is Visibility.CUSTOMER:
        return "Reply added: it is e-mailed to the customer and shown on their private page."
    return "Internal note added."


def _change(ctx: AppContext, ticket: Ticket, agent: Account, form: dict[str, str]) -> str:
    body = TicketPatch.model_validate(
        {"priority": _optional(form, "priority"), "queue": _optional(form, "queue")}
    )
    before = (ticket.priority, ticket.queue)
    tickets.change(ctx, ticket, agent, body.priority, body.queue)
    if (ticket.priority, ticket.queue) == before:
        return "Nothing to change: priority and queue are as they were."
    return f"Now {ticket.priority} priority in queue {ticket.queue}."


def _escalate(ctx: AppContext, ticket: Ticket, agent: Account, form: dict[str, str]) -> str:
    body = EscalateIn.model_validate(
        {
            "tier": form.get("tier", ""),
            "reason": form.get("reason", ""),
            "queue": _optional(form, "queue"),
        }
    )
    tickets.escalate(ctx, ticket, agent, body.tier, body.reason, body.queue)
    return f"Escalated to tier {body.tier}."


def _resolve(_ctx: AppContext, ticket: Ticket, agent: Account, form: dict[str, str]) -> str:
    body = ResolveIn.model_validate({"resolution_note": form.get("resolution_note", "")})
    tickets.resolve(ticket, agent, body.resolution_note)
    return "Resolved."


def _wait_on_customer(
    _ctx: AppContext, ticket: Ticket, agent: Account, form: dict[str, str]
) -> str:
    body = WaitIn.model_validate({"message": _optional(form, "message")})
    data = {"message": body.message} if body.message else {}
    tickets.transition(ticket, agent, Action.WAIT_ON_CUSTOMER, **data)
    return "Now waiting on the customer." + (
        " They are e-mailed what we need." if body.message and ticket.customer_email else ""
    )


def _close(_ctx: AppContext, ticket: Ticket, agent: Account, _form: dict[str, str]) -> str:
    tickets.close(ticket, agent)
    return "Closed."


def _reopen(_ctx: AppContext, ticket: Ticket, agent: Account, form: dict[str, str]) -> str:
    body = ReasonIn.model_validate({"reason": form.get("reason", "")})
    tickets.reopen(ticket, agent, body.reason)
    return "Reopened."


def _kb_draft(ctx: AppContext, ticket: Ticket, agent: Account, form: dict[str, str]) -> str:
    questions = [line.strip() for line in form.get("questions", "").splitlines() if line.strip()]
    tags = [tag.strip() for tag in form.get("tags", "").split(",") if tag.strip()]
    body = KbDraftIn.model_validate(
        {
            "title": _optional(form, "title"),
            "topic": _optional(form, "topic"),
            "category": _optional(form, "category"),
            "summary": _optional(form, "summary"),
            "questions": questions or None,
            "tags": tags or None,
        }
    )
    path = tickets.make_kb_draft(ctx, ticket, agent, body)
    return f"KB draft written to {path} (status: draft, for an editor to review)."


def _rotate_link(ctx: AppContext, ticket: Ticket, agent: Account, _form: dict[str, str]) -> str:
    tickets.rotate_access_key(ticket, agent)
    return (
        "New customer link made: the old page link and reply addresses no longer work. "
        f"Send the customer the new one: {links.page_url(ctx.settings, ticket)}"
    )


def _inbound_id(form: dict[str, str]) -> int:
    value = form.get("inbound_id", "")
    if not value.isdigit():
        raise InvalidTransition("choose an e-mail of this ticket")
    return int(value)


def _accept_email(_ctx: AppContext, ticket: Ticket, agent: Account, form: dict[str, str]) -> str:
    inbound.accept(ticket, _inbound_id(form), agent)
    return "E-mail added to the ticket as the customer's reply."


def _discard_email(_ctx: AppContext, ticket: Ticket, agent: Account, form: dict[str, str]) -> str:
    inbound.discard(ticket, _inbound_id(form), agent)
    return "E-mail discarded: it stays listed, not in the history."


ACTIONS: dict[str, ActionFn] = {
    "claim": _claim,
    "start": _lifecycle(Action.START, "Work started."),
    "wait-on-customer": _wait_on_customer,
    "resume": _lifecycle(Action.RESUME, "Work resumed."),
    "comment": _comment,
    "change": _change,
    "escalate": _escalate,
    "resolve": _resolve,
    "close": _close,
    "reopen": _reopen,
    "kb-draft": _kb_draft,
    "rotate-link": _rotate_link,
    "accept-email": _accept_email,
    "discard-email": _discard_email,
}


def kept_input(action: str, form: dict[str, str]) -> dict[str, Any]:
    """A refused form's text, to refill it so nothing typed is lost; redacted like stored
    text, since it waits in the session row until the page is shown."""
    values = {
        key: redact(value[:MAX_NOTE_CHARS])
        for key, value in form.items()
        if key != "csrf_token" and value.strip()
    }
    return {"action": action, "values": values} if values else {}


@router.post("/tickets/{number}/{action}")
def ticket_action(
    number: str, action: str, ctx: Ctx, session: DbSession, row: Checked, form: Form
) -> RedirectResponse:
    run = ACTIONS.get(action)
    if run is None:
        raise ConsoleError(404, f"Unknown action: {action}.")
    ticket = load_ticket(session, number)
    # lock the row (PostgreSQL) so that concurrent actions on this ticket run one at a time
    session.refresh(ticket, with_for_update=True)
    try:
        message = run(ctx, ticket, row.token.account, form)
        session.commit()
        console_sessions.add_flash(row, "success", message)
    except (InvalidTransition, DraftError, UnknownQueue, ValidationError) as exc:
        session.rollback()
        text = describe(exc) if isinstance(exc, ValidationError) else str(exc)
        console_sessions.add_flash(row, "error", text, kept=kept_input(action, form))
    session.commit()
    return RedirectResponse(f"{COOKIE_PATH}/tickets/{ticket.number}", status_code=303)
