"""A real SMTP server for the tests (aiosmtpd on a free port on 127.0.0.1).

It keeps what it receives (envelope and parsed message), can be stopped and started again on
the same port ("SMTP down" tests), can refuse chosen recipients with a given reply (e.g.
``"550 5.1.1 No such user"`` or ``"451 4.3.0 Try later"``), and waits for a number of messages
with a deadline. Use the class directly or the ``smtp_server`` fixture::

    from tests.support import smtp
    from tests.support.smtp import SmtpServer, sending_to

    smtp_server = smtp.smtp_server  # the fixture, under its name in this module

    def test_x(app, smtp_server: SmtpServer) -> None:
        ctx = sending_to(app.state.ctx, smtp_server)  # the app's context, sending there
        ...
        smtp_server.wait_for(1)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from handoff_service.context import AppContext
from tests.support.network import free_port
from tests.support.polling import WAIT_SECONDS

READY_SECONDS = 30.0  # generous: the machine is shared; not a timing assertion


@dataclass(frozen=True)
class Received:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self._server.refuse.get(address.casefold())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        self._server._store(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                raw=raw,
                message=message,
            )
        )
        return "250 Message accepted"


class SmtpServer:
    """A real SMTP server on ``host:port`` keeping every message it accepts, in order."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        #: lower-cased recipient address -> SMTP reply refusing it at RCPT
        self.refuse: dict[str, str] = {}
        self._messages: list[Received] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def _store(self, received: Received) -> None:
        with self._lock:
            self._messages.append(received)

    @property
    def messages(self) -> list[Received]:
        """A copy of what has been received so far."""
        with self._lock:
            return list(self._messages)

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        """Listen (again) on the same port."""
        if self._controller is not None:
            return
        controller = Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            ready_timeout=READY_SECONDS,
            decode_data=False,
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening: connections are refused until :meth:`start`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def wait_for(self, count: int, timeout: float = WAIT_SECONDS) -> list[Received]:
        """Wait until at least ``count`` messages have arrived and return them all; fail the
        test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages
            if len(messages) >= count:
                return messages
            if time.monotonic() > deadline:
                pytest.fail(f"SMTP server received {len(messages)} messages, expected {count}")
            time.sleep(0.05)

    def __enter__(self) -> SmtpServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A started :class:`SmtpServer` on a free port, stopped after the test."""
    with SmtpServer() as server:
        yield server


def sending_to(ctx: AppContext, server: SmtpServer, **settings: Any) -> AppContext:
    """``ctx`` whose e-mail goes to ``server`` (plus any other settings overridden)."""
    changed = ctx.settings.model_copy(
        update={"smtp_host": server.host, "smtp_port": server.port, **settings}
    )
    return replace(ctx, settings=changed)
