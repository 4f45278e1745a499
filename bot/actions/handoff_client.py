"""HTTP client for the handoff service (``POST /v1/handoffs``, ``POST /v1/status``).

Configuration (environment variables, read when a client is created):

=========================== ========================= ============================================
variable                    default                   meaning
=========================== ========================= ============================================
``HANDOFF_SERVICE_URL``     ``http://localhost:8000`` base URL of the handoff service
``HANDOFF_SERVICE_TOKEN``   (none)                    bearer token of a ``service`` account
                                                      (``cli create-token rasa-bot --role service``)
``HANDOFF_TIMEOUT_SECONDS`` ``3``                     httpx timeout (connect, read, write, pool)
=========================== ========================= ============================================

Outcomes of :meth:`HandoffClient.create_handoff`:

* 201/200 -> :class:`HandoffResult` (200 is the service's idempotent replay: same ticket);
* the service rejected the payload (400, 413, 415, 422) -> :class:`HandoffRejected`: a bug or a
  payload problem that resending will not fix;
* anything else (timeout, connection error, 5xx, 429, 401/403 = a token problem an operator
  fixes, a missing token) -> :class:`HandoffUnavailable`: worth retrying later.

The client is synchronous; async code (``async def run`` actions) calls it through
``asyncio.to_thread`` (see :func:`actions.outbox.asubmit`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

import httpx

logger = logging.getLogger(__name__)

URL_ENV = "HANDOFF_SERVICE_URL"
TOKEN_ENV = "HANDOFF_SERVICE_TOKEN"
TIMEOUT_ENV = "HANDOFF_TIMEOUT_SECONDS"
DEFAULT_URL = "http://localhost:8000"
DEFAULT_TIMEOUT_SECONDS = 3.0

# The request itself is wrong: sending it again cannot succeed.
PERMANENT_STATUSES = frozenset({400, 413, 415, 422})


class HandoffError(Exception):
    """The handoff could not be delivered."""


class HandoffUnavailable(HandoffError):
    """Temporary (service down, slow, overloaded, token not configured): retry later."""


class HandoffRejected(HandoffError):
    """The service refused the payload (4xx validation error): do not retry as is."""

    def __init__(self, status_code: int, detail: Any):
        super().__init__(f"handoff rejected with HTTP {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


@dataclass(frozen=True)
class HandoffConfig:
    url: str = DEFAULT_URL
    token: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls) -> HandoffConfig:
        raw_timeout = os.environ.get(TIMEOUT_ENV, str(DEFAULT_TIMEOUT_SECONDS))
        try:
            timeout = float(raw_timeout)
        except ValueError as exc:
            raise ValueError(f"{TIMEOUT_ENV} must be a number, got {raw_timeout!r}") from exc
        if timeout <= 0:
            raise ValueError(f"{TIMEOUT_ENV} must be positive, got {raw_timeout!r}")
        return cls(
            url=os.environ.get(URL_ENV, DEFAULT_URL).rstrip("/"),
            token=os.environ.get(TOKEN_ENV) or None,
            timeout=timeout,
        )


@dataclass(frozen=True)
class HandoffResult:
    """The ticket the service created (or already had) for the conversation."""

    number: str
    queue: str
    due_at: dt.datetime
    status: str
    # False when the service returned the ticket it already had (a replay), and for results
    # read back from the outbox.
    created: bool

    @classmethod
    def from_response(cls, body: dict[str, Any], created: bool) -> HandoffResult:
        return cls(
            number=str(body["number"]),
            queue=str(body["queue"]),
            due_at=dt.datetime.fromisoformat(str(body["due_at"])),
            status=str(body["status"]),
            created=created,
        )


@dataclass(frozen=True)
class TicketStatus:
    """What the customer may see of their ticket (``POST /v1/status``)."""

    number: str
    status: str
    status_text: str
    due_at: dt.datetime
    messages: list[str]


class HandoffClient:
    """One client per process is enough (httpx pools connections); thread-safe."""

    def __init__(
        self, config: HandoffConfig | None = None, transport: httpx.BaseTransport | None = None
    ):
        self.config = config or HandoffConfig.from_env()
        self._http = httpx.Client(
            base_url=self.config.url, timeout=self.config.timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HandoffClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create_handoff(self, payload: dict[str, Any]) -> HandoffResult:
        """Create (or get back) the ticket of ``payload["conversation_id"]``."""
        if not self.config.token:
            logger.error(
                "%s is not set: handoff %s cannot be sent (it stays in the outbox). Create a "
                "token with `python -m handoff_service.cli create-token rasa-bot --role service`.",
                TOKEN_ENV,
                payload.get("conversation_id"),
            )
            raise HandoffUnavailable(f"{TOKEN_ENV} is not set")
        response = self._post(
            "/v1/handoffs", payload, {"Authorization": f"Bearer {self.config.token}"}
        )
        if response.status_code in (200, 201):
            return HandoffResult.from_response(response.json(), response.status_code == 201)
        raise _error(response)

    def ticket_status(self, number: str, email: str) -> TicketStatus | None:
        """The ticket's status for its customer; ``None`` when number and e-mail do not match."""
        response = self._post("/v1/status", {"number": number, "email": email}, {})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise _error(response)
        body = response.json()
        return TicketStatus(
            number=body["number"],
            status=body["status"],
            status_text=body["status_text"],
            due_at=dt.datetime.fromisoformat(body["due_at"]),
            messages=[m["body"] for m in body.get("messages", [])],
        )

    def _post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        try:
            return self._http.post(path, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise HandoffUnavailable(
                f"handoff service timed out after {self.config.timeout:g} s ({type(exc).__name__})"
            ) from exc
        except httpx.HTTPError as exc:
            raise HandoffUnavailable(
                f"handoff service unreachable at {self.config.url}: {type(exc).__name__}: {exc}"
            ) from exc


def _error(response: httpx.Response) -> HandoffError:
    try:
        detail: Any = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text[:500]
    if response.status_code in PERMANENT_STATUSES:
        return HandoffRejected(response.status_code, detail)
    if response.status_code in (401, 403):
        logger.error(
            "the handoff service refused %s (HTTP %s): check that it is an active token of a "
            "'service' account",
            TOKEN_ENV,
            response.status_code,
        )
    return HandoffUnavailable(f"HTTP {response.status_code}: {detail}")


_default: HandoffClient | None = None
_default_lock = threading.Lock()


def default_client() -> HandoffClient:
    """The process-wide client configured from the environment."""
    global _default
    with _default_lock:
        if _default is None:
            _default = HandoffClient()
        return _default


def create_handoff(payload: dict[str, Any]) -> HandoffResult:
    return default_client().create_handoff(payload)


def ticket_status(number: str, email: str) -> TicketStatus | None:
    return default_client().ticket_status(number, email)
