"""A PostgreSQL server of the test's own (initdb + pg_ctl), to stop and start it at will.

The shared server on 127.0.0.1:5432 must never be stopped by a test; this one lives in a
temporary folder, listens on a free port on 127.0.0.1 only, trusts local connections as user
``postgres`` and is removed by :meth:`PostgresInstance.destroy`. ``initdb`` refuses to run as
root, so when the tests run as root the server's commands run as the ``postgres`` user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.network import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SERVER_USER = "postgres"


class PostgresInstance:
    """``start()`` / ``stop()`` as often as needed; ``destroy()`` at the end."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="nivel0-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        if os.geteuid() == 0:
            shutil.chown(self.root, SERVER_USER, SERVER_USER)
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "--encoding=UTF8",
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections (``pg_ctl -w``)."""
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.root} -c fsync=off"
        )
        self._run(
            str(PG_BIN / "pg_ctl"),
            "start",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
        )

    def stop(self) -> None:
        """Stop at once (``-m immediate``): open connections break as in a crash."""
        self._run(str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate", "-w")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", SERVER_USER, "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)
