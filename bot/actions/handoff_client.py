"""HTTP client for the handoff service (``POST /v1/handoffs``, ``POST /v1/unanswered``,
``POST /v1/status``, ``GET /v1/handoffs/updates`` and ``POST /v1/handoffs/updates/seen``).

Settings (:class:`actions.settings.ActionSettings`): ``HANDOFF_SERVICE_URL`` (default
``http://localhost:8000``), ``HANDOFF_SERVICE_TOKEN`` (bearer token of a ``service`` account:
``python -m handoff_service.cli create-token rasa-bot --role service``; none: nothing can be
delivered, rows wait in the outbox) and ``HANDOFF_TIMEOUT_SECONDS`` (3: httpx timeout for
connect, read, write and pool).

Outcomes of :meth:`HandoffClient.create_handoff` and :meth:`HandoffClient.record_unanswered`:

* 201/200 -> done (200 is the service's idempotent replay: the same ticket or record);
* the service rejected the payload (400, 413, 415, 422) -> :class:`HandoffRejected`: a bug or a
  payload problem that resending will not fix;
* anything else (timeout, connection error, 5xx, 429, 401/403 = a token problem an operator
  fixes, a missing token) -> :class:`HandoffUnavailable`: worth retrying later.

The client is synchronous; async code (``async def run`` actions) calls it through
``asyncio.to_thread`` (see :meth:`actions.outbox.Outbox.asubmit_handoff`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from actions.settings import ActionSettings, PerProcess

logger = logging.getLogger(__name__)

TOKEN_ENV = "HANDOFF_SERVICE_TOKEN"  # named in log messages: what the operator sets

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
    url: str
    token: str | None
    timeout: float

    @classmethod
    def from_settings(cls, settings: ActionSettings) -> HandoffConfig:
        token = settings.handoff_service_token
        return cls(
            url=settings.handoff_service_url,
            token=token.get_secret_value() if token is not None else None,
            timeout=settings.handoff_timeout_seconds,
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


@dataclass(frozen=True)
class SenderUpdate:
    """The newest open ticket of a chat sender (``GET /v1/handoffs/updates``); ``page_url``
    carries the ticket's secret (only the bot's token gets it)."""

    number: str
    status_text: str
    unread_replies: int
    latest_reply: str | None
    latest_reply_at: dt.datetime | None
    page_url: str


class HandoffClient:
    """One client per process is enough (httpx pools connections); thread-safe."""

    def __init__(self, config: HandoffConfig, transport: httpx.BaseTransport | None = None):
        self.config = config
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
        response = self._post_as_bot("/v1/handoffs", payload)
        return HandoffResult.from_response(response.json(), response.status_code == 201)

    def record_unanswered(self, payload: dict[str, Any]) -> None:
        """Record an unanswered question (``UnansweredIn``; a replay is answered 200)."""
        self._post_as_bot("/v1/unanswered", payload)

    def record_events(self, events: list[dict[str, Any]]) -> None:
        """Record a batch of conversation events (``EventsIn``; known ids are skipped)."""
        self._post_as_bot("/v1/events", {"events": events}, ok=(200,))

    def sender_update(self, sender: str) -> SenderUpdate | None:
        """The newest open ticket handed off from the chat ``sender``; ``None`` when it has
        none. Asking does not mark its replies as seen (:meth:`mark_seen` does)."""
        if not self.config.token:
            raise HandoffUnavailable(f"{TOKEN_ENV} is not set")
        response = self._send(
            "GET", "/v1/handoffs/updates", params={"sender": sender}, headers=self._bot_headers()
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise _error(response)
        body = response.json()
        latest = body.get("latest_reply")
        return SenderUpdate(
            number=body["number"],
            status_text=body["status_text"],
            unread_replies=int(body["unread_replies"]),
            latest_reply=latest["body"] if latest else None,
            latest_reply_at=dt.datetime.fromisoformat(latest["created_at"]) if latest else None,
            page_url=body["page_url"],
        )

    def mark_seen(self, sender: str, number: str, through: dt.datetime) -> None:
        """The customer was shown ticket ``number``'s replies up to ``through``."""
        body = {"sender": sender, "number": number, "through": through.isoformat()}
        self._post_as_bot("/v1/handoffs/updates/seen", body, ok=(204,))

    def _bot_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.token}"}

    def _post_as_bot(
        self, path: str, payload: dict[str, Any], ok: tuple[int, ...] = (200, 201)
    ) -> httpx.Response:
        """POST with the bot's token; the response when its status is one of ``ok``."""
        if not self.config.token:
            logger.error(
                "%s is not set: %s of %s cannot be sent (it stays in the outbox). Create a "
                "token with `python -m handoff_service.cli create-token rasa-bot --role service`.",
                TOKEN_ENV,
                path,
                payload.get("conversation_id"),
            )
            raise HandoffUnavailable(f"{TOKEN_ENV} is not set")
        response = self._post(path, payload, self._bot_headers())
        if response.status_code in ok:
            return response
        raise _error(response)

    def ticket_status(self, number: str, email: str) -> TicketStatus | None:
        """The ticket's status for its customer; ``None`` when number and e-mail do not match.
        The bot's token, when set, tells the service that the bot asks for one of its many
        customers: its per-address rate limit would otherwise count them all as one client."""
        headers = self._bot_headers() if self.config.token else {}
        response = self._post("/v1/status", {"number": number, "email": email}, headers)
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
        return self._send("POST", path, json=body, headers=headers)

    def _send(self, method: str, path: str, **request: Any) -> httpx.Response:
        """One request; transport failures become :class:`HandoffUnavailable`."""
        try:
            return self._http.request(method, path, **request)
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


_client = PerProcess(lambda settings: HandoffClient(HandoffConfig.from_settings(settings)))
#: Install the process's client (tests); ``None``: back to the one built from settings.
configure = _client.install
#: The process's client: the installed one, else one built from the action settings.
default_client = _client.get
