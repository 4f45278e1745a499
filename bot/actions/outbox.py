"""Persistent outbox for handoffs: a handoff is never lost when the handoff service is down.

:func:`submit` stores the handoff, then tries to deliver it at once (within
``HANDOFF_TIMEOUT_SECONDS``). If the service is down, slow or the token is missing, the row
stays ``pending`` and a background worker (:func:`start_worker`) retries it with exponential
backoff and jitter. Delivered rows keep the ticket number, so :func:`lookup` gives it to the
bot on the customer's next message or status question.

Why "store, send, mark delivered" (and not "send, store on failure"): with the row written
before any network I/O, a process that dies at any point leaves the handoff in the file; the
worst case is a row left ``sending`` whose ticket was in fact created. Its lease expires and a
worker sends it again. That duplicate send is harmless: ``POST /v1/handoffs`` is idempotent on
``conversation_id`` (the service answers 200 with the ticket it already has), so delivery is
at-least-once and tickets are exactly-once. The price is one SQLite write on the happy path.

Concurrency: one SQLite file (WAL mode, ``synchronous=FULL``) may be shared by several threads
and several action-server processes. Every connection is short-lived and every state change is
one ``BEGIN IMMEDIATE`` transaction. A worker *claims* a due row by setting ``state='sending'``
with a random claim id and a lease inside such a transaction, so two workers never send the
same row at the same time; a row is taken over only after its lease expired (its sender died or
hung). Even if that ever raced with a slow sender, the service's idempotency keeps one ticket.

Rows: one per conversation (``conversation_id`` is the primary key; a new submit of the same
conversation updates the payload of a row that is not delivered yet). States: ``pending`` (to
retry at ``next_attempt_at``), ``sending`` (claimed), ``delivered`` (ticket known) and
``failed`` (the service rejected the payload with a 4xx validation error: a bug or a payload
problem, logged at ERROR and kept with the error for an operator; :func:`retry_failed` puts
such rows back in the queue after the fix).

Configuration (environment variables):

===================================== ================== =========================================
variable                              default            meaning
===================================== ================== =========================================
``NIVEL0_OUTBOX_PATH``                ``var/outbox.db``  SQLite file (relative to the repository
                                                         root when the default is used)
``NIVEL0_OUTBOX_BACKOFF_BASE_SECONDS`` ``1``              first retry delay
``NIVEL0_OUTBOX_BACKOFF_MAX_SECONDS``  ``60``             cap of the exponential delay
``NIVEL0_OUTBOX_POLL_SECONDS``         ``1``              how often the worker looks for due rows
``NIVEL0_OUTBOX_LEASE_SECONDS``        ``60``             a ``sending`` row older than this is
                                                         taken over (its sender died)
===================================== ================== =========================================

The delay before retry *n* (1-based) is drawn uniformly from ``[d/2, d]`` with
``d = min(max, base * 2**(n-1))`` (jitter spreads the retries of many rows and processes).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actions.handoff_client import (
    HandoffClient,
    HandoffRejected,
    HandoffResult,
    HandoffUnavailable,
    default_client,
)

logger = logging.getLogger(__name__)

PATH_ENV = "NIVEL0_OUTBOX_PATH"
BACKOFF_BASE_ENV = "NIVEL0_OUTBOX_BACKOFF_BASE_SECONDS"
BACKOFF_MAX_ENV = "NIVEL0_OUTBOX_BACKOFF_MAX_SECONDS"
POLL_ENV = "NIVEL0_OUTBOX_POLL_SECONDS"
LEASE_ENV = "NIVEL0_OUTBOX_LEASE_SECONDS"
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "var" / "outbox.db"

PENDING = "pending"
SENDING = "sending"
DELIVERED = "delivered"
FAILED = "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    conversation_id TEXT PRIMARY KEY,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    claimed_by      TEXT,
    claimed_until   REAL,
    last_error      TEXT,
    ticket_number   TEXT,
    queue           TEXT,
    due_at          TEXT,
    ticket_status   TEXT,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    delivered_at    REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at);
"""


def _positive(name: str, default: float) -> float:
    raw = os.environ.get(name, str(default))
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class OutboxSettings:
    path: Path = DEFAULT_PATH
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    poll: float = 1.0
    lease: float = 60.0

    @classmethod
    def from_env(cls) -> OutboxSettings:
        return cls(
            path=Path(os.environ[PATH_ENV]) if os.environ.get(PATH_ENV) else DEFAULT_PATH,
            backoff_base=_positive(BACKOFF_BASE_ENV, 1.0),
            backoff_max=_positive(BACKOFF_MAX_ENV, 60.0),
            poll=_positive(POLL_ENV, 1.0),
            lease=_positive(LEASE_ENV, 60.0),
        )

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based), with jitter."""
        delay = min(self.backoff_max, self.backoff_base * 2 ** min(attempt - 1, 30))
        return random.uniform(delay / 2, delay)


@dataclass(frozen=True)
class OutboxEntry:
    """A conversation's handoff as the outbox knows it."""

    conversation_id: str
    state: str  # pending | sending | delivered | failed
    attempts: int
    ticket: HandoffResult | None
    last_error: str | None

    @property
    def number(self) -> str | None:
        return self.ticket.number if self.ticket else None

    @property
    def delivered(self) -> bool:
        return self.state == DELIVERED

    @property
    def pending(self) -> bool:
        """Not delivered yet but will be retried (the customer gets the number later)."""
        return self.state in (PENDING, SENDING)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> OutboxEntry:
        ticket = None
        if row["ticket_number"]:
            ticket = HandoffResult(
                number=row["ticket_number"],
                queue=row["queue"],
                due_at=dt.datetime.fromisoformat(row["due_at"]),
                status=row["ticket_status"],
                created=False,
            )
        return cls(row["conversation_id"], row["state"], row["attempts"], ticket, row["last_error"])


class Outbox:
    """The outbox on one SQLite file. Thread-safe; several instances/processes may share it."""

    def __init__(self, settings: OutboxSettings | None = None, client: HandoffClient | None = None):
        self.settings = settings or OutboxSettings.from_env()
        self._client = client
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.settings.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(_SCHEMA)

    @property
    def client(self) -> HandoffClient:
        return self._client or default_client()

    # --- storage ----------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # timeout: how long to wait for another connection's write lock (busy timeout)
        conn = sqlite3.connect(self.settings.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous = FULL")  # a stored handoff survives a power cut
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; ``BEGIN IMMEDIATE`` takes the file's write lock up front."""
        with closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def lookup(self, conversation_id: str) -> OutboxEntry | None:
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT * FROM outbox WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
        return OutboxEntry.from_row(row) if row else None

    def entries(self, state: str | None = None) -> list[OutboxEntry]:
        """All rows (or those in ``state``), oldest first: for operators and tests."""
        query = "SELECT * FROM outbox"
        params: tuple[str, ...] = ()
        if state is not None:
            query += " WHERE state = ?"
            params = (state,)
        with closing(self._connect()) as conn:
            rows = conn.execute(query + " ORDER BY created_at", params).fetchall()
        return [OutboxEntry.from_row(row) for row in rows]

    # --- submitting and delivering ----------------------------------------------------------

    def submit(self, conversation_id: str, payload: dict[str, Any]) -> OutboxEntry:
        """Store the handoff, then try to deliver it now (bounded by the client's timeout).

        Returns the entry: ``delivered`` with the ticket, ``pending``/``sending`` (the worker
        will deliver it) or ``failed`` (rejected by the service; logged). A conversation that
        already has a ticket gets it back without a new request, as the service would answer.
        """
        if payload.get("conversation_id") != conversation_id:
            raise ValueError(
                f"payload conversation_id {payload.get('conversation_id')!r} differs from "
                f"{conversation_id!r}"
            )
        body = json.dumps(payload, ensure_ascii=False, default=str)
        now = time.time()
        claim = uuid.uuid4().hex
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT * FROM outbox WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
            if row is not None and row["state"] == DELIVERED:
                return OutboxEntry.from_row(row)
            if row is not None and row["state"] == SENDING and row["claimed_until"] > now:
                # A worker is sending it right now: keep the newest payload for a retry.
                conn.execute(
                    "UPDATE outbox SET payload = ?, updated_at = ? WHERE conversation_id = ?",
                    (body, now, conversation_id),
                )
                return OutboxEntry.from_row(row)
            conn.execute(
                """
                INSERT INTO outbox (conversation_id, payload, state, attempts, next_attempt_at,
                                    claimed_by, claimed_until, created_at, updated_at)
                VALUES (?, ?, 'sending', 0, ?, ?, ?, ?, ?)
                ON CONFLICT (conversation_id) DO UPDATE SET
                    payload = excluded.payload, state = 'sending',
                    claimed_by = excluded.claimed_by, claimed_until = excluded.claimed_until,
                    updated_at = excluded.updated_at
                """,
                (conversation_id, body, now, claim, now + self.settings.lease, now, now),
            )
        # Send exactly what was stored (what a retry would send), e.g. datetimes as strings.
        return self._deliver(conversation_id, json.loads(body), claim)

    async def asubmit(self, conversation_id: str, payload: dict[str, Any]) -> OutboxEntry:
        """:meth:`submit` off the event loop (for ``async def run`` actions)."""
        return await asyncio.to_thread(self.submit, conversation_id, payload)

    def _deliver(self, conversation_id: str, payload: dict[str, Any], claim: str) -> OutboxEntry:
        try:
            result = self.client.create_handoff(payload)
        except HandoffRejected as exc:
            logger.error(
                "HANDOFF REJECTED, NOT RETRIED: conversation %s: %s. The row stays in the "
                "outbox (%s) as 'failed'; fix the cause, then retry_failed().",
                conversation_id,
                exc,
                self.settings.path,
            )
            self._release(conversation_id, claim, FAILED, str(exc))
        except HandoffUnavailable as exc:
            logger.warning("handoff %s kept in the outbox: %s", conversation_id, exc)
            self._release(conversation_id, claim, PENDING, str(exc))
        except Exception as exc:  # an unexpected answer: keep the row and retry with backoff
            logger.exception("handoff %s: unexpected error, will retry", conversation_id)
            self._release(conversation_id, claim, PENDING, f"{type(exc).__name__}: {exc}")
        else:
            self._mark_delivered(conversation_id, result)
        entry = self.lookup(conversation_id)
        assert entry is not None  # rows are never deleted
        return entry

    def _mark_delivered(self, conversation_id: str, result: HandoffResult) -> None:
        """Unconditional: whoever sent it, the conversation's ticket is this one."""
        now = time.time()
        with self._transaction() as conn:
            conn.execute(
                """
                UPDATE outbox SET state = 'delivered', attempts = attempts + 1,
                    ticket_number = ?, queue = ?, due_at = ?, ticket_status = ?,
                    last_error = NULL, claimed_by = NULL, claimed_until = NULL,
                    delivered_at = ?, updated_at = ?
                WHERE conversation_id = ?
                """,
                (
                    result.number,
                    result.queue,
                    result.due_at.isoformat(),
                    result.status,
                    now,
                    now,
                    conversation_id,
                ),
            )
        logger.info("handoff %s delivered: ticket %s", conversation_id, result.number)

    def _release(self, conversation_id: str, claim: str, state: str, error: str) -> None:
        """Give a claimed row back as pending (with backoff) or failed; no-op if the claim
        was lost (lease expired and another worker took the row over)."""
        now = time.time()
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT attempts FROM outbox WHERE conversation_id = ? AND claimed_by = ? "
                "AND state = 'sending'",
                (conversation_id, claim),
            ).fetchone()
            if row is None:
                return
            attempts = row["attempts"] + 1
            conn.execute(
                """
                UPDATE outbox SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?,
                    claimed_by = NULL, claimed_until = NULL, updated_at = ?
                WHERE conversation_id = ?
                """,
                (
                    state,
                    attempts,
                    now + self.settings.backoff(attempts),
                    error[:2000],
                    now,
                    conversation_id,
                ),
            )

    def _claim_due(self) -> tuple[str, dict[str, Any], str] | None:
        """Atomically take the most overdue row (pending and due, or with an expired lease)."""
        now = time.time()
        claim = uuid.uuid4().hex
        with self._transaction() as conn:
            row = conn.execute(
                """
                SELECT conversation_id, payload, state FROM outbox
                WHERE (state = 'pending' AND next_attempt_at <= ?)
                   OR (state = 'sending' AND claimed_until < ?)
                ORDER BY next_attempt_at LIMIT 1
                """,
                (now, now),
            ).fetchone()
            if row is None:
                return None
            if row["state"] == SENDING:
                logger.warning(
                    "handoff %s: lease expired, sending again (harmless: the service is "
                    "idempotent on conversation_id)",
                    row["conversation_id"],
                )
            conn.execute(
                "UPDATE outbox SET state = 'sending', claimed_by = ?, claimed_until = ?, "
                "updated_at = ? WHERE conversation_id = ?",
                (claim, now + self.settings.lease, now, row["conversation_id"]),
            )
        return row["conversation_id"], json.loads(row["payload"]), claim

    def run_pending(self, stop: threading.Event | None = None) -> int:
        """Deliver the rows that are due, one after the other; returns how many were tried.

        A pass stops at the first temporary failure (the service is probably down, so the
        other rows wait for the next pass instead of each costing a timeout now) and when
        ``stop`` is set.
        """
        tried = 0
        while stop is None or not stop.is_set():
            claimed = self._claim_due()
            if claimed is None:
                break
            tried += 1
            if self._deliver(*claimed).pending:
                break
        return tried

    def retry_failed(self, conversation_id: str | None = None) -> int:
        """Put rejected rows (all, or one conversation's) back in the queue after a fix."""
        now = time.time()
        query = "UPDATE outbox SET state = 'pending', next_attempt_at = ?, updated_at = ? "
        query += "WHERE state = 'failed'"
        params: tuple[Any, ...] = (now, now)
        if conversation_id is not None:
            query += " AND conversation_id = ?"
            params += (conversation_id,)
        with self._transaction() as conn:
            return conn.execute(query, params).rowcount

    # --- background worker ------------------------------------------------------------------

    def start_worker(self) -> threading.Thread:
        """Start the retry thread (daemon) unless it runs already. Safe to call many times."""
        with self._lock:
            if self._worker is not None and self._worker.is_alive():
                return self._worker
            self._stop.clear()
            self._worker = threading.Thread(
                target=self._work, name=f"handoff-outbox-{self.settings.path.name}", daemon=True
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
                logger.exception("handoff outbox worker: pass failed")
            self._stop.wait(self.settings.poll)


_default: Outbox | None = None
_default_lock = threading.Lock()


def default_outbox() -> Outbox:
    """The process-wide outbox configured from the environment."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Outbox()
        return _default


def submit(conversation_id: str, payload: dict[str, Any]) -> OutboxEntry:
    return default_outbox().submit(conversation_id, payload)


async def asubmit(conversation_id: str, payload: dict[str, Any]) -> OutboxEntry:
    return await default_outbox().asubmit(conversation_id, payload)


def lookup(conversation_id: str) -> OutboxEntry | None:
    return default_outbox().lookup(conversation_id)


def start_worker() -> threading.Thread:
    return default_outbox().start_worker()


def retry_failed(conversation_id: str | None = None) -> int:
    return default_outbox().retry_failed(conversation_id)
