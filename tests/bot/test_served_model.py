"""What is measured is what runs: the action server, started from ``bot/`` by the command
``make run`` uses (``scripts/run_all.sh action-server``) with this process's environment, serves
the embedding model ``make eval`` reports; a configured model that is not there, or an invalid
setting, stops it at start-up with the reason instead of a silent fallback. It reports healthy
only once its knowledge base is loaded, so the first reply after "ready" loads nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from knowledge.embedding import model_identity
from knowledge.settings import PROJECT_ROOT, KnowledgeSettings
from tests.bot.servers import (
    ACTION_SECRET,
    server_env,
    spawn_action_server,
    tail,
    wait_until_ready,
)
from tests.support import free_port

EVAL_REPORT = PROJECT_ROOT / "var" / "reports" / "eval.json"  # what `make eval` writes
SERVING = re.compile(r"serving embedding model (\S+) from (\S+)")
LOADED = re.compile(r"knowledge base loaded in [\d.]+ s: the action server is ready")


def evaluated_model() -> tuple[str, str]:
    """Identity of the model ``make eval`` measured, and where that was read: its report, or
    without one the model the evaluation would load (``KnowledgeSettings().model_path``)."""
    if EVAL_REPORT.is_file():
        report = json.loads(EVAL_REPORT.read_text(encoding="utf-8"))
        return report["model"]["identity"], str(EVAL_REPORT)
    return model_identity(KnowledgeSettings().model_path), "KnowledgeSettings().model_path"


@pytest.mark.e2e
def test_action_server_serves_the_evaluated_model(tmp_path: Path) -> None:
    expected, source = evaluated_model()
    port = free_port()
    log = tmp_path / "actions.log"
    # Handoffs stay in the test's directory; everything else is what `make run` would see.
    env = server_env({"NIVEL0_OUTBOX_PATH": str(tmp_path / "outbox.db")})
    process = spawn_action_server(port, env, log)
    health = f"http://127.0.0.1:{port}/health"
    try:
        wait_until_ready(process, log, health, timeout=300)
        # Read at the moment /health first answered 200, before anything else ran.
        log_when_ready = log.read_text(errors="replace")
        # Only Rasa, which knows the shared secret, may call the actions.
        webhook = f"http://127.0.0.1:{port}/webhook"
        call = {"next_action": "action_session_start", "tracker": {"sender_id": "x"}}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": ACTION_SECRET}):
            assert httpx.post(webhook, json=call, headers=headers, timeout=30).status_code == 401
        granted = {"Authorization": f"Bearer {ACTION_SECRET}"}
        assert httpx.post(webhook, json=call, headers=granted, timeout=30).status_code != 401
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert LOADED.search(log_when_ready), (
        f"/health answered 200 before the knowledge base was loaded:\n{tail(log)}"
    )
    served = SERVING.search(log_when_ready)
    assert served is not None, f"no 'serving embedding model' line in the log:\n{tail(log)}"
    identity, path = served.groups()
    assert identity == expected, (
        f"the action server serves {identity} from {path}, but {source} names {expected} "
        "(run `make eval` again after rebuilding the model)"
    )
    assert Path(path) == KnowledgeSettings().model_path


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        (
            "NIVEL0_EMBEDDING_MODEL",
            "/nonexistent",
            "NIVEL0_EMBEDDING_MODEL: no sentence-transformers model in /nonexistent",
        ),
        ("NIVEL0_MAX_ARTICLES_PER_QUESTION", "0", "max_articles_per_question"),
        ("NIVEL0_ACTION_SECRET", "", "NIVEL0_ACTION_SECRET is not set"),
    ],
    ids=["missing-model", "invalid-setting", "no-shared-secret"],
)
def test_bad_configuration_stops_the_action_server_at_start_up(
    tmp_path: Path, variable: str, value: str, reason: str
) -> None:
    log = tmp_path / "actions.log"
    env = server_env({variable: value, "NIVEL0_OUTBOX_PATH": str(tmp_path / "outbox.db")})
    process = spawn_action_server(free_port(), env, log)
    try:
        returncode = process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"the action server did not stop:\n{tail(log)}")
    text = log.read_text(errors="replace")
    assert returncode != 0, text
    assert "action server not started" in text and reason in text, text
