"""The production configuration (bot/endpoints.production.yml) for real: two Rasa replicas share
the tracker store in PostgreSQL and the lock store in Redis (bot/atomic_lock_store.py), with one
action server.

A fresh database ``nivel0_rasa_test_<random>`` is created and dropped; in Redis only keys under
a random key prefix are used (and removed), nothing global is flushed.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from psycopg import sql

from tests.bot.servers import TRAIN_HINT, ChatServers, latest_model

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 1
SERVICES_HINT = "start the services with scripts/ensure_services.sh (the Makefile does)"
PRODUCTION_ENDPOINTS = "endpoints.production.yml"


def pg_connect(dbname: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, connect_timeout=5, autocommit=True
    )


def redis_client() -> redis.Redis:
    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_connect_timeout=5)


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    name = f"nivel0_rasa_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = pg_connect("postgres")
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} as {PG_USER}: {exc}\n"
            + SERVICES_HINT,
            pytrace=False,
        )
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield name
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def redis_key_prefix() -> Iterator[str]:
    """A key prefix no one else uses; the keys under it are deleted at the end."""
    prefix = f"nivel0test{uuid.uuid4().hex[:12]}"
    client = redis_client()
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}: {exc}\n" + SERVICES_HINT,
            pytrace=False,
        )
    try:
        yield prefix
    finally:
        leftovers = list(client.scan_iter(match=f"{prefix}:*"))
        if leftovers:
            client.delete(*leftovers)
        client.close()


class RedisMonitor:
    """Records the commands Redis receives for keys under ``prefix`` (Redis MONITOR)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.commands: list[str] = []
        self._end_key = f"{prefix}:monitor-end"
        self._client = redis_client()
        self._monitor = self._client.monitor()
        self._monitor.__enter__()  # MONITOR is active once this returns
        self._thread = threading.Thread(target=self._record, name="redis-monitor", daemon=True)
        self._thread.start()

    def _record(self) -> None:
        while (command := self._monitor.next_command()["command"]) != f"GET {self._end_key}":
            if self.prefix in command:
                self.commands.append(command)

    def stop(self) -> list[str]:
        """Stop recording; every command Redis received before this call is recorded."""
        # MONITOR delivers commands in order: once our own GET arrives, all before it have.
        self._client.get(self._end_key)
        self._thread.join(timeout=60)
        self._monitor.__exit__(None, None, None)
        self._client.close()
        assert not self._thread.is_alive(), "Redis MONITOR did not deliver our own command"
        return list(self.commands)


@dataclass
class Deployment:
    replica_a: ChatServers
    replica_b: ChatServers
    database: str
    key_prefix: str

    def events(self, sender: str) -> list[dict[str, Any]]:
        """The sender's events as stored by Rasa's SQL tracker store, oldest first."""
        with pg_connect(self.database) as conn:
            rows = conn.execute(
                "SELECT data FROM events WHERE sender_id = %s ORDER BY id", (sender,)
            ).fetchall()
        return [json.loads(data) for (data,) in rows]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    model = latest_model()
    if model is None:
        pytest.fail(TRAIN_HINT, pytrace=False)
    logs = tmp_path_factory.mktemp("production-logs")
    with fresh_database() as database, redis_key_prefix() as prefix:
        env = {
            "NIVEL0_TRACKER_DB_HOST": PG_HOST,
            "NIVEL0_TRACKER_DB_PORT": str(PG_PORT),
            "NIVEL0_TRACKER_DB_NAME": database,
            "NIVEL0_TRACKER_DB_USER": PG_USER,
            "NIVEL0_TRACKER_DB_PASSWORD": "",
            "NIVEL0_LOCK_REDIS_HOST": REDIS_HOST,
            "NIVEL0_LOCK_REDIS_PORT": str(REDIS_PORT),
            "NIVEL0_LOCK_REDIS_DB": str(REDIS_DB),
            "NIVEL0_LOCK_REDIS_PASSWORD": "",
            "NIVEL0_LOCK_REDIS_KEY_PREFIX": prefix,
        }
        replica_a = replica(logs / "a", model, env)
        replica_b = replica(logs / "b", model, env, action_url=replica_a.action_url)
        with contextlib.ExitStack() as running:
            for servers in (replica_a, replica_b):
                running.callback(servers.stop)
                servers.launch()  # both replicas start at the same time
            for servers in (replica_a, replica_b):
                servers.wait_until_ready()
            yield Deployment(replica_a, replica_b, database, prefix)


def replica(
    log_dir: Path, model: Path, env: dict[str, str], action_url: str | None = None
) -> ChatServers:
    return ChatServers(
        log_dir=log_dir,
        model=model,
        env=env,
        endpoints=PRODUCTION_ENDPOINTS,
        external_action_url=action_url,
    )


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text", "") for m in messages]


def user_texts(events: list[dict[str, Any]]) -> list[str]:
    return [e["text"] for e in events if e["event"] == "user"]


def new_sender() -> str:
    return f"prod-{uuid.uuid4().hex[:10]}"


def test_conversation_continues_on_the_other_replica(deployment: Deployment) -> None:
    sender = new_sender()
    deployment.replica_a.say(sender, "hi")
    answer = deployment.replica_a.say(sender, "how long does a refund take?")
    assert texts(answer)[-1] == "Did this solve your problem?", answer

    stored = deployment.events(sender)
    assert user_texts(stored) == ["hi", "how long does a refund take?"]
    pending = [
        e["value"] for e in stored if e["event"] == "slot" and e["name"] == "pending_feedback"
    ]
    assert pending[-1] == "refund-timeline-en"  # waiting for feedback on the answer

    # Replica B has never seen this sender: it can only treat "yes" as feedback on the answer
    # given by replica A if it loaded the conversation from PostgreSQL.
    assert texts(deployment.replica_b.say(sender, "yes")) == [
        "Great, glad I could help! Thanks for contacting us. If you need anything else, just write."
    ]
    stored = deployment.events(sender)
    assert user_texts(stored) == ["hi", "how long does a refund take?", "yes"]
    actions = [e["name"] for e in stored if e["event"] == "action"]
    assert actions.count("action_search_kb") == 1
    assert actions[-2:] == ["action_feedback_yes", "action_listen"]


def test_concurrent_messages_on_both_replicas_are_serialised_by_the_redis_lock(
    deployment: Deployment,
) -> None:
    sender = new_sender()
    messages = [
        "hi",
        "how long does a refund take?",
        "is shipping free?",
        "are you a bot?",
        "thanks",
        "my password reset email never arrived",
    ]
    replicas = [deployment.replica_a, deployment.replica_b]
    monitor = RedisMonitor(deployment.key_prefix)
    try:
        with ThreadPoolExecutor(max_workers=len(messages)) as pool:
            replies = list(
                pool.map(lambda i: replicas[i % 2].say(sender, messages[i]), range(len(messages)))
            )
    finally:
        commands = monitor.stop()

    assert all(replies), replies
    stored = deployment.events(sender)
    # No lost or duplicated user messages ...
    assert sorted(user_texts(stored)) == sorted(messages)
    # ... and no interleaved turns: every user message is fully handled (the bot is back to
    # listening) before the next one is processed, whichever replica received it.
    turn: list[str] = []
    for event in stored:
        if event["event"] == "user":
            assert not turn or turn[-1] == "action_listen", turn
            turn = []
        elif event["event"] == "action":
            turn.append(event["name"])
    assert turn[-1] == "action_listen"

    # The conversation lock lived in Redis under the configured prefix: every message took a
    # ticket there (one SET each at least), and the lock was deleted when the queue emptied.
    lock_key = f"{deployment.key_prefix}:lock:{sender}"
    sets = [c for c in commands if c.startswith(f"SET {lock_key} ")]
    assert len(sets) >= len(messages), commands
    assert f"DEL {lock_key}" in commands, commands
    with redis_client() as client:
        assert not client.exists(lock_key)
    # The lock store is AtomicRedisLockStore: its updates are transactions on the watched key.
    assert f"WATCH {lock_key}" in commands, commands
    # The burst really overlapped: at some point messages were queued behind another one.
    assert max(c.count("number") for c in sets) >= 2, sets
