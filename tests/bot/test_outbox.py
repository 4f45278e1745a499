"""Fault tests of the handoff outbox against the REAL handoff service (a subprocess).

The service is stopped and started again on the same port and SQLite database; the only fake
is a TCP socket that accepts connections and never answers (the "slow service" case). Waits are
bounded polls for a condition, never timing assertions.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from actions.handoff_client import HandoffClient, HandoffConfig
from actions.handoff_payload import build_handoff_payload, conversation_id
from actions.outbox import (
    DELIVERED,
    FAILED,
    HANDOFF,
    UNANSWERED,
    Outbox,
    OutboxSettings,
    OutboxStore,
    unanswered_key,
)
from actions.settings import ActionSettings
from pydantic import ValidationError

from handoff_service.schemas import TICKET_NUMBER_PATTERN
from tests.bot.test_handoff_payload import ARTICLES, conversation, tracker
from tests.support import WAIT_SECONDS, HandoffServiceProcess, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"


@pytest.fixture
def outbox_path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.db"


FAST = {"backoff_base": 0.05, "backoff_max": 0.5, "poll": 0.05, "lease": 60.0}


def make_outbox(
    path: Path, url: str, token: str | None, timeout: float = 10.0, **settings: float
) -> Outbox:
    client = HandoffClient(HandoffConfig(url=url, token=token, timeout=timeout))
    return Outbox(OutboxSettings(path=path, **{**FAST, **settings}), client)


def payload(conversation_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "conversation_id": conversation_id,
        "customer": {"name": "Lucía Pérez", "email": "lucia@example.com"},
        "language": "es",
        "channel": "web",
        "transcript": [
            {"role": "customer", "text": "Mi reembolso no llega"},
            {"role": "bot", "text": "Los reembolsos tardan de 5 a 10 días laborables."},
            {"role": "customer", "text": "Ya han pasado 15 días, quiero hablar con una persona"},
        ],
        "intent_ranking": [{"name": "request_human", "confidence": 0.93}],
        "kb_articles": [{"article_id": "refund-timeline-es", "feedback": "not_helpful"}],
        "reason": "customer_request",
    }
    body.update(overrides)
    return body


def new_ids(count: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"conv-{run}-{i:02d}" for i in range(count)]


def all_delivered(outbox: Outbox, ids: list[str]) -> bool:
    return all((e := outbox.lookup(c)) is not None and e.delivered for c in ids)


def test_delivered_at_once_when_the_service_is_up(
    service: HandoffServiceProcess, outbox_path: Path
) -> None:
    outbox = make_outbox(outbox_path, service.url, service.bot_token)
    [conversation] = new_ids(1)

    entry = outbox.submit_handoff(payload(conversation))

    assert entry.state == DELIVERED
    assert entry.number and re.match(TICKET_NUMBER_PATTERN, entry.number)
    assert outbox.lookup(conversation) == entry
    assert service.tickets_per_conversation()[conversation] == 1
    status = outbox.client.ticket_status(entry.number, "lucia@example.com")
    assert status is not None and status.number == entry.number and status.status == "new"
    assert outbox.client.ticket_status(entry.number, "someone@else.com") is None

    posts = service.handoff_posts()
    again = outbox.submit_handoff(payload(conversation))  # the same conversation again
    assert again.number == entry.number
    assert service.handoff_posts() == posts  # answered from the outbox, nothing sent


def test_payload_built_from_a_tracker_becomes_the_ticket(
    service: HandoffServiceProcess, outbox_path: Path
) -> None:
    chat = tracker(conversation(), sender=f"web-{uuid.uuid4().hex[:8]}", kb_articles=ARTICLES)
    key = conversation_id(chat)
    outbox = make_outbox(outbox_path, service.url, service.bot_token)

    entry = outbox.submit_handoff(build_handoff_payload(chat, "not_solved"))

    assert entry.delivered
    with service.api() as api:
        ticket = api.get(f"/v1/tickets/{entry.number}").json()
    assert ticket["conversation_id"] == key
    assert ticket["customer_email"] == "lucia@example.com"
    assert ticket["reason"] == "negative_feedback"
    assert [m["role"] for m in ticket["transcript"]] == ["customer", "bot", "bot", "customer",
                                                         "bot", "customer"]  # fmt: skip
    assert ticket["intent_ranking"][0]["name"] == "request_human"
    assert [a["feedback"] for a in ticket["kb_articles"]] == ["not_helpful", "none"]


def test_service_down_then_up_worker_delivers_exactly_once(
    service: HandoffServiceProcess, outbox_path: Path
) -> None:
    outbox = make_outbox(outbox_path, service.url, service.bot_token)
    [conversation] = new_ids(1)
    service.stop()

    entry = outbox.submit_handoff(payload(conversation))
    assert entry.pending and entry.number is None
    assert "unreachable" in (entry.last_error or "")

    service.start()
    outbox.start_worker()
    assert outbox.start_worker() is outbox.start_worker()  # idempotent
    try:
        delivered = wait_until(
            lambda: (e := outbox.lookup(conversation)) is not None and e.delivered and e,
            "the worker to deliver the stored handoff",
        )
    finally:
        outbox.stop_worker()
    assert service.tickets_per_conversation()[conversation] == 1
    with service.api() as api:
        ticket = api.get(f"/v1/tickets/{delivered.number}").json()
    assert ticket["conversation_id"] == conversation
    assert ticket["transcript"][-1]["text"].endswith("quiero hablar con una persona")


WORKER_SCRIPT = """
import sys, time
from actions.handoff_client import HandoffClient, HandoffConfig
from actions.outbox import Outbox, OutboxSettings
path, url, token = sys.argv[1:4]
outbox = Outbox(OutboxSettings(path=__import__("pathlib").Path(path), backoff_base=0.05,
                               backoff_max=0.5, poll=0.05),
                HandoffClient(HandoffConfig(url=url, token=token, timeout=10)))
outbox.start_worker()
deadline = time.monotonic() + 240
while outbox.entries(state="pending") or outbox.entries(state="sending"):
    if time.monotonic() > deadline:
        sys.exit("pending rows left")
    time.sleep(0.05)
outbox.stop_worker()
"""


def test_twenty_conversations_while_down_arrive_once_with_two_workers(
    service: HandoffServiceProcess, outbox_path: Path
) -> None:
    """Two workers (this process and another one) share the outbox file: every handoff arrives
    exactly once and no row is sent twice (the service counts POSTs and replays)."""
    ids = new_ids(20)
    outbox = make_outbox(outbox_path, service.url, service.bot_token)
    service.stop()
    entries = [outbox.submit_handoff(payload(c)) for c in ids]
    assert all(e.pending for e in entries)
    assert len(outbox.entries(HANDOFF, "pending")) == 20

    service.start()
    posts_before = service.handoff_posts()
    replays_before = service.metric("handoff_replays_total")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bot")]),
    }
    other = subprocess.Popen(
        [str(PYTHON), "-c", WORKER_SCRIPT, str(outbox_path), service.url, service.bot_token],
        cwd=ROOT,
        env=env,
    )
    outbox.start_worker()
    try:
        wait_until(lambda: all_delivered(outbox, ids), "both workers to deliver all 20 handoffs")
        assert other.wait(timeout=WAIT_SECONDS) == 0
    finally:
        outbox.stop_worker()
        if other.poll() is None:
            other.kill()

    counts = service.tickets_per_conversation()
    assert {c: counts[c] for c in ids} == dict.fromkeys(ids, 1)
    numbers = [outbox.lookup(c).number for c in ids]  # type: ignore[union-attr]
    assert len(set(numbers)) == 20
    assert service.handoff_posts() - posts_before == 20  # one POST per row: no double send
    assert service.metric("handoff_replays_total") == replays_before


def test_invalid_payload_never_enters_the_outbox(
    service: HandoffServiceProcess, outbox_path: Path
) -> None:
    outbox = make_outbox(outbox_path, service.url, service.bot_token)
    [conversation] = new_ids(1)
    posts = service.handoff_posts()
    no_contact = payload(conversation, customer={"name": "No Contact"})  # no e-mail, no phone
    with pytest.raises(ValidationError, match="e-mail or a phone"):
        outbox.submit_handoff(no_contact)
    with pytest.raises(ValidationError, match="reason"):
        outbox.submit_unanswered(question(conversation, reason="bored"))
    assert outbox.entries() == []
    assert service.handoff_posts() == posts


def cli(outbox_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m actions.outbox ...`` run from ``bot/``, as an operator runs it."""
    env = {**os.environ, "NIVEL0_OUTBOX_PATH": str(outbox_path)}
    return subprocess.run(
        [str(PYTHON), "-m", "actions.outbox", *args],
        cwd=ROOT / "bot",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_rejected_row_is_failed_listed_and_retried_from_the_cli(
    service: HandoffServiceProcess, outbox_path: Path
) -> None:
    """A row the service refuses (here: stored by a bot whose schema differs from the
    service's, written straight into the table) is marked failed and not retried until an
    operator asks for it with the CLI."""
    outbox = make_outbox(outbox_path, service.url, service.bot_token)
    [conversation] = new_ids(1)
    bad = payload(conversation, customer={"name": "No Contact"})  # 422 at the service
    assert outbox.store.put_pending(HANDOFF, conversation, conversation, json.dumps(bad))
    assert outbox.run_pending() == 1

    entry = outbox.lookup(conversation)
    assert entry is not None and entry.state == FAILED and entry.attempts == 1
    assert "422" in (entry.last_error or "")
    posts = service.handoff_posts()
    assert outbox.run_pending() == 0  # the worker's pass does not pick failed rows
    assert outbox.lookup(conversation) == entry
    assert service.handoff_posts() == posts
    assert conversation not in service.tickets_per_conversation()

    listing = cli(outbox_path, "list", "--failed")
    assert listing.returncode == 0, listing.stderr
    [header, row] = listing.stdout.splitlines()
    assert header.split("\t")[:3] == ["id", "kind", "state"]
    assert row.split("\t")[:6] == [str(entry.id), "handoff", "failed", "1", row.split("\t")[4],
                                    conversation]  # fmt: skip
    assert "422" in row

    retried = cli(outbox_path, "retry", str(entry.id))  # an operator asks for one more try
    assert retried.returncode == 0, retried.stderr
    assert cli(outbox_path, "retry", str(entry.id)).returncode == 1  # not failed any more
    assert outbox.run_pending() == 1
    again = outbox.lookup(conversation)
    assert again is not None and again.state == FAILED and again.attempts == 2
    assert cli(outbox_path, "retry", "--all-failed").stdout.startswith("1 failed rows")

    fixed = outbox.submit_handoff(payload(conversation))  # a corrected payload
    assert fixed.delivered
    assert service.tickets_per_conversation()[conversation] == 1
    assert cli(outbox_path, "list", "--failed").stdout.splitlines()[1:] == []


def question(conversation_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "conversation_id": conversation_id,
        "language": "es",
        "reason": "fallback",
        "text": "¿vendéis muebles de jardín en Lisboa?",
        "occurred_at": "2026-11-30T10:15:00+00:00",
    }
    body.update(overrides)
    return body


def unanswered(service: HandoffServiceProcess, conversation_ids: list[str]) -> list[dict]:
    with service.api() as api:
        response = api.get("/v1/unanswered", params={"limit": 1000})
    response.raise_for_status()
    return [r for r in response.json() if r["conversation_id"] in conversation_ids]


def test_unanswered_questions_of_two_action_servers_reach_the_one_service(
    service: HandoffServiceProcess, tmp_path: Path
) -> None:
    """Two replicas (an outbox file each) queue questions while the service is down; their
    workers deliver them to the one service, a question queued twice is stored once, and the
    delivered rows leave the outboxes."""
    first = make_outbox(tmp_path / "a.db", service.url, service.bot_token)
    second = make_outbox(tmp_path / "b.db", service.url, service.bot_token)
    ids = new_ids(2)
    service.stop()
    assert first.submit_unanswered(question(ids[0]))
    assert not first.submit_unanswered(question(ids[0]))  # the same question: one row
    assert second.submit_unanswered(question(ids[1], language="en", text="garden chairs?"))
    assert second.submit_unanswered(question(ids[0]))  # another replica saw it too
    assert len(first.entries(UNANSWERED)) == 1 and len(second.entries(UNANSWERED)) == 2
    assert first.run_pending() == 1 and first.entries(UNANSWERED)[0].pending

    service.start()
    for box in (first, second):
        wait_until(lambda box=box: box.run_pending() and not box.entries(UNANSWERED), "delivery")
    stored = unanswered(service, ids)
    assert sorted((r["conversation_id"], r["language"], r["text"]) for r in stored) == [
        (ids[0], "es", "¿vendéis muebles de jardín en Lisboa?"),
        (ids[1], "en", "garden chairs?"),
    ]
    assert unanswered_key(question(ids[0])) != unanswered_key(question(ids[0], reason="handoff"))


def test_slow_service_times_out_into_the_outbox(
    service: HandoffServiceProcess, outbox_path: Path
) -> None:
    [conversation] = new_ids(1)
    with socket.socket() as silent:  # accepts connections (kernel backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        slow_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        slow = make_outbox(outbox_path, slow_url, service.bot_token, timeout=0.5)
        entry = slow.submit_handoff(payload(conversation))
    assert entry.pending
    assert "timed out" in (entry.last_error or "")

    outbox = make_outbox(outbox_path, service.url, service.bot_token)
    wait_until(lambda: outbox.run_pending() and all_delivered(outbox, [conversation]), "retry")
    assert service.tickets_per_conversation()[conversation] == 1


def test_missing_or_refused_token_keeps_the_handoff(
    service: HandoffServiceProcess, outbox_path: Path
) -> None:
    """A token problem is fixed by an operator, not by changing the payload: keep retrying."""
    [conversation] = new_ids(1)
    entry = make_outbox(outbox_path, service.url, None).submit_handoff(payload(conversation))
    assert entry.pending
    assert "HANDOFF_SERVICE_TOKEN" in (entry.last_error or "")
    wrong = make_outbox(outbox_path, service.url, "not-a-token")
    entry = wrong.submit_handoff(payload(conversation))
    assert entry.pending and entry.attempts == 2
    assert "HTTP 401" in (entry.last_error or "")

    outbox = make_outbox(outbox_path, service.url, service.bot_token)
    wait_until(lambda: outbox.run_pending() and all_delivered(outbox, [conversation]), "retry")
    assert service.tickets_per_conversation()[conversation] == 1


CRASH_SCRIPT = """
import json, sys
from pathlib import Path
from actions.handoff_client import HandoffClient, HandoffConfig
from actions.outbox import Outbox, OutboxSettings
path, url, body = sys.argv[1:4]
payload = json.loads(body)
outbox = Outbox(OutboxSettings(path=Path(path), lease=1.0),
                HandoffClient(HandoffConfig(url=url, token="t", timeout=600)))
outbox.submit_handoff(payload)
"""


def test_process_killed_while_sending_loses_nothing(
    service: HandoffServiceProcess, outbox_path: Path
) -> None:
    """A process stores the handoff and dies (SIGKILL) while the request hangs: after the
    claim's lease runs out, another worker sends it."""
    [conversation] = new_ids(1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bot")])}
    outbox = make_outbox(outbox_path, service.url, service.bot_token)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        doomed = subprocess.Popen(
            [str(PYTHON), "-c", CRASH_SCRIPT, str(outbox_path),
             f"http://127.0.0.1:{silent.getsockname()[1]}", json.dumps(payload(conversation))],
            cwd=ROOT,
            env=env,
        )  # fmt: skip
        try:
            wait_until(
                lambda: (e := outbox.lookup(conversation)) is not None and e.state == "sending",
                "the other process to store and start sending",
            )
        finally:
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(timeout=30)
    wait_until(lambda: outbox.run_pending() and all_delivered(outbox, [conversation]),
             "the lease to expire and the row to be sent again")  # fmt: skip
    assert service.tickets_per_conversation()[conversation] == 1


def test_rows_of_the_handoffs_only_table_are_kept(outbox_path: Path) -> None:
    """An outbox file of the previous version (table ``outbox``, one row per conversation)."""
    with sqlite3.connect(outbox_path) as conn:
        conn.execute(
            "CREATE TABLE outbox (conversation_id TEXT PRIMARY KEY, payload TEXT NOT NULL, "
            "state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL "
            "NOT NULL, claimed_by TEXT, claimed_until REAL, last_error TEXT, ticket_number TEXT, "
            "queue TEXT, due_at TEXT, ticket_status TEXT, created_at REAL NOT NULL, "
            "updated_at REAL NOT NULL, delivered_at REAL)"
        )
        conn.execute(
            "INSERT INTO outbox VALUES ('c-1', ?, 'pending', 2, 0, NULL, NULL, 'down', NULL, "
            "NULL, NULL, NULL, 1, 1, NULL)",
            (json.dumps(payload("c-1")),),
        )
    conn.close()
    store = OutboxStore(outbox_path)
    [entry] = store.entries()
    assert (entry.kind, entry.key, entry.state, entry.attempts) == (HANDOFF, "c-1", "pending", 2)
    assert entry.payload == payload("c-1")
    assert OutboxStore(outbox_path).entries() == [entry]  # opened again: nothing to move


def test_backoff_is_exponential_with_jitter_and_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIVEL0_OUTBOX_BACKOFF_BASE_SECONDS", "2")
    monkeypatch.setenv("NIVEL0_OUTBOX_BACKOFF_MAX_SECONDS", "30")
    settings = OutboxSettings.from_settings(ActionSettings())
    for attempt in range(1, 40):
        ceiling = min(30.0, 2.0 * 2 ** (attempt - 1))
        delays = {settings.backoff(attempt) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def stored_payloads(path: Path) -> dict[str, str]:
    """key -> the payload column as it is in the SQLite file."""
    with closing(sqlite3.connect(path)) as conn:
        return dict(conn.execute("SELECT key, payload FROM outbox_rows"))


def test_delivered_row_keeps_no_transcript_or_email(
    service: HandoffServiceProcess, outbox_path: Path
) -> None:
    outbox = make_outbox(outbox_path, service.url, service.bot_token)
    [conversation] = new_ids(1)

    entry = outbox.submit_handoff(payload(conversation))

    assert entry.delivered and entry.number
    assert stored_payloads(outbox_path)[conversation] == "{}"
    listing = cli(outbox_path, "list")
    assert listing.returncode == 0, listing.stderr
    assert conversation in listing.stdout and entry.number in listing.stdout
    again = outbox.submit_handoff(payload(conversation))  # idempotency still holds
    assert again.number == entry.number


def test_rows_delivered_before_the_purge_are_purged_on_open(outbox_path: Path) -> None:
    OutboxStore(outbox_path)
    with closing(sqlite3.connect(outbox_path)) as conn, conn:
        conn.execute(
            "INSERT INTO outbox_rows (kind, key, conversation_id, payload, state, next_attempt_at,"
            " ticket_number, queue, due_at, ticket_status, created_at, updated_at) VALUES "
            "('handoff', 'old', 'old', ?, 'delivered', 0, 'T-1', 'tier1', "
            "'2026-01-01T00:00:00+00:00', 'new', 0, 0), "
            "('handoff', 'waiting', 'waiting', ?, 'pending', 0, NULL, NULL, NULL, NULL, 0, 0)",
            (json.dumps(payload("old")), json.dumps(payload("waiting"))),
        )

    store = OutboxStore(outbox_path)

    payloads = stored_payloads(outbox_path)
    assert payloads["old"] == "{}"
    assert "lucia@example.com" in payloads["waiting"]  # not delivered yet: kept
    old = store.get(HANDOFF, "old")
    assert old is not None and old.delivered and old.number == "T-1"


@pytest.fixture(scope="module")
def small_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HandoffServiceProcess]:
    """A real service whose body limit (20 kB) is far below the bot's (the 1 MB default)."""
    workdir = tmp_path_factory.mktemp("small-service")
    with HandoffServiceProcess(workdir, env={"HANDOFF_MAX_BODY_BYTES": "20000"}) as service:
        yield service


def test_413_rebuilds_a_smaller_handoff_and_delivers_it(
    small_service: HandoffServiceProcess, outbox_path: Path
) -> None:
    outbox = make_outbox(outbox_path, small_service.url, small_service.bot_token)
    [conversation] = new_ids(1)
    turns = [
        {"role": "customer" if i % 2 == 0 else "bot", "text": f"turn {i:02d} " + "z" * 990}
        for i in range(60)
    ]  # about 60 kB: three times the service's limit
    turns[-1] = {"role": "customer", "text": "quiero hablar con una persona"}

    entry = outbox.submit_handoff(payload(conversation, transcript=turns))

    assert entry.delivered, entry.last_error
    with small_service.api() as api:
        ticket = api.get(f"/v1/tickets/{entry.number}").json()
    texts = [m["text"] for m in ticket["transcript"]]
    assert re.match(r"^\[\d+ earlier messages left out", texts[0])
    assert texts[-1] == "quiero hablar con una persona"
    assert texts[-2].startswith("turn 58 ")


def test_413_that_cannot_shrink_is_a_visible_failure(
    small_service: HandoffServiceProcess, outbox_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A body too large without any transcript (a huge summary) fails loudly, never silently."""
    outbox = make_outbox(outbox_path, small_service.url, small_service.bot_token)
    [conversation] = new_ids(1)
    big = [{"role": "customer", "text": "w" * 3999} for _ in range(6)]
    names = [{"article_id": f"a-{i}-" + "k" * 150, "feedback": "none"} for i in range(10)]
    body = payload(conversation, transcript=big[:1], summary="s" * 1999, kb_articles=names)
    with closing(sqlite3.connect(outbox_path)) as conn, conn:  # a body no cut can save
        OutboxStore(outbox_path)
        body["customer"]["name"] = "n" * 20000
        conn.execute(
            "INSERT INTO outbox_rows (kind, key, conversation_id, payload, state, "
            "next_attempt_at, created_at, updated_at) "
            "VALUES ('handoff', ?, ?, ?, 'pending', 0, 0, 0)",
            (conversation, conversation, json.dumps(body)),
        )

    with caplog.at_level(logging.ERROR):
        assert outbox.run_pending() == 1

    entry = outbox.lookup(conversation)
    assert entry is not None and entry.state == FAILED and "413" in (entry.last_error or "")
    assert any("REJECTED" in r.message and r.levelno == logging.ERROR for r in caplog.records)
    listing = cli(outbox_path, "list", "--failed")
    assert conversation in listing.stdout and "413" in listing.stdout


def test_erase_removes_one_customers_undelivered_rows_only(tmp_path: Path) -> None:
    """The bot's part of an erasure: with the service down, one customer's handoff and their
    conversation's unanswered question are deleted (any letter case of the address); another
    customer's rows stay."""
    outbox_path = tmp_path / "outbox.db"
    outbox = make_outbox(outbox_path, f"http://127.0.0.1:{free_port()}", "token", timeout=1)
    mine, other = new_ids(2)
    assert outbox.submit_handoff(payload(mine)).pending
    assert outbox.submit_unanswered(question(mine))
    theirs = payload(other, customer={"name": "Otro", "email": "otro@example.com"})
    assert outbox.submit_handoff(theirs).pending
    assert outbox.submit_unanswered(question(other))

    erased = cli(outbox_path, "erase", "--email", "Lucia@Example.com")

    assert erased.returncode == 0, erased.stderr
    assert erased.stdout.startswith("2 rows erased")
    assert {e.conversation_id for e in outbox.entries()} == {other}
    assert "lucia@example.com" not in json.dumps(stored_payloads(outbox_path))
