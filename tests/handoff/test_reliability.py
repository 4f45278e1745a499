"""Reliability against real databases: concurrent actions on one ticket, replicas migrating at
once, the database going away and coming back.

The concurrency tests hold the ticket's row lock from a separate connection until every
request is waiting for the database, then let go: on PostgreSQL the requests then really
race, deterministically (without the row lock in the actions, all of them "win").
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from handoff_service import auth
from handoff_service.db import make_engine
from handoff_service.migrate import alembic_config
from handoff_service.models import Ticket
from handoff_service.vocabulary import Role
from tests.handoff.conftest import PG_DSN, handoff_payload
from tests.handoff.test_console import bearer, csrf_of, flashes, login
from tests.support import HandoffServiceProcess, wait_until
from tests.support.postgres_instance import PostgresInstance

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def ticket_row_held(app: FastAPI, number: str) -> Iterator[Callable[[int], bool]]:
    """Hold the ticket's row lock (PostgreSQL) from another connection; yields ``waiting(n)``:
    whether ``n`` sessions of the app's database wait for a lock. On SQLite nothing is held
    (its transactions are serialised) and ``waiting`` is always true."""
    engine = app.state.ctx.engine
    if engine.dialect.name != "postgresql":
        yield lambda _n: True
        return
    database = engine.url.database
    with psycopg.connect(PG_DSN.replace("dbname=postgres", f"dbname={database}")) as holder:
        holder.execute("SELECT id FROM tickets WHERE number = %s FOR UPDATE", (number,))
        with psycopg.connect(PG_DSN, autocommit=True) as observer:

            def waiting(count: int) -> bool:
                row = observer.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = %s AND wait_event_type = 'Lock'",
                    (database,),
                ).fetchone()
                return row is not None and row[0] >= count

            yield waiting
        holder.rollback()


def race(app: FastAPI, number: str, requests: list[Callable[[], int]]) -> list[int]:
    """Send ``requests`` (each returns its status code) at once while the ticket's row is
    held; their status codes, in order."""
    statuses: dict[int, int] = {}

    def send(index: int, request: Callable[[], int]) -> None:
        statuses[index] = request()

    with ticket_row_held(app, number) as waiting:
        threads = [
            threading.Thread(target=send, args=(i, r), daemon=True) for i, r in enumerate(requests)
        ]
        for thread in threads:
            thread.start()
        wait_until(lambda: waiting(len(requests)), "every request to wait for the ticket's row")
    for thread in threads:
        thread.join(timeout=120)
    assert len(statuses) == len(requests), "a request did not finish"
    return [statuses[i] for i in range(len(requests))]


def api_post(
    app: FastAPI, path: str, headers: dict[str, str], body: dict[str, object] | None = None
) -> Callable[[], int]:
    def send() -> int:
        client = TestClient(app, raise_server_exceptions=False)
        return client.post(path, json=body, headers=headers).status_code

    return send


def agent_headers(app: FastAPI, count: int) -> list[dict[str, str]]:
    headers = []
    with app.state.ctx.sessions() as session:
        for _ in range(count):
            account = auth.create_account(session, f"agent-{secrets.token_hex(3)}", Role.AGENT)
            _row, token = auth.issue_token(session, account)
            headers.append({"Authorization": f"Bearer {token}"})
        session.commit()
    return headers


def event_kinds(client: TestClient, number: str, headers: dict[str, str]) -> Counter[str]:
    events = client.get(f"/v1/tickets/{number}/events", headers=headers).json()
    return Counter(e["kind"] for e in events)


def test_concurrent_claims_one_wins_the_others_get_409(
    app: FastAPI, client: TestClient, tokens: dict[str, dict[str, str]], make_ticket
) -> None:  # type: ignore[no-untyped-def]
    number = str(make_ticket()["number"])
    agents = agent_headers(app, 4)
    statuses = race(app, number, [api_post(app, f"/v1/tickets/{number}/claim", h) for h in agents])
    assert sorted(statuses) == [200, 409, 409, 409]
    ticket = client.get(f"/v1/tickets/{number}", headers=tokens["admin"]).json()
    assert ticket["status"] == "assigned"
    assert event_kinds(client, number, tokens["admin"])["claim"] == 1


def test_concurrent_resolve_and_escalate_one_wins(
    app: FastAPI, client: TestClient, tokens: dict[str, dict[str, str]], make_ticket
) -> None:  # type: ignore[no-untyped-def]
    number = str(make_ticket()["number"])
    agent = tokens["agent"]
    assert client.post(f"/v1/tickets/{number}/claim", headers=agent).status_code == 200
    resolve = {"resolution_note": "Refund issued; the customer confirmed it arrived."}
    escalate = {"tier": 2, "reason": "Needs the carrier's claims desk."}
    statuses = race(
        app,
        number,
        [
            api_post(app, f"/v1/tickets/{number}/resolve", agent, resolve),
            api_post(app, f"/v1/tickets/{number}/escalate", tokens["agent2"], escalate),
        ],
    )
    assert sorted(statuses) == [200, 409]
    kinds = event_kinds(client, number, tokens["admin"])
    assert kinds["resolve"] + kinds["escalate"] == 1
    ticket = client.get(f"/v1/tickets/{number}", headers=tokens["admin"]).json()
    assert ticket["status"] == ("resolved" if statuses[0] == 200 else "new")


def test_concurrent_console_claims_one_wins_the_other_sees_the_409_message(
    app: FastAPI, client: TestClient, tokens: dict[str, dict[str, str]], make_ticket
) -> None:  # type: ignore[no-untyped-def]
    number = str(make_ticket()["number"])
    page = f"/console/tickets/{number}"
    browsers, forms = [], []
    for name in ("agent", "agent2"):
        browser = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
        assert login(browser, bearer(tokens[name])).status_code == 303
        browsers.append(browser)
        forms.append({"csrf_token": csrf_of(browser, page)})

    def claim(browser: TestClient, form: dict[str, str]) -> Callable[[], int]:
        return lambda: browser.post(f"{page}/claim", data=form, follow_redirects=False).status_code

    statuses = race(app, number, [claim(b, f) for b, f in zip(browsers, forms, strict=True)])
    assert statuses == [303, 303]  # the console answers with the ticket page and a message
    messages = sorted(m for b in browsers for m in flashes(b.get(page).text))
    assert messages == [
        "Claimed: the ticket is assigned to you.",
        "cannot claim a ticket that is assigned; allowed from: new",
    ]
    assert event_kinds(client, number, tokens["admin"])["claim"] == 1


# --- replicas migrating at once --------------------------------------------------------------

MIGRATE_SCRIPT = """
import sys, time
from pathlib import Path
from handoff_service.migrate import upgrade
url, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
ready.touch()
deadline = time.monotonic() + 240
while not go.exists():  # start together: the imports above take longer than the migration
    if time.monotonic() > deadline:
        sys.exit("never told to go")
    time.sleep(0.005)
upgrade(url)
"""


@pytest.mark.postgres
def test_replicas_starting_at_once_migrate_a_fresh_database_safely(tmp_path: Path) -> None:
    name = f"nivel0_race_{secrets.token_hex(4)}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            go = tmp_path / "go"
            processes = []
            for i in range(3):
                ready = tmp_path / f"ready-{i}"
                processes.append(
                    (
                        ready,
                        subprocess.Popen(
                            [sys.executable, "-c", MIGRATE_SCRIPT, url, str(ready), str(go)],
                            cwd=ROOT,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            text=True,
                        ),
                    )
                )
            wait_until(lambda: all(r.exists() for r, _p in processes), "every replica to be ready")
            go.touch()
            outputs = [p.communicate(timeout=240)[0] for _r, p in processes]
            codes = [p.returncode for _r, p in processes]
            assert codes == [0, 0, 0], "\n".join(o[-2000:] for o in outputs)
            head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
            engine = make_engine(url)
            try:
                with engine.connect() as connection:
                    versions = connection.execute(text("SELECT version_num FROM alembic_version"))
                    assert [v for (v,) in versions] == [head]
                    assert connection.execute(select(Ticket.id)).all() == []
            finally:
                engine.dispose()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the database goes away and comes back ---------------------------------------------------


@pytest.mark.postgres
def test_sql_parameters_never_appear_in_database_errors(postgres_url: str) -> None:
    """A statement that fails because its connection broke: the error (and so any log line
    or traceback made of it) shows the SQL but not the customer data bound to it."""
    engine = make_engine(postgres_url)
    marker = f"zoe.{secrets.token_hex(4)}@example.com"
    try:
        with engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with psycopg.connect(PG_DSN, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            with pytest.raises(OperationalError) as failure:
                connection.execute(select(Ticket.id).where(Ticket.customer_email == marker))
        assert "SELECT" in str(failure.value)
        assert marker not in str(failure.value)
        assert marker not in repr(failure.value)
    finally:
        engine.dispose()


def customer(tag: str) -> dict[str, object]:
    """A handoff whose customer data is unique to this test run (to search the log for)."""
    return handoff_payload(
        customer={
            "name": f"Zacarías Ybarra {tag}",
            "email": f"zacarias.{tag}@example.com",
            "order_number": "VT-77001",
        }
    )


@pytest.mark.postgres
def test_database_down_gives_503_and_the_service_recovers_by_itself(tmp_path: Path) -> None:
    database = PostgresInstance()
    try:
        database.start()
        service = HandoffServiceProcess(
            tmp_path, env={"DATABASE_URL": database.url(), "HANDOFF_LOG_LEVEL": "INFO"}
        )
        with service:
            bot = httpx.Client(
                base_url=service.url,
                headers={"Authorization": f"Bearer {service.bot_token}"},
                timeout=30,
            )
            with bot, service.api() as agent:
                assert bot.post("/v1/handoffs", json=customer("before")).status_code == 201
                pid = service.process.pid  # type: ignore[union-attr]

                database.stop()
                down = secrets.token_hex(4)
                for response in (
                    bot.post("/v1/handoffs", json=customer(down)),
                    agent.get("/v1/tickets"),
                ):
                    assert response.status_code == 503, response.text
                    assert int(response.headers["Retry-After"]) > 0
                assert agent.get("/healthz").status_code == 503
                log = service.log.read_text()
                assert down not in log
                assert "Zacarías" not in log

                database.start()
                after = wait_until(
                    lambda: (
                        (r := bot.post("/v1/handoffs", json=customer(down))).status_code == 201
                        and r
                    ),
                    "the service to serve again once the database is back",
                )
                assert after.json()["number"]
                assert service.running and service.process.pid == pid  # type: ignore[union-attr]
                assert agent.get("/v1/tickets").json()["total"] == 2
                assert agent.get("/healthz").status_code == 200
    finally:
        database.destroy()


def test_a_large_handoff_being_redacted_does_not_stall_other_requests(tmp_path: Path) -> None:
    """A 1 MB transcript of card numbers is validated (redacted) in the worker threads, not on
    the event loop: health checks keep being answered while it is processed. The measure is a
    ratio within this run: the slowest health check against the handoff's own time (measured
    on the 2-core machine: 0.02 off the loop; 0.95 with the endpoint made ``async``, when the
    loop waits for the redaction). The replay of the same conversation is answered at once."""
    unit = "4111 1111 1111 1111 "
    text = (unit * (4000 // len(unit)))[:4000].strip()
    body = handoff_payload(
        conversation_id="web-large-1",
        transcript=[{"role": "customer", "text": text}] * 240,
    )
    with HandoffServiceProcess(tmp_path) as service:
        headers = {"Authorization": f"Bearer {service.bot_token}"}
        health_times: list[float] = []
        done = threading.Event()
        result: dict[str, float] = {}

        def post() -> None:
            start = time.perf_counter()
            response = httpx.post(
                f"{service.url}/v1/handoffs", json=body, headers=headers, timeout=300
            )
            result["seconds"] = time.perf_counter() - start
            result["status"] = response.status_code
            done.set()

        with httpx.Client(base_url=service.url, timeout=300) as health:
            assert health.get("/healthz").status_code == 200
            worker = threading.Thread(target=post)
            worker.start()
            while not done.is_set():
                start = time.perf_counter()
                assert health.get("/healthz").status_code == 200
                health_times.append(time.perf_counter() - start)
            worker.join()
        assert result["status"] == 201
        assert len(health_times) >= 2
        assert max(health_times) < 0.5 * result["seconds"], (max(health_times), result)

        replay = httpx.post(f"{service.url}/v1/handoffs", json=body, headers=headers, timeout=300)
        assert replay.status_code == 200 and replay.json()["created"] is False
