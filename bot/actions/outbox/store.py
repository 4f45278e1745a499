"""The outbox's SQLite table: one row per message for the handoff service, and every change
of a row's state.

Rows have a *kind* (:data:`HANDOFF`: ``POST /v1/handoffs``; :data:`UNANSWERED`: ``POST
/v1/unanswered``) and a *key*, unique per kind: the conversation id for a handoff (one ticket
per conversation), the conversation, reason and a hash of the text for an unanswered question
(the service's own idempotency key). ``id`` is the row number operators use in the CLI.

States: ``pending`` (to send at ``next_attempt_at``), ``sending`` (claimed by a sender until
``claimed_until``), ``delivered`` (handoff rows keep the ticket, their body - transcript and
contact details - purged; delivered unanswered rows are deleted, nothing refers to them) and
``failed`` (the service rejected the payload; kept with the error for an operator, see
``python -m actions.outbox``).

Concurrency: one file (WAL mode, ``synchronous=FULL``) may be shared by several threads and
action-server processes. Every connection is short-lived and every state change is one
``BEGIN IMMEDIATE`` transaction. A sender *claims* a row by setting ``state='sending'`` with a
random claim id and a lease in such a transaction, so two senders never send the same row at the
same time; a row is taken over only after its lease expired (its sender died or hung).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actions.handoff_client import HandoffResult

logger = logging.getLogger(__name__)

HANDOFF = "handoff"
UNANSWERED = "unanswered"
KINDS = (HANDOFF, UNANSWERED)

PENDING = "pending"
SENDING = "sending"
DELIVERED = "delivered"
FAILED = "failed"
STATES = (PENDING, SENDING, DELIVERED, FAILED)

MAX_ERROR_CHARS = 2000

# The body of a delivered row: the transcript and contact details are the service's now; the
# row keeps only what idempotency and `outbox list` need (kind, key, conversation, ticket).
PURGED = "{}"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox_rows (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL CHECK (kind IN ('handoff', 'unanswered')),
    key             TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
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
    delivered_at    REAL,
    UNIQUE (kind, key)
);
CREATE INDEX IF NOT EXISTS outbox_rows_due ON outbox_rows (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS outbox_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL UNIQUE,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    claimed_until   REAL,
    last_error      TEXT,
    created_at      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_events_due ON outbox_events (next_attempt_at);
"""

# The table of earlier versions (handoffs only, keyed by conversation): its rows are moved over.
_MIGRATE_HANDOFFS_ONLY_TABLE = """
INSERT OR IGNORE INTO outbox_rows (kind, key, conversation_id, payload, state, attempts,
    next_attempt_at, claimed_by, claimed_until, last_error, ticket_number, queue, due_at,
    ticket_status, created_at, updated_at, delivered_at)
SELECT 'handoff', conversation_id, conversation_id, payload, state, attempts, next_attempt_at,
    claimed_by, claimed_until, last_error, ticket_number, queue, due_at, ticket_status,
    created_at, updated_at, delivered_at
FROM outbox ORDER BY created_at;
DROP TABLE outbox;
"""


@dataclass(frozen=True)
class OutboxEntry:
    """One row as the outbox knows it."""

    id: int
    kind: str
    key: str
    conversation_id: str
    state: str  # pending | sending | delivered | failed
    attempts: int
    ticket: HandoffResult | None  # handoff rows, once delivered
    last_error: str | None
    payload: dict[str, Any] = field(repr=False)
    created_at: float = field(compare=False)
    updated_at: float = field(compare=False)

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

    @property
    def rejected(self) -> bool:
        """Refused by the service: kept for an operator, never retried by the worker."""
        return self.state == FAILED

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
        return cls(
            id=row["id"],
            kind=row["kind"],
            key=row["key"],
            conversation_id=row["conversation_id"],
            state=row["state"],
            attempts=row["attempts"],
            ticket=ticket,
            last_error=row["last_error"],
            payload=json.loads(row["payload"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@dataclass(frozen=True)
class Claim:
    """A row taken for sending: send ``payload``, then report with ``token``."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    token: str


class OutboxStore:
    """The table on one SQLite file. Thread-safe; several instances/processes may share it."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(_SCHEMA)
        with self._transaction() as conn:
            old = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox'"
            ).fetchone()
            if old is not None:
                for statement in _MIGRATE_HANDOFFS_ONLY_TABLE.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                logger.info("outbox %s: moved the rows of the old 'outbox' table", path)
            # Rows delivered before bodies were purged on delivery: drop their personal data.
            conn.execute(
                f"UPDATE outbox_rows SET payload = '{PURGED}' "
                f"WHERE state = 'delivered' AND payload != '{PURGED}'"
            )

    def _connect(self) -> sqlite3.Connection:
        # timeout: how long to wait for another connection's write lock (busy timeout)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
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

    # --- reading ----------------------------------------------------------------------------

    def get(self, kind: str, key: str) -> OutboxEntry | None:
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT * FROM outbox_rows WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        return OutboxEntry.from_row(row) if row else None

    def get_by_id(self, row_id: int) -> OutboxEntry | None:
        with closing(self._connect()) as conn:
            row = conn.execute("SELECT * FROM outbox_rows WHERE id = ?", (row_id,)).fetchone()
        return OutboxEntry.from_row(row) if row else None

    def entries(self, kind: str | None = None, state: str | None = None) -> list[OutboxEntry]:
        """All rows (or those of ``kind`` / in ``state``), oldest first."""
        conditions, params = [], []
        for column, value in (("kind", kind), ("state", state)):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        with closing(self._connect()) as conn:
            rows = conn.execute(
                f"SELECT * FROM outbox_rows{where} ORDER BY created_at, id", params
            ).fetchall()
        return [OutboxEntry.from_row(row) for row in rows]

    # --- writing ----------------------------------------------------------------------------

    def put_claimed(
        self, kind: str, key: str, conversation_id: str, body: str, lease: float
    ) -> Claim | OutboxEntry:
        """Store ``body`` as the row of ``(kind, key)`` claimed for sending right now.

        Returns the :class:`Claim`, or the row as it is when it must not be sent now: already
        delivered (the ticket exists), or being sent by someone else (its payload is replaced,
        so a retry sends the newest one). A failed or pending row gets the new payload.
        """
        now = time.time()
        token = uuid.uuid4().hex
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT * FROM outbox_rows WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
            if row is not None and row["state"] == DELIVERED:
                return OutboxEntry.from_row(row)
            if row is not None and row["state"] == SENDING and row["claimed_until"] > now:
                conn.execute(
                    "UPDATE outbox_rows SET payload = ?, updated_at = ? WHERE id = ?",
                    (body, now, row["id"]),
                )
                return OutboxEntry.from_row(row)
            row_id = conn.execute(
                """
                INSERT INTO outbox_rows (kind, key, conversation_id, payload, state, attempts,
                    next_attempt_at, claimed_by, claimed_until, created_at, updated_at)
                VALUES (?, ?, ?, ?, 'sending', 0, ?, ?, ?, ?, ?)
                ON CONFLICT (kind, key) DO UPDATE SET
                    payload = excluded.payload, state = 'sending',
                    claimed_by = excluded.claimed_by, claimed_until = excluded.claimed_until,
                    updated_at = excluded.updated_at
                RETURNING id
                """,
                (kind, key, conversation_id, body, now, token, now + lease, now, now),
            ).fetchone()["id"]
        return Claim(row_id, kind, key, json.loads(body), token)

    def put_pending(self, kind: str, key: str, conversation_id: str, body: str) -> bool:
        """Store ``body`` for the worker to send; False when ``(kind, key)`` is stored already."""
        now = time.time()
        with self._transaction() as conn:
            cursor = conn.execute(
                """
                INSERT INTO outbox_rows (kind, key, conversation_id, payload, state,
                    next_attempt_at, created_at, updated_at)
                VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)
                ON CONFLICT (kind, key) DO NOTHING
                """,
                (kind, key, conversation_id, body, now, now, now),
            )
            return cursor.rowcount == 1

    def claim_due(self, lease: float) -> Claim | None:
        """Atomically take the most overdue row (pending and due, or with an expired lease)."""
        now = time.time()
        token = uuid.uuid4().hex
        with self._transaction() as conn:
            row = conn.execute(
                """
                SELECT id, kind, key, payload, state FROM outbox_rows
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
                    "outbox row %s (%s %s): lease expired, sending again (harmless: the "
                    "service is idempotent on its key)",
                    row["id"],
                    row["kind"],
                    row["key"],
                )
            conn.execute(
                "UPDATE outbox_rows SET state = 'sending', claimed_by = ?, claimed_until = ?, "
                "updated_at = ? WHERE id = ?",
                (token, now + lease, now, row["id"]),
            )
        return Claim(row["id"], row["kind"], row["key"], json.loads(row["payload"]), token)

    def mark_delivered(self, claim: Claim, ticket: HandoffResult | None) -> None:
        """Unconditional (whoever sent it, this is the answer). A delivered unanswered
        question is deleted; a delivered handoff keeps its ticket for the conversation."""
        now = time.time()
        with self._transaction() as conn:
            if ticket is None:
                conn.execute("DELETE FROM outbox_rows WHERE id = ?", (claim.id,))
                return
            conn.execute(
                """
                UPDATE outbox_rows SET state = 'delivered', attempts = attempts + 1,
                    ticket_number = ?, queue = ?, due_at = ?, ticket_status = ?,
                    last_error = NULL, claimed_by = NULL, claimed_until = NULL,
                    payload = '{}', delivered_at = ?, updated_at = ?
                WHERE id = ?
                """,
                (
                    ticket.number,
                    ticket.queue,
                    ticket.due_at.isoformat(),
                    ticket.status,
                    now,
                    now,
                    claim.id,
                ),
            )

    def release(self, claim: Claim, state: str, error: str, delay: Callable[[int], float]) -> None:
        """Give a claimed row back as ``pending`` (due after ``delay(attempts)`` seconds) or
        ``failed``; nothing happens if the claim was lost (its lease expired and another
        sender took the row over)."""
        now = time.time()
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT attempts FROM outbox_rows WHERE id = ? AND claimed_by = ? "
                "AND state = 'sending'",
                (claim.id, claim.token),
            ).fetchone()
            if row is None:
                return
            attempts = row["attempts"] + 1
            conn.execute(
                """
                UPDATE outbox_rows SET state = ?, attempts = ?, next_attempt_at = ?,
                    last_error = ?, claimed_by = NULL, claimed_until = NULL, updated_at = ?
                WHERE id = ?
                """,
                (state, attempts, now + delay(attempts), error[:MAX_ERROR_CHARS], now, claim.id),
            )

    def replace_payload(self, claim: Claim, body: str) -> None:
        """Store a rebuilt body for a claimed row (e.g. shrunk after a 413)."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE outbox_rows SET payload = ?, updated_at = ? "
                "WHERE id = ? AND claimed_by = ?",
                (body, time.time(), claim.id, claim.token),
            )

    def retry_failed(self, row_id: int | None = None) -> int:
        """Put failed rows (all, or row ``row_id``) back in the queue, due now; returns how
        many. The worker of a running action server sends them on its next pass."""
        now = time.time()
        query = "UPDATE outbox_rows SET state = 'pending', next_attempt_at = ?, updated_at = ? "
        query += "WHERE state = 'failed'"
        params: tuple[Any, ...] = (now, now)
        if row_id is not None:
            query += " AND id = ?"
            params += (row_id,)
        with self._transaction() as conn:
            return conn.execute(query, params).rowcount

    def erase(self, email: str) -> int:
        """Delete the customer's undelivered handoffs (their payload has ``email``, any letter
        case) and the unanswered questions of those conversations; returns how many rows.
        Delivered handoffs keep only the ticket number (their payload is purged on delivery),
        which the handoff service's own erasure covers."""
        with self._transaction() as conn:
            conversations = [
                row["conversation_id"]
                for row in conn.execute(
                    "SELECT conversation_id FROM outbox_rows WHERE kind = ? AND state != ? "
                    "AND lower(json_extract(payload, '$.customer.email')) = lower(?)",
                    (HANDOFF, DELIVERED, email.strip()),
                )
            ]
            erased = 0
            for conversation in conversations:
                erased += conn.execute(
                    "DELETE FROM outbox_rows "
                    "WHERE conversation_id = ? AND (state != ? OR kind = ?)",
                    (conversation, DELIVERED, UNANSWERED),
                ).rowcount
            return erased

    # --- conversation events (sent in batches, deleted once delivered) ----------------------

    def put_event(self, event_id: str, body: str) -> None:
        """Store one conversation event for the worker to send (a repeated id is ignored)."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO outbox_events (event_id, payload, next_attempt_at, "
                "created_at) VALUES (?, ?, 0, ?)",
                (event_id, body, time.time()),
            )

    def claim_events(self, limit: int, lease: float) -> list[tuple[int, dict[str, Any]]]:
        """Take up to ``limit`` due events, oldest first, for ``lease`` seconds: (id, event)."""
        now = time.time()
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT id, payload FROM outbox_events WHERE next_attempt_at <= ? "
                "AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id LIMIT ?",
                (now, now, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE outbox_events SET claimed_until = ? WHERE id = ?",
                [(now + lease, row["id"]) for row in rows],
            )
        return [(row["id"], json.loads(row["payload"])) for row in rows]

    def events_delivered(self, ids: list[int]) -> None:
        with self._transaction() as conn:
            conn.executemany("DELETE FROM outbox_events WHERE id = ?", [(i,) for i in ids])

    def events_failed(self, ids: list[int], error: str, delay: Callable[[int], float]) -> None:
        """Not delivered: each event is due again after its backoff."""
        now = time.time()
        with self._transaction() as conn:
            for row_id in ids:
                attempts = conn.execute(
                    "UPDATE outbox_events SET attempts = attempts + 1, claimed_until = NULL, "
                    "last_error = ? WHERE id = ? RETURNING attempts",
                    (error[:MAX_ERROR_CHARS], row_id),
                ).fetchone()["attempts"]
                conn.execute(
                    "UPDATE outbox_events SET next_attempt_at = ? WHERE id = ?",
                    (now + delay(attempts), row_id),
                )

    def pending_events(self) -> int:
        """Events waiting to be delivered."""
        with closing(self._connect()) as conn:
            return int(conn.execute("SELECT count(*) FROM outbox_events").fetchone()[0])
