"""Only Rasa may call the actions: every ``/webhook`` request must carry the shared secret
(``NIVEL0_ACTION_SECRET``) that Rasa sends as ``Authorization: Bearer <secret>``
(``bot/endpoints.yml``). Without it anyone who reaches the action server could post a crafted
tracker and make the bot hand over, or look up tickets, with the bot's service token. The
handoff service's erasure call (``/privacy/erase``, :func:`attach_privacy_erase`) needs the
same secret. ``/health`` and ``/metrics`` stay open: they say nothing about customers."""

from __future__ import annotations

import asyncio
import hmac

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json


def authorised(header: str | None, secret: str | None) -> bool:
    """Whether an ``Authorization`` header carries ``secret`` (compared in constant time); with
    no secret configured, nothing is authorised."""
    if not secret:
        return False
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), secret.encode())


def attach_secret_check(app: Sanic, secret: str | None) -> None:
    """Refuse ``/webhook`` calls of ``app`` without the shared secret (401)."""

    @app.on_request
    async def only_rasa_calls_the_actions(request: Request) -> HTTPResponse | None:
        if not request.path.startswith(("/webhook", "/privacy")):
            return None
        if authorised(request.headers.get("authorization"), secret):
            return None
        return json({"error": "missing or wrong action server secret"}, status=401)


def attach_privacy_erase(app: Sanic) -> None:
    """``POST /privacy/erase {"email": ...}``: the handoff service's erasure of a customer
    deletes their undelivered handoffs (and those conversations' unanswered questions) from
    this host's outbox (``OutboxStore.erase``); answers ``{"outbox_rows": n}``."""

    @app.post("/privacy/erase")
    async def erase(request: Request) -> HTTPResponse:
        from actions.outbox import default_outbox

        body = request.json if request.body else None
        email = body.get("email") if isinstance(body, dict) else None
        if not isinstance(email, str) or "@" not in email or len(email) > 254:
            return json({"error": "give the customer's e-mail address"}, status=422)
        erased = await asyncio.to_thread(default_outbox().store.erase, email)
        return json({"outbox_rows": erased})
