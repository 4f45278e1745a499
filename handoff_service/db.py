"""Engine and session factory for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


class _SerialisedConnection(sqlite3.Connection):
    """A SQLite connection whose transactions take a process-wide lock until they end.

    SQLite allows one writer at a time; a writer that finds the database locked sleeps in
    SQLite's busy handler with growing back-off (up to 100 ms per nap), which made tail
    latency explode under 20 concurrent requests. Queueing on a Python lock instead wakes the
    next transaction the moment the previous one commits. (Other processes, e.g. the CLI,
    are still handled by the busy timeout.)
    """

    lock: threading.Lock  # set per engine in make_engine
    holds_lock = False

    def begin_immediate(self) -> None:
        self.lock.acquire()
        self.holds_lock = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self.holds_lock:
            self.holds_lock = False
            self.lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()


def make_engine(url: str) -> Engine:
    """Create an engine; for a SQLite file, create its folder and serialise transactions.

    SQLite transactions start with ``BEGIN IMMEDIATE`` (after taking the in-process lock), so
    a read never has to be upgraded to a write, which SQLite may refuse under concurrency.

    SQL parameters are hidden from exception messages and logs (``hide_parameters``): they
    hold customer data, and an ``OperationalError``'s text would otherwise carry them. On
    PostgreSQL, ``pool_pre_ping`` replaces connections that died with the server, so the
    service recovers by itself once the database is back.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(
            url, pool_size=20, max_overflow=10, pool_pre_ping=True, hide_parameters=True
        )

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # one lock per engine (i.e. per database), shared by all its connections
    connection_class = type(
        "SerialisedConnection", (_SerialisedConnection,), {"lock": threading.Lock()}
    )
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30, "factory": connection_class},
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        connection.connection.dbapi_connection.begin_immediate()

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
