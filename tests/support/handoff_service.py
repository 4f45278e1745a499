"""The handoff service as in production (``python -m handoff_service.cli serve``) in a
subprocess, on a temporary SQLite database, plus its CLI against the same database.

It can be stopped and started again on the same port and database (fault tests). On creation
the database is migrated and two tokens are issued: ``admin_token`` (account "root") for the
agent API and ``bot_token`` (service account "rasa-bot") for the bot's API.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from contextlib import closing
from pathlib import Path

import httpx

from tests.support.network import free_port
from tests.support.polling import WAIT_SECONDS, wait_until

ROOT = Path(__file__).resolve().parents[2]


class HandoffServiceProcess:
    """Use as a context manager (start ... stop) or call :meth:`start` / :meth:`stop`."""

    def __init__(
        self,
        workdir: Path,
        startup_timeout: float = WAIT_SECONDS,
        env: dict[str, str] | None = None,
    ):
        self.port = free_port()
        self.database_url = f"sqlite:///{workdir / 'handoff.db'}"
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "HANDOFF_PORT": str(self.port),
            "HANDOFF_TRIAGE_MODEL_PATH": str(workdir / "triage.joblib"),
            "HANDOFF_KB_DRAFTS_DIR": str(workdir / "kb"),
            "HANDOFF_LOG_LEVEL": "WARNING",
            # no e-mail unless a test turns it on (``env``): no port shared between processes
            "HANDOFF_EMAIL_WORKER": "false",
            "HANDOFF_INBOUND_SMTP_PORT": "off",
            **(env or {}),
        }
        self.log = workdir / "service.log"
        self.startup_timeout = startup_timeout  # the first start trains the triage model
        self.process: subprocess.Popen[bytes] | None = None
        self.cli("migrate")
        self.admin_token = self.cli("create-admin", "root")
        self.bot_token = self.cli("create-token", "rasa-bot", "--role", "service")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cli(self, *args: str) -> str:
        """Run ``handoff_service.cli`` on the same database; return its last output line (the
        token, for ``create-admin`` and ``create-token``)."""
        done = subprocess.run(
            [sys.executable, "-m", "handoff_service.cli", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        lines = done.stdout.strip().splitlines()
        return lines[-1] if lines else ""

    def start(self) -> None:
        """Start ``serve`` and wait until it answers /healthz (the log is appended to)."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "handoff_service.cli", "serve"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def healthy() -> bool:
            assert self.running, f"the service exited:\n{self.log.read_text()[-3000:]}"
            try:
                return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(healthy, "the handoff service to answer /healthz", self.startup_timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None

    def __enter__(self) -> HandoffServiceProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what the service holds (agent API with the admin token, metrics) -------------------

    def api(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def conversation_events(self) -> list[tuple[str, str]]:
        """(conversation id, kind) of every stored conversation event, in arrival order (read
        from the service's SQLite file: the API reports figures, not events)."""
        path = self.database_url.removeprefix("sqlite:///")
        with closing(sqlite3.connect(path)) as conn:
            query = "SELECT conversation_id, kind FROM conversation_events ORDER BY id"
            return [(conversation, kind) for conversation, kind in conn.execute(query)]

    def tickets_per_conversation(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        with self.api() as api:
            offset, total = 0, 1
            while offset < total:
                page = api.get("/v1/tickets", params={"limit": 200, "offset": offset}).json()
                total = page["total"]
                offset += 200
                for item in page["items"]:
                    ticket = api.get(f"/v1/tickets/{item['number']}").json()
                    counts[ticket["conversation_id"]] += 1
        return counts

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a Prometheus counter's samples whose labels include ``labels``."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        total = 0.0
        for line in text.splitlines():
            match = re.match(rf"^{name}(?:\{{(.*)\}})? ([0-9.e+-]+)$", line)
            if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
                total += float(match.group(2))
        return total

    def handoff_posts(self) -> float:
        return self.metric("handoff_http_requests_total", method="POST", route="/v1/handoffs")
