"""Only Rasa may call the actions: every ``/webhook`` request must carry the shared secret
(``NIVEL0_ACTION_SECRET``) that Rasa sends as ``Authorization: Bearer <secret>``
(``bot/endpoints.yml``). Without it anyone who reaches the action server could post a crafted
tracker and make the bot hand over, or look up tickets, with the bot's service token.
``/health`` stays open: it says nothing but whether the knowledge base is loaded."""

from __future__ import annotations

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
        if not request.path.startswith("/webhook"):
            return None
        if authorised(request.headers.get("authorization"), secret):
            return None
        return json({"error": "missing or wrong action server secret"}, status=401)
