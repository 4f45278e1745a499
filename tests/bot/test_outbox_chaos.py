"""Chaos: the handoff service is killed (SIGKILL, no clean shutdown) in the middle of a burst
of handoffs from the bot's outbox, then started again on the same port and database.

Some requests die in flight (the service may have committed the ticket without answering),
others find the port closed; the outbox keeps them and its worker delivers them once the
service is back. Every conversation must end with exactly one ticket, none lost.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.bot.test_outbox import all_delivered, make_outbox, new_ids, payload
from tests.support import HandoffServiceProcess, wait_until

CONVERSATIONS = 50
SENDERS = 5  # the action server serves several conversations at once
KILL_AFTER = 10  # delivered handoffs before the kill
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The service's database: its own SQLite file, or a fresh database on the PostgreSQL
    server of the tests."""
    if request.param == "sqlite":
        yield {}
        return
    name = f"nivel0_chaos_{secrets.token_hex(4)}"
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield {"DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"}
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_sigkill_mid_burst_then_restart_one_ticket_per_conversation(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    service = HandoffServiceProcess(tmp_path, env=database_env)
    ids = new_ids(CONVERSATIONS)
    outbox = make_outbox(tmp_path / "outbox.db", service.url, service.bot_token, timeout=5.0)
    errors: list[BaseException] = []

    def send(share: list[str]) -> None:
        try:
            for conversation in share:
                outbox.submit_handoff(payload(conversation))
        except BaseException as exc:  # a submit must never raise: report it to the test
            errors.append(exc)

    try:
        service.start()
        outbox.start_worker()
        senders = [
            threading.Thread(target=send, args=(ids[i::SENDERS],), daemon=True)
            for i in range(SENDERS)
        ]
        for sender in senders:
            sender.start()

        def delivered() -> int:
            return sum(1 for c in ids if (e := outbox.lookup(c)) is not None and e.delivered)

        wait_until(lambda: delivered() >= KILL_AFTER, f"{KILL_AFTER} handoffs to be delivered")
        assert service.process is not None
        service.process.kill()  # SIGKILL: no shutdown, in-flight requests die with it
        service.process.wait(timeout=30)
        delivered_at_kill = delivered()
        for sender in senders:
            sender.join(timeout=300)
        assert not any(s.is_alive() for s in senders), "a submit hung with the service down"
        assert errors == []
        assert delivered_at_kill < CONVERSATIONS, "the burst was over before the kill"
        assert len(outbox.entries()) == CONVERSATIONS  # every handoff kept while it was down

        service.start()
        wait_until(lambda: all_delivered(outbox, ids), "the worker to deliver every handoff")
        counts = service.tickets_per_conversation()
    finally:
        outbox.stop_worker()
        service.stop()
    assert {c: counts[c] for c in ids} == dict.fromkeys(ids, 1)
    assert len(counts) == CONVERSATIONS
    numbers = [outbox.lookup(c).number for c in ids]  # type: ignore[union-attr]
    assert len(set(numbers)) == CONVERSATIONS and None not in numbers
