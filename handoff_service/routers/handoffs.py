"""The bot hands conversations over here, and asks what happened to them since."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from handoff_service import tickets
from handoff_service.dependencies import Bot, Ctx, DbSession
from handoff_service.i18n import STATUS_TEXT
from handoff_service.mail.links import page_url
from handoff_service.models import Ticket
from handoff_service.ratelimit import RESPONSES, Scope, client_address, sender_of
from handoff_service.routers.errors import errors
from handoff_service.schemas import (
    ConversationId,
    ErrorOut,
    HandoffCreated,
    HandoffIn,
    PublicComment,
    SenderUpdate,
    UpdatesSeenIn,
)
from handoff_service.tickets import create_from_handoff
from handoff_service.vocabulary import Language, Role, Status

router = APIRouter(prefix="/v1", tags=["handoffs"])


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` references inlined (HandoffIn is not recursive), for the
    OpenAPI request body this endpoint declares by hand."""
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return inline(schema)


async def raw_body(request: Request) -> bytes:
    """The body, unparsed (the size limit middleware has bounded it already)."""
    return await request.body()


def _validation_error(exc: ValidationError | ValueError) -> RequestValidationError:
    """The 422 FastAPI would have given, with ``body`` at the start of each location."""
    if isinstance(exc, ValidationError):
        found = exc.errors(include_url=False, include_input=False)
        return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in found])
    return RequestValidationError(
        [{"type": "json_invalid", "loc": ("body",), "msg": f"JSON decode error: {exc}"}]
    )


def _created(ticket: Ticket, *, created: bool) -> HandoffCreated:
    return HandoffCreated(
        number=ticket.number,
        queue=ticket.queue,
        status=Status(ticket.status),
        due_at=ticket.due_at,
        created=created,
    )


@router.post(
    "/handoffs",
    response_model=HandoffCreated,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": HandoffCreated, "description": "Replay: the existing ticket."},
        **errors(401, 403, 413, 422),
        **RESPONSES,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _inline_refs(HandoffIn.model_json_schema())}
            },
        }
    },
)
def create_handoff(
    body: Annotated[bytes, Depends(raw_body)],
    ctx: Ctx,
    session: DbSession,
    bot: Bot,
    response: Response,
    request: Request,
) -> HandoffCreated:
    """Create the ticket for a conversation (201), or return the one it already has (200).

    The answer is the ticket's number, queue, status and due date only: what the bot tells
    the customer. Whoever holds the service token must not read a ticket (transcript, contact
    data) by replaying a conversation id.

    ``conversation_id`` is the idempotency key: handing the same conversation over again,
    even concurrently, never creates a second ticket. A replay is answered from the
    conversation id alone, before the body is validated: validation redacts every message,
    the expensive part of a large handoff, and a retrying bot would pay it on each attempt.

    The body is validated here rather than by FastAPI, because FastAPI validates declared
    bodies on the event loop, even for a sync endpoint: a large transcript being redacted
    there stalled every other request (health checks included). This sync endpoint runs in
    the worker thread pool.

    Rate limits (429 with ``Retry-After``, which the bot's outbox retries), on new handoffs
    only: per chat sender (``ratelimit.sender_of``), and per client address for tokens other
    than service tokens (the bot posts for every customer from one address).
    """
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise _validation_error(exc) from None
    conversation_id = data.get("conversation_id") if isinstance(data, dict) else None
    if isinstance(conversation_id, str):
        existing = tickets.by_conversation(session, conversation_id)
        if existing is not None:
            response.status_code = status.HTTP_200_OK
            ctx.metrics.handoff_replays.inc()
            return _created(existing, created=False)
        session.commit()  # hold no transaction (on SQLite: the write lock) while validating
        ctx.rate_limits.hit(Scope.HANDOFFS_PER_SENDER, sender_of(conversation_id))
    if bot.role != Role.SERVICE.value:
        ctx.rate_limits.hit(Scope.HANDOFFS_PER_CLIENT, client_address(request))
    try:
        handoff = HandoffIn.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc) from None
    ticket, created = create_from_handoff(ctx, session, handoff, actor=bot.name)
    if not created:
        response.status_code = status.HTTP_200_OK
        ctx.metrics.handoff_replays.inc()
    return _created(ticket, created=created)


NO_OPEN_TICKET = "This sender has no open request."
NO_OPEN_TICKET_RESPONSE = {"model": ErrorOut, "description": NO_OPEN_TICKET}


@router.get(
    "/handoffs/updates",
    response_model=SenderUpdate,
    responses={404: NO_OPEN_TICKET_RESPONSE, **errors(401, 403, 422)},
)
def sender_updates(
    sender: Annotated[ConversationId, Query(description="The chat's sender id.")],
    ctx: Ctx,
    session: DbSession,
    _bot: Bot,
) -> SenderUpdate:
    """The newest open request handed off from the chat ``sender`` (its ``conversation_id`` is
    the sender id plus a session suffix): status, unread replies, the latest reply and the
    private page's link, so the bot can tell a returning customer. Only the bot's token may
    ask: the link carries the ticket's secret. Reading does not mark the replies as seen (the
    bot says when it showed them: ``POST /v1/handoffs/updates/seen``)."""
    ticket = tickets.open_ticket_of_sender(session, sender)
    if ticket is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NO_OPEN_TICKET)
    replies = tickets.replies(ticket)
    current = Status(ticket.status)
    return SenderUpdate(
        number=ticket.number,
        status=current,
        status_text=STATUS_TEXT[ticket.language][current],
        language=Language(ticket.language),
        unread_replies=len(tickets.unread_replies(ticket)),
        latest_reply=(
            PublicComment(body=replies[-1].data["body"], created_at=replies[-1].created_at)
            if replies
            else None
        ),
        page_url=page_url(ctx.settings, ticket),
    )


@router.post(
    "/handoffs/updates/seen",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: NO_OPEN_TICKET_RESPONSE, **errors(401, 403, 413, 422)},
)
def updates_seen(body: UpdatesSeenIn, session: DbSession, _bot: Bot) -> Response:
    """The bot showed the sender their ticket's replies up to ``through``: those are no longer
    unread (a reply written after it stays unread)."""
    ticket = tickets.open_ticket_of_sender(session, body.sender)
    if ticket is None or ticket.number != body.number:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NO_OPEN_TICKET)
    tickets.mark_seen(ticket, through=body.through)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
