"""Fault tests of the handoff outbox against the REAL handoff service (a subprocess).

The service is stopped and started again on the same port and SQLite database; the only fake
is a TCP socket that accepts connections and never answers (the "slow service" case). Waits are
bounded polls for a condition, never timing assertions.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from actions.handoff_client import HandoffClient, HandoffConfig
from actions.handoff_payload import build_handoff_payload, conversation_id
from actions.outbox import DELIVERED, FAILED, Outbox, OutboxSettings

from handoff_service.schemas import TICKET_NUMBER_PATTERN
from tests.bot.test_handoff_payload import ARTICLES, conversation, tracker
from tests.support import WAIT_SECONDS, HandoffServiceProcess, wait_until

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

    entry = outbox.submit(conversation, payload(conversation))

    assert entry.state == DELIVERED
    assert entry.number and re.match(TICKET_NUMBER_PATTERN, entry.number)
    assert outbox.lookup(conversation) == entry
    assert service.tickets_per_conversation()[conversation] == 1
    status = outbox.client.ticket_status(entry.number, "lucia@example.com")
    assert status is not None and status.number == entry.number and status.status == "new"
    assert outbox.client.ticket_status(entry.number, "someone@else.com") is None

    posts = service.handoff_posts()
    again = outbox.submit(conversation, payload(conversation))  # the same conversation again
    assert again.number == entry.number
    assert service.handoff_posts() == posts  # answered from the outbox, nothing sent


def test_payload_built_from_a_tracker_becomes_the_ticket(
    service: HandoffServiceProcess, outbox_path: Path
) -> None:
    chat = tracker(conversation(), sender=f"web-{uuid.uuid4().hex[:8]}", kb_articles=ARTICLES)
    key = conversation_id(chat)
    outbox = make_outbox(outbox_path, service.url, service.bot_token)

    entry = outbox.submit(key, build_handoff_payload(chat, "not_solved"))

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

    entry = outbox.submit(conversation, payload(conversation))
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
from actions.handoff_payload import build_handoff_payload, conversation_id
from actions.outbox import Outbox, OutboxSettings
path, url, token = sys.argv[1:4]
outbox = Outbox(OutboxSettings(path=__import__("pathlib").Path(path), backoff_base=0.05,
                               backoff_max=0.5, poll=0.05),
                HandoffClient(HandoffConfig(url=url, token=token, timeout=10)))
outbox.start_worker()
deadline = time.monotonic() + 240
while outbox.entries("pending") or outbox.entries("sending"):
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
    entries = [outbox.submit(c, payload(c)) for c in ids]
    assert all(e.pending for e in entries)
    assert len(outbox.entries("pending")) == 20

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


def test_rejected_payload_is_marked_failed_and_not_retried(
    service: HandoffServiceProcess, outbox_path: Path
) -> None:
    outbox = make_outbox(outbox_path, service.url, service.bot_token)
    [conversation] = new_ids(1)
    bad = payload(conversation, customer={"name": "No Contact"})  # no e-mail, no phone: 422

    entry = outbox.submit(conversation, bad)

    assert entry.state == FAILED and entry.attempts == 1
    assert "422" in (entry.last_error or "")
    posts = service.handoff_posts()
    assert outbox.run_pending() == 0  # the worker's pass does not pick failed rows
    assert outbox.lookup(conversation) == entry
    assert service.handoff_posts() == posts
    assert conversation not in service.tickets_per_conversation()

    assert outbox.retry_failed(conversation) == 1  # an operator asks for one more try
    assert outbox.run_pending() == 1
    again = outbox.lookup(conversation)
    assert again is not None and again.state == FAILED and again.attempts == 2

    fixed = outbox.submit(conversation, payload(conversation))  # a corrected payload
    assert fixed.delivered
    assert service.tickets_per_conversation()[conversation] == 1


def test_slow_service_times_out_into_the_outbox(
    service: HandoffServiceProcess, outbox_path: Path
) -> None:
    [conversation] = new_ids(1)
    with socket.socket() as silent:  # accepts connections (kernel backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        slow_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        slow = make_outbox(outbox_path, slow_url, service.bot_token, timeout=0.5)
        entry = slow.submit(conversation, payload(conversation))
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
    entry = make_outbox(outbox_path, service.url, None).submit(conversation, payload(conversation))
    assert entry.pending
    assert "HANDOFF_SERVICE_TOKEN" in (entry.last_error or "")
    wrong = make_outbox(outbox_path, service.url, "not-a-token")
    entry = wrong.submit(conversation, payload(conversation))
    assert entry.pending and entry.attempts == 2
    assert "HTTP 401" in (entry.last_error or "")

    outbox = make_outbox(outbox_path, service.url, service.bot_token)
    wait_until(lambda: outbox.run_pending() and all_delivered(outbox, [conversation]), "retry")
    assert service.tickets_per_conversation()[conversation] == 1


CRASH_SCRIPT = """
import json, sys
from pathlib import Path
from actions.handoff_client import HandoffClient, HandoffConfig
from actions.handoff_payload import build_handoff_payload, conversation_id
from actions.outbox import Outbox, OutboxSettings
path, url, body = sys.argv[1:4]
payload = json.loads(body)
outbox = Outbox(OutboxSettings(path=Path(path), lease=1.0),
                HandoffClient(HandoffConfig(url=url, token="t", timeout=600)))
outbox.submit(payload["conversation_id"], payload)
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


def test_backoff_is_exponential_with_jitter_and_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIVEL0_OUTBOX_BACKOFF_BASE_SECONDS", "2")
    monkeypatch.setenv("NIVEL0_OUTBOX_BACKOFF_MAX_SECONDS", "30")
    settings = OutboxSettings.from_env()
    for attempt in range(1, 40):
        ceiling = min(30.0, 2.0 * 2 ** (attempt - 1))
        delays = {settings.backoff(attempt) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered
    monkeypatch.setenv("NIVEL0_OUTBOX_POLL_SECONDS", "soon")
    with pytest.raises(ValueError, match="NIVEL0_OUTBOX_POLL_SECONDS must be a number"):
        OutboxSettings.from_env()
