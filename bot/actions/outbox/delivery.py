"""Delivery of the outbox's rows to the handoff service: at once, then by a retry worker.

A handoff is stored, then sent at once (within ``HANDOFF_TIMEOUT_SECONDS``): the customer gets
the ticket number in the same turn when the service is up. An unanswered question is only
stored: the worker sends it, so a gap report never slows an answer down. Whatever is not
delivered stays ``pending`` and the worker (:meth:`Outbox.start_worker`) retries it with
exponential backoff and jitter.

Why "store, send, mark delivered" (and not "send, store on failure"): with the row written
before any network I/O, a process that dies at any point leaves the message in the file; the
worst case is a row left ``sending`` that was in fact delivered. Its lease expires and a worker
sends it again. That duplicate send is harmless: both endpoints are idempotent (``POST
/v1/handoffs`` on ``conversation_id``, answering 200 with the ticket it already has; ``POST
/v1/unanswered`` on conversation, reason and text), so delivery is at-least-once and records are
exactly-once. The price is one SQLite write on the happy path.

A payload is validated with the service's own schema (``handoff_service.schemas.HandoffIn``,
``UnansweredIn``) before it is stored: an invalid one raises ``pydantic.ValidationError`` and
never enters the outbox. A row the service rejects anyway (4xx validation error, e.g. a service
with a newer schema) becomes ``failed``: logged at ERROR and kept for an operator. A handoff
answered 413 (the service's body limit is below the bot's ``NIVEL0_HANDOFF_MAX_BODY_BYTES``) is
first rebuilt with half the size (oldest transcript turns left out, see
``actions.handoff_payload.fit_body_limit``) and sent again; only one that cannot shrink more
becomes ``failed``. A delivered row's body is purged (``actions.outbox.store``).

Conversation events (``POST /v1/events``, the support metrics: docs/metrics.md) are validated
as ``ConversationEventIn``, stored in their own table and sent by the worker in batches of
``EVENT_BATCH``; the service skips ids it has, so a batch sent twice is stored once. A batch
that is not delivered, or rejected (a service with another schema: logged at ERROR), is
retried with the same backoff; a delivered event is deleted.

The delay before retry *n* (1-based) is drawn uniformly from ``[d/2, d]`` with
``d = min(max, base * 2**(n-1))`` (jitter spreads the retries of many rows and processes).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from actions.handoff_client import HandoffClient, HandoffRejected, HandoffUnavailable
from actions.handoff_payload import BODY_HEADROOM_BYTES, body_bytes, fit_body_limit
from actions.outbox.store import (
    FAILED,
    HANDOFF,
    PENDING,
    UNANSWERED,
    Claim,
    OutboxEntry,
    OutboxStore,
)
from actions.settings import ActionSettings
from handoff_service.schemas import ConversationEventIn, HandoffIn, UnansweredIn

logger = logging.getLogger(__name__)

#: Conversation events per ``POST /v1/events`` (the service takes up to 500).
EVENT_BATCH = 100


@dataclass(frozen=True)
class OutboxSettings:
    path: Path
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    poll: float = 1.0
    lease: float = 60.0

    @classmethod
    def from_settings(cls, settings: ActionSettings) -> OutboxSettings:
        return cls(
            path=settings.outbox_path,
            backoff_base=settings.outbox_backoff_base_seconds,
            backoff_max=settings.outbox_backoff_max_seconds,
            poll=settings.outbox_poll_seconds,
            lease=settings.outbox_lease_seconds,
        )

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based), with jitter."""
        delay = min(self.backoff_max, self.backoff_base * 2 ** min(attempt - 1, 30))
        return random.uniform(delay / 2, delay)


def unanswered_key(payload: dict[str, Any]) -> str:
    """The service's idempotency key of an unanswered question, as one outbox key."""
    digest = hashlib.sha256(payload["text"].encode("utf-8")).hexdigest()[:24]
    return f"{payload['conversation_id']}:{payload['reason']}:{digest}"


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, default=str)


class Outbox:
    """The outbox on one SQLite file with one client of the handoff service. Thread-safe."""

    def __init__(self, settings: OutboxSettings, client: HandoffClient):
        self.settings = settings
        self.client = client
        self.store = OutboxStore(settings.path)
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def lookup(self, conversation_id: str) -> OutboxEntry | None:
        """The conversation's handoff, if one was stored."""
        return self.store.get(HANDOFF, conversation_id)

    def entries(self, kind: str | None = None, state: str | None = None) -> list[OutboxEntry]:
        return self.store.entries(kind, state)

    # --- submitting -------------------------------------------------------------------------

    def submit_handoff(self, payload: dict[str, Any]) -> OutboxEntry:
        """Validate, store, then try to deliver the handoff now (bounded by the client's
        timeout).

        Returns the entry: ``delivered`` with the ticket, ``pending``/``sending`` (the worker
        will deliver it) or ``failed`` (rejected by the service; logged). A conversation that
        already has a ticket gets it back without a new request, as the service would answer.
        Raises ``pydantic.ValidationError`` (nothing stored) when ``HandoffIn`` refuses it.
        """
        # What is stored is the validated model: its text already redacted by the service's own
        # schema (a card split over two messages included), never the raw payload.
        body = HandoffIn.model_validate_json(_json(payload)).model_dump_json()
        key = payload["conversation_id"]
        claimed = self.store.put_claimed(HANDOFF, key, key, body, self.settings.lease)
        if isinstance(claimed, OutboxEntry):
            return claimed
        self._deliver(claimed)
        entry = self.lookup(key)
        assert entry is not None  # handoff rows are never deleted
        return entry

    async def asubmit_handoff(self, payload: dict[str, Any]) -> OutboxEntry:
        """:meth:`submit_handoff` off the event loop (for ``async def run`` actions)."""
        return await asyncio.to_thread(self.submit_handoff, payload)

    def submit_unanswered(self, payload: dict[str, Any]) -> bool:
        """Validate and store an unanswered question for the worker to send; False when the
        same question of the conversation is stored already. Raises
        ``pydantic.ValidationError`` (nothing stored) when ``UnansweredIn`` refuses it."""
        body = UnansweredIn.model_validate_json(_json(payload)).model_dump_json()
        key = unanswered_key(payload)
        return self.store.put_pending(UNANSWERED, key, payload["conversation_id"], body)

    def submit_event(self, event: dict[str, Any]) -> None:
        """Validate and store a conversation event for the worker to send. Raises
        ``pydantic.ValidationError`` (nothing stored) when ``ConversationEventIn`` refuses it."""
        model = ConversationEventIn.model_validate_json(_json(event))
        self.store.put_event(model.event_id, model.model_dump_json(exclude_none=True))

    # --- delivering -------------------------------------------------------------------------

    def deliver_events(self) -> bool:
        """Send the due events in batches; False at the first batch not delivered."""
        while batch := self.store.claim_events(EVENT_BATCH, self.settings.lease):
            ids = [row_id for row_id, _ in batch]
            try:
                self.client.record_events([event for _, event in batch])
            except Exception as exc:
                if isinstance(exc, HandoffRejected):
                    logger.error("%d conversation events rejected, kept: %s", len(ids), exc)
                else:
                    logger.warning("%d conversation events kept in the outbox: %s", len(ids), exc)
                self.store.events_failed(ids, str(exc), self.settings.backoff)
                return False
            self.store.events_delivered(ids)
        return True

    def _deliver(self, claim: Claim) -> bool:
        """Send one claimed row; True when it was delivered or rejected (not to retry now)."""
        try:
            if claim.kind == HANDOFF:
                ticket = self.client.create_handoff(claim.payload)
            else:
                self.client.record_unanswered(claim.payload)
                ticket = None
        except HandoffRejected as exc:
            smaller = self._shrink(claim) if exc.status_code == 413 else None
            if smaller is not None:
                logger.warning("%s %s too large (413): shrunk, sent again", claim.kind, claim.key)
                return self._deliver(smaller)
            logger.error(
                "%s REJECTED, NOT RETRIED: outbox row %s (%s): %s. It stays in the outbox (%s) "
                "as 'failed'; fix the cause, then `python -m actions.outbox retry %s`.",
                claim.kind.upper(),
                claim.id,
                claim.key,
                exc,
                self.settings.path,
                claim.id,
            )
            self.store.release(claim, FAILED, str(exc), self.settings.backoff)
            return True
        except HandoffUnavailable as exc:
            logger.warning("%s %s kept in the outbox: %s", claim.kind, claim.key, exc)
            self.store.release(claim, PENDING, str(exc), self.settings.backoff)
            return False
        except Exception as exc:  # an unexpected answer: keep the row and retry with backoff
            logger.exception("%s %s: unexpected error, will retry", claim.kind, claim.key)
            error = f"{type(exc).__name__}: {exc}"
            self.store.release(claim, PENDING, error, self.settings.backoff)
            return False
        self.store.mark_delivered(claim, ticket)
        if ticket is not None:
            logger.info("handoff %s delivered: ticket %s", claim.key, ticket.number)
        return True

    def _shrink(self, claim: Claim) -> Claim | None:
        """The claim with its handoff rebuilt at half its size (stored, so a retry sends it)
        after the service answered 413 (its body limit is lower than the bot's
        ``NIVEL0_HANDOFF_MAX_BODY_BYTES``); None when it cannot shrink any more. Each 413
        halves the body again: a few rounds reach any limit that fits one message."""
        if claim.kind != HANDOFF:
            return None
        size = body_bytes(claim.payload)
        smaller = fit_body_limit(claim.payload, size // 2 + BODY_HEADROOM_BYTES)
        if body_bytes(smaller) >= size:
            return None
        self.store.replace_payload(claim, _json(smaller))  # cut from a validated body: valid
        return replace(claim, payload=smaller)

    def run_pending(self, stop: threading.Event | None = None) -> int:
        """Deliver the rows that are due, one after the other, then the due conversation
        events in batches; returns how many rows were tried.

        A pass stops at the first temporary failure (the service is probably down, so the
        other rows wait for the next pass instead of each costing a timeout now) and when
        ``stop`` is set.
        """
        tried = 0
        while stop is None or not stop.is_set():
            claim = self.store.claim_due(self.settings.lease)
            if claim is None:
                break
            tried += 1
            if not self._deliver(claim):
                return tried
        if stop is None or not stop.is_set():
            self.deliver_events()
        return tried

    # --- background worker ------------------------------------------------------------------

    def start_worker(self) -> threading.Thread:
        """Start the retry thread (daemon) unless it runs already. Safe to call many times."""
        with self._lock:
            if self._worker is not None and self._worker.is_alive():
                return self._worker
            self._stop.clear()
            self._worker = threading.Thread(
                target=self._work, name=f"outbox-{self.settings.path.name}", daemon=True
            )
            self._worker.start()
            return self._worker

    def stop_worker(self, timeout: float | None = None) -> None:
        """Ask the worker to stop after the current send, and wait for it."""
        with self._lock:
            worker, self._worker = self._worker, None
        self._stop.set()
        if worker is not None:
            worker.join(timeout)

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pending(self._stop)
            except Exception:  # e.g. the disk is full: log, keep the thread alive, try again
                logger.exception("outbox worker: pass failed")
            self._stop.wait(self.settings.poll)
