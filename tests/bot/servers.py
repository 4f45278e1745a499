"""Start the real Rasa server and action server as subprocesses on free ports.

Used by the end-to-end tests and by scripts/bench_chat.py. Both servers run from ``bot/`` the
way they run in production: started by ``scripts/run_all.sh action-server`` and
``scripts/run_all.sh rasa-server``, the very commands ``make run`` uses (loopback only, CORS for
the site's origins; the tests add Rasa's HTTP API). Each server gets its environment
explicitly: this process's, plus the test's overrides. Output goes to log files under
``log_dir``.

Several Rasa replicas can share one action server: give the others ``external_action_url``, call
:meth:`ChatServers.launch` on each and then :meth:`ChatServers.wait_until_ready` (parallel start).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.network import free_port

ROOT = Path(__file__).resolve().parents[2]
BOT_DIR = ROOT / "bot"
MODELS_DIR = BOT_DIR / "models"
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
RUN_ALL = ROOT / "scripts" / "run_all.sh"

TRAIN_HINT = (
    "No trained Rasa model in bot/models. Train one first: "
    "`cd bot && ../.venv-rasa/bin/rasa train --data data ../intents --out models` "
    "or `make train` (`make test` trains before running the tests)."
)


class ServerError(RuntimeError):
    """A server did not start; the message includes the end of its log."""


def latest_model() -> Path | None:
    models = sorted(MODELS_DIR.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


#: The shared secret between the test's Rasa and action servers (``make run`` keeps its own in
#: var/secrets/), unless the environment names one.
ACTION_SECRET = os.environ.get("NIVEL0_ACTION_SECRET") or secrets.token_urlsafe(32)


def server_env(overrides: dict[str, str]) -> dict[str, str]:
    """The environment of a server process: this process's (as `make run` inherits the shell's),
    unbuffered output for the log, the Rasa/action-server secret, then ``overrides``."""
    return {
        **os.environ,
        "NIVEL0_ACTION_SECRET": ACTION_SECRET,
        "RASA_TELEMETRY_ENABLED": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


def spawn_action_server(port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``scripts/run_all.sh action-server`` (what `make run` starts, from the project root) on
    ``port`` with exactly the environment ``env``; stdout and stderr into ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [str(RUN_ALL), "action-server"],
            cwd=ROOT,
            env={**env, "ACTION_SERVER_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_until_ready(
    process: subprocess.Popen[bytes], log_path: Path, url: str, timeout: float
) -> None:
    """Poll ``url`` until it answers 200; :class:`ServerError` with the log's end if the
    process exits first, ``url`` answers 500 (the action server's knowledge base failed to
    load) or ``timeout`` seconds pass. The action server's ``/health`` answers 503 until its
    knowledge base is loaded, so ready means its first reply loads nothing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                f"{' '.join(map(str, process.args))} exited with {process.returncode}:\n"
                + tail(log_path)
            )
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                return
            if response.status_code == 500:
                raise ServerError(f"{url} answered 500 {response.text}:\n{tail(log_path)}")
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise ServerError(f"{url} not ready after {timeout:.0f} s:\n{tail(log_path)}")


@dataclass
class ChatServers:
    """Rasa (REST channel) + action server. Use as a context manager.

    ``endpoints`` is the Rasa endpoints file relative to ``bot/``. With ``external_action_url``
    (base URL of an action server that is already running) no action server is started.
    """

    log_dir: Path
    model: Path
    env: dict[str, str] = field(default_factory=dict)
    startup_timeout: float = 240.0
    rasa_port: int = field(default_factory=free_port)
    action_port: int = field(default_factory=free_port)
    endpoints: str = "endpoints.yml"
    external_action_url: str | None = None
    _processes: dict[str, tuple[subprocess.Popen[bytes], Path]] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return self.external_action_url or f"http://127.0.0.1:{self.action_port}"

    @property
    def webhook(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    def __enter__(self) -> ChatServers:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.launch()
        self.wait_until_ready()

    def launch(self) -> None:
        """Start the processes without waiting for them (see :meth:`wait_until_ready`)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = server_env(self.env)
        if self.external_action_url is None:
            log_path = self.log_dir / "actions.log"
            process = spawn_action_server(self.action_port, env, log_path)
            self._processes["actions"] = (process, log_path)
        rasa_env = {
            **env,
            "ACTION_ENDPOINT_URL": f"{self.action_url}/webhook",
            "RASA_PORT": str(self.rasa_port),
            "RASA_MODEL": str(self.model),
            "RASA_ENDPOINTS": self.endpoints,
            "RASA_ENABLE_API": "true",
        }
        self._spawn("rasa", [str(RUN_ALL), "rasa-server"], rasa_env)

    def wait_until_ready(self) -> None:
        if "actions" in self._processes:
            self._wait_until_ready(f"{self.action_url}/health", "actions")
        self._wait_until_ready(f"{self.rasa_url}/status", "rasa")

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=BOT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self._processes[name] = (process, log_path)

    def _wait_until_ready(self, url: str, name: str) -> None:
        process, log_path = self._processes[name]
        wait_until_ready(process, log_path, url, self.startup_timeout)

    def stop(self) -> None:
        for process, _ in self._processes.values():
            if process.poll() is None:
                process.terminate()
        for process, _ in self._processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()

    def say(
        self,
        sender: str,
        message: str,
        metadata: dict[str, Any] | None = None,
        client: httpx.Client | None = None,
    ) -> list[dict[str, Any]]:
        """Send one customer message through the REST channel; return the bot's messages."""
        body: dict[str, Any] = {"sender": sender, "message": message}
        if metadata is not None:
            body["metadata"] = metadata
        post = client.post if client is not None else httpx.post
        response = post(self.webhook, json=body, timeout=60.0)
        response.raise_for_status()
        return list(response.json())


@contextmanager
def rasa_url_for(url: str | None, log_prefix: str) -> Iterator[str]:
    """``url`` when the caller names a running Rasa server, else that of a Rasa server and action
    server started here with the latest trained model (logs in a temporary directory, servers
    stopped on exit). :class:`ServerError` with :data:`TRAIN_HINT` when no model is trained."""
    if url is not None:
        yield url
        return
    model = latest_model()
    if model is None:
        raise ServerError(TRAIN_HINT)
    with (
        tempfile.TemporaryDirectory(prefix=log_prefix) as log_dir,
        ChatServers(log_dir=Path(log_dir), model=model) as servers,
    ):
        yield servers.rasa_url


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"
