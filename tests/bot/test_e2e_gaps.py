"""Two real action servers (replicas, an outbox file each) report the questions they could not
answer to the one handoff service, and one ``kb gaps`` report counts both.

Each action server is started as `make run` starts it (``scripts/run_all.sh action-server``) and
called on its webhook the way Rasa calls it: the customer says "no" to an article, so the action
records the question as negative feedback (through its outbox) and offers the next article.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bot.helpers import DOMAIN, Conversation
from tests.bot.servers import (
    ACTION_SECRET,
    ROOT,
    server_env,
    spawn_action_server,
    wait_until_ready,
)
from tests.support.handoff_service import HandoffServiceProcess
from tests.support.network import free_port
from tests.support.polling import WAIT_SECONDS, wait_until

pytestmark = pytest.mark.e2e

QUESTION = "how do I reset my password, the email never comes"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HandoffServiceProcess]:
    with HandoffServiceProcess(tmp_path_factory.mktemp("gaps-service")) as running:
        yield running


@pytest.fixture(scope="module")
def replicas(
    service: HandoffServiceProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    """Two action servers on one handoff service; yields their base URLs."""
    work = tmp_path_factory.mktemp("gaps-replicas")
    started: list[tuple[subprocess.Popen[bytes], Path, str]] = []
    try:
        for name in ("a", "b"):
            port, log = free_port(), work / f"actions-{name}.log"
            env = server_env(
                {
                    "HANDOFF_SERVICE_URL": service.url,
                    "HANDOFF_SERVICE_TOKEN": service.bot_token,
                    "NIVEL0_OUTBOX_PATH": str(work / f"outbox-{name}.db"),
                }
            )
            started.append((spawn_action_server(port, env, log), log, f"http://127.0.0.1:{port}"))
        for process, log, url in started:
            wait_until_ready(process, log, f"{url}/health", WAIT_SECONDS)
        yield [url for _, _, url in started]
    finally:
        for process, _, _ in started:
            process.terminate()
            process.wait(timeout=30)


def say_no_to_an_article(action_server: str, sender: str) -> list[dict[str, Any]]:
    """Rasa's call for ``action_feedback_no`` after the bot showed an article for QUESTION."""
    conversation = Conversation("en", sender_id=sender)
    shown = {
        "article_id": "password-reset-en",
        "title": "I didn't receive the password reset email",
        "url": "http://localhost:8080/help/en/password-reset",
        "score": 0.9,
        "question": QUESTION,
        "feedback": None,
        "category": "account",
    }
    conversation.slots.update(
        last_question=QUESTION, kb_articles=[shown], pending_feedback="password-reset-en"
    )
    tracker = conversation.tracker("no, that didn't help", intent="deny").current_state()
    body = {
        "next_action": "action_feedback_no",
        "sender_id": sender,
        "tracker": tracker,
        "domain": DOMAIN,
        "version": "3.6.21",
    }
    response = httpx.post(
        f"{action_server}/webhook",
        json=body,
        headers={"Authorization": f"Bearer {ACTION_SECRET}"},  # as Rasa calls it
        timeout=120,
    )
    response.raise_for_status()
    return response.json()["events"]


def test_gaps_from_two_action_servers_in_one_report(
    service: HandoffServiceProcess, replicas: list[str], tmp_path: Path
) -> None:
    senders = [f"gaps-{uuid.uuid4().hex[:8]}" for _ in replicas]
    for url, sender in zip(replicas, senders, strict=True):
        events = say_no_to_an_article(url, sender)
        assert {"event": "slot", "name": "pending_feedback"} in [
            {k: e.get(k) for k in ("event", "name")} for e in events
        ]

    def stored() -> set[str]:
        with service.api() as api:
            rows = api.get("/v1/unanswered", params={"reason": "negative_feedback"}).json()
        # the conversation id is the sender plus the session's start (one per session)
        return {row["conversation_id"].split(":")[0] for row in rows}

    wait_until(lambda: set(senders) <= stored(), "both replicas' outboxes to deliver")

    report = tmp_path / "gaps.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "knowledge.cli",
            "gaps",
            "--service-url",
            service.url,
            "--token",
            service.admin_token,
            "--days",
            "0",
            "--no-tickets",
            "--format",
            "json",
            "--output",
            str(report),
        ],
        cwd=ROOT,
        env=server_env({}),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    topics = json.loads(report.read_text(encoding="utf-8"))
    [topic] = [t for t in topics if t["label"] == QUESTION]
    assert topic["count"] == 2
    assert topic["conversations"] == 2
    assert topic["reasons"] == {"negative_feedback": 2}
