"""Rate limits: how often one client, one ticket number, one chat sender or one private page
may ask, counted with the ``limits`` library (moving windows).

One :class:`RateLimits` is built per app from the settings (``ctx.rate_limits``); the routers
call :meth:`RateLimits.hit` (count and refuse), or :meth:`RateLimits.check` and
:meth:`RateLimits.record` where only failures count (status lookups per ticket number, console
logins). A refusal is :class:`RateLimited`: the JSON API answers it with 429, ``Retry-After``
and :func:`refusal_detail` (:func:`too_many_requests`, installed in ``main.py``); the private
page and the console login show their own page with the same status and header.

Counters live in ``HANDOFF_RATE_LIMIT_STORAGE``: ``memory://`` (one process) or a Redis URL
(shared by every replica). Their keys are SHA-256 digests of what is counted, so the store
holds no address, sender id or access key. Should Redis be unreachable, requests are let
through and an error is logged: the limits protect the service, they must not take it down.

The client is the connecting address (``request.client.host``). Behind a reverse proxy that is
the proxy's, unless uvicorn is told to trust its ``X-Forwarded-For`` (``cli serve`` trusts
127.0.0.1, uvicorn's default; a proxy elsewhere: ``FORWARDED_ALLOW_IPS=<its address>``, or
``uvicorn --proxy-headers --forwarded-allow-ips=...``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from enum import StrEnum
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from handoff_service.i18n import RATE_LIMITED
from handoff_service.schemas import ErrorOut
from handoff_service.settings import Settings

logger = logging.getLogger(__name__)

#: Redis connect and command timeout (seconds): a stalled Redis delays a request by at most
#: this much before it is let through.
REDIS_TIMEOUT_SECONDS = 1.0


class Scope(StrEnum):
    """What is counted; each scope has its setting ``rate_limit_<value>``."""

    STATUS_PER_CLIENT = "status_per_client"
    STATUS_PER_TICKET = "status_per_ticket"
    HANDOFFS_PER_SENDER = "handoffs_per_sender"
    HANDOFFS_PER_CLIENT = "handoffs_per_client"
    PORTAL_PER_KEY = "portal_per_key"
    PORTAL_PER_CLIENT = "portal_per_client"
    FAILED_LOGINS_PER_CLIENT = "failed_logins_per_client"


class RateLimited(Exception):
    """A request over one of the limits; retry in ``retry_after`` seconds."""

    def __init__(self, scope: Scope, retry_after: int):
        super().__init__(f"rate limit {scope.value} reached; retry in {retry_after} s")
        self.scope = scope
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def client_address(request: Request) -> str:
    """Who is asking: the connecting address (see the module's note on reverse proxies)."""
    return request.client.host if request.client else "unknown"


def sender_of(conversation_id: str) -> str:
    """The chat sender of a handoff's conversation id: the id without its ``:<session start>``
    suffix (the inverse of how the bot builds it; see ``tickets.belongs_to_sender``)."""
    sender, separator, start = conversation_id.rpartition(":")
    return sender if separator and sender and start.isdigit() else conversation_id


class RateLimits:
    """The configured limits on one storage; ``None`` for a scope: not limited."""

    def __init__(self, storage: Storage, limits: dict[Scope, RateLimitItem | None], prefix: str):
        self.storage = storage
        self.limits = limits
        self.prefix = prefix
        self._limiter = MovingWindowRateLimiter(storage)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        """Fails at startup on a storage URL or a limit the ``limits`` library cannot read."""
        uri = settings.rate_limit_storage
        options: dict[str, float | str | bool] = {"wrap_exceptions": True}
        if uri.startswith(("redis://", "rediss://", "redis+unix://")):
            options |= {
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            }
        storage = storage_from_string(uri, **options)
        limits = {}
        for scope in Scope:
            text = getattr(settings, f"rate_limit_{scope.value}")
            limits[scope] = parse(text) if text is not None else None
        return cls(storage, limits, settings.rate_limit_prefix)

    def _identity(self, scope: Scope, value: str) -> tuple[str, str]:
        digest = hashlib.sha256(f"{self.prefix}\0{scope.value}\0{value}".encode()).hexdigest()
        return self.prefix, digest[:32]

    def _refusal(self, scope: Scope, item: RateLimitItem, identity: tuple[str, str]) -> None:
        """Raise :class:`RateLimited` with the seconds until the window has room again."""
        reset_at = self._limiter.get_window_stats(item, *identity).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        logger.warning("rate limit reached", extra={"scope": scope.value})
        raise RateLimited(scope, retry_after)

    def hit(self, scope: Scope, value: str) -> None:
        """Count one request of ``value`` (an address, a sender...); raise
        :class:`RateLimited` (not counted) when the limit is reached."""
        item = self.limits[scope]
        if item is None:
            return
        identity = self._identity(scope, value)
        try:
            if self._limiter.hit(item, *identity):
                return
            self._refusal(scope, item, identity)
        except StorageError as exc:
            self._unavailable(scope, exc)

    def check(self, scope: Scope, value: str) -> None:
        """Raise :class:`RateLimited` when the limit is reached, without counting."""
        item = self.limits[scope]
        if item is None:
            return
        identity = self._identity(scope, value)
        try:
            if not self._limiter.test(item, *identity):
                self._refusal(scope, item, identity)
        except StorageError as exc:
            self._unavailable(scope, exc)

    def record(self, scope: Scope, value: str) -> None:
        """Count one (failed) attempt without refusing it: the next :meth:`check` decides."""
        item = self.limits[scope]
        if item is None:
            return
        try:
            self._limiter.hit(item, *self._identity(scope, value))
        except StorageError as exc:
            self._unavailable(scope, exc)

    @staticmethod
    def _unavailable(scope: Scope, exc: StorageError) -> None:
        logger.error(
            "rate limit storage unavailable; request let through",
            extra={"scope": scope.value, "error": type(exc.storage_error).__name__},
        )


def refusal_detail(exc: RateLimited) -> str:
    """The 429's message: customers' lookups in both languages (theirs is not known yet)."""
    if exc.scope in (Scope.STATUS_PER_CLIENT, Scope.STATUS_PER_TICKET):
        return f"{RATE_LIMITED['en']} / {RATE_LIMITED['es']}"
    return f"too many new handoffs ({exc.scope.value}); retry in {exc.retry_after} s"


async def too_many_requests(_request: Request, exc: Exception) -> JSONResponse:
    """The JSON API's answer to :class:`RateLimited`."""
    assert isinstance(exc, RateLimited)
    return JSONResponse({"detail": refusal_detail(exc)}, status_code=429, headers=exc.headers)


#: The 429 in an endpoint's OpenAPI ``responses``.
RESPONSES: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorOut,
        "description": "Rate limit reached (HANDOFF_RATE_LIMIT_*); `Retry-After` says when "
        "to try again.",
    }
}
