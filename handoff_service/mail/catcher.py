"""The laptop's SMTP catch-all: every e-mail the product sends, caught and shown, none delivered.

``python -m handoff_service.mail.catcher`` listens for SMTP on ``smtp_host:smtp_port`` (where
the sender sends by default) and serves a page on ``127.0.0.1:mail_catcher_port`` listing every
message received, newest first, with a view of each: headers, the text part, and the HTML part
in a sandboxed iframe served with a strict Content-Security-Policy (no scripts, no requests).
Messages are also written to ``var/mail/*.eml`` and read back at start, so they survive a
restart; delete the files to forget them. ``scripts/run_all.sh`` starts it before the service.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import re
import secrets
import signal
import threading
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from handoff_service.logs import configure_logging
from handoff_service.settings import Settings
from knowledge.settings import project_path

logger = logging.getLogger(__name__)

DEFAULT_DIRECTORY = "var/mail"
#: Own pages: inline styles and same-origin frames only.
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; base-uri 'none'"
#: An e-mail's HTML part: nothing but its inline styles; sandboxed even if opened directly.
MESSAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
_ID = re.compile(r"^[0-9]{8}T[0-9]{12}-[0-9a-f]{8}$")
_URL = re.compile(r"https?://[^\s<>\"']+")

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 70rem; padding: 1rem;
       color: #1b1f24; background: #fff; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #c9d1db; }
a { color: #0b57d0; }
pre { white-space: pre-wrap; background: #f3f5f8; padding: 1rem; border: 1px solid #c9d1db; }
iframe { width: 100%; height: 40rem; border: 1px solid #c9d1db; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dt { font-weight: bold; }
dd { margin: 0; overflow-wrap: anywhere; }
"""


@dataclass(frozen=True)
class Caught:
    """One e-mail the catch-all received."""

    id: str
    received_at: dt.datetime
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def header(self, name: str) -> str:
        return str(self.message.get(name, ""))

    def part(self, subtype: str) -> str | None:
        body = self.message.get_body((subtype,))
        return None if body is None else str(body.get_content())  # type: ignore[attr-defined]


class MailCatcher:
    """The SMTP listener, the web page and the messages (in memory and in ``directory``)."""

    def __init__(
        self,
        smtp_host: str,
        smtp_port: int,
        web_port: int,
        directory: Path,
        web_host: str = "127.0.0.1",
    ) -> None:
        self.smtp_host, self.smtp_port = smtp_host, smtp_port
        self.web_host, self.web_port = web_host, web_port
        self.directory = directory
        self._messages: list[Caught] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self._web: ThreadingHTTPServer | None = None
        self._web_thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> MailCatcher:
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.mail_catcher_port,
            project_path(DEFAULT_DIRECTORY),
        )

    @property
    def url(self) -> str:
        return f"http://{self.web_host}:{self.web_port}/"

    @property
    def messages(self) -> list[Caught]:
        """Newest first."""
        with self._lock:
            return sorted(self._messages, key=lambda c: c.id, reverse=True)

    def get(self, message_id: str) -> Caught | None:
        with self._lock:
            return next((c for c in self._messages if c.id == message_id), None)

    def add(self, raw: bytes) -> Caught:
        """Keep a received message (and write it to the directory)."""
        now = dt.datetime.now(dt.UTC)
        caught = Caught(f"{now:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}", now, raw)
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / f"{caught.id}.eml").write_bytes(raw)
        with self._lock:
            self._messages.append(caught)
        logger.info(
            "e-mail caught",
            extra={"to": caught.header("To"), "subject": caught.header("Subject")},
        )
        return caught

    def _load(self) -> None:
        loaded = []
        for path in sorted(self.directory.glob("*.eml")) if self.directory.is_dir() else []:
            if _ID.match(path.stem):
                received = dt.datetime.strptime(path.stem[:21], "%Y%m%dT%H%M%S%f")
                loaded.append(Caught(path.stem, received.replace(tzinfo=dt.UTC), path.read_bytes()))
        with self._lock:
            self._messages = loaded

    def start(self) -> None:
        self._load()
        self._controller = Controller(
            _SmtpHandler(self),
            hostname=self.smtp_host,
            port=self.smtp_port,
            ready_timeout=30,
            decode_data=False,
        )
        self._controller.start()
        self._web = ThreadingHTTPServer((self.web_host, self.web_port), _page_handler(self))
        self._web.daemon_threads = True
        self._web_thread = threading.Thread(
            target=self._web.serve_forever, name="mail-catcher-web", daemon=True
        )
        self._web_thread.start()
        logger.info(
            "e-mail catch-all listening",
            extra={"smtp": f"{self.smtp_host}:{self.smtp_port}", "web": self.url},
        )

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._web is not None:
            self._web.shutdown()
            self._web.server_close()
            self._web = None
        if self._web_thread is not None:
            self._web_thread.join()
            self._web_thread = None

    def __enter__(self) -> MailCatcher:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class _SmtpHandler:
    def __init__(self, catcher: MailCatcher) -> None:
        self._catcher = catcher

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        self._catcher.add(envelope.original_content or b"")
        return "250 Caught (not delivered)"


def _page(title: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    ).encode()


def _linked(text: str) -> str:
    """Escaped text with its http(s) addresses as links (the private page, the rating)."""
    out, last = [], 0
    for match in _URL.finditer(text):
        out.append(html.escape(text[last : match.start()]))
        url = html.escape(match.group(0))
        out.append(f'<a href="{url}">{url}</a>')
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def list_page(messages: list[Caught]) -> bytes:
    rows = "".join(
        f'<tr><td><time datetime="{c.received_at.isoformat()}">'
        f"{c.received_at:%Y-%m-%d %H:%M:%S} UTC</time></td>"
        f"<td>{html.escape(c.header('To'))}</td>"
        f'<td><a href="/messages/{c.id}">{html.escape(c.header("Subject") or "(no subject)")}'
        "</a></td></tr>"
        for c in messages
    )
    table = (
        '<table><thead><tr><th scope="col">Received</th><th scope="col">To</th>'
        f'<th scope="col">Subject</th></tr></thead><tbody>{rows}</tbody></table>'
        if messages
        else "<p>No e-mail yet. Everything the product sends shows up here.</p>"
    )
    return _page(
        "E-mail catch-all",
        "<h1>E-mail catch-all</h1><p>Every e-mail the product sent, newest first; none was "
        f"delivered. {len(messages)} message(s). Reload the page to see new ones.</p>{table}",
    )


def message_page(caught: Caught) -> bytes:
    facts = "".join(
        f"<dt>{name}</dt><dd>{html.escape(caught.header(name))}</dd>"
        for name in ("From", "To", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To")
        if caught.header(name)
    )
    text = caught.part("plain")
    parts = f"<h2>Text part</h2><pre>{_linked(text)}</pre>" if text is not None else ""
    if caught.part("html") is not None:
        parts += (
            "<h2>HTML part</h2>"
            f'<iframe src="/messages/{caught.id}/html" sandbox="" title="HTML part of the e-mail"'
            ' referrerpolicy="no-referrer"></iframe>'
        )
    return _page(
        caught.header("Subject") or "E-mail",
        f'<p><a href="/">All e-mails</a> · <a href="/messages/{caught.id}.eml">raw .eml</a></p>'
        f"<h1>{html.escape(caught.header('Subject') or '(no subject)')}</h1>"
        f"<dl>{facts}</dl>{parts}",
    )


def _page_handler(catcher: MailCatcher) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "nivel0-mail-catcher"

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("catcher request: " + format, *args)

        def _send(self, body: bytes, content_type: str, csp: str = PAGE_CSP) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", csp)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/":
                return self._send(list_page(catcher.messages), "text/html; charset=utf-8")
            if path == "/api/messages":
                listing = [
                    {
                        "id": c.id,
                        "received_at": c.received_at.isoformat(),
                        "to": c.header("To"),
                        "subject": c.header("Subject"),
                        "message_id": c.header("Message-ID"),
                    }
                    for c in catcher.messages
                ]
                return self._send(json.dumps(listing).encode(), "application/json")
            match = re.fullmatch(r"/messages/([^/]+?)(\.eml|/html)?", path)
            caught = catcher.get(match.group(1)) if match else None
            if caught is None or match is None:
                self.send_error(HTTPStatus.NOT_FOUND)
                return None
            if match.group(2) == ".eml":
                return self._send(caught.raw, "message/rfc822")
            if match.group(2) == "/html":
                part = caught.part("html") or ""
                return self._send(part.encode(), "text/html; charset=utf-8", MESSAGE_CSP)
            return self._send(message_page(caught), "text/html; charset=utf-8")

    return Handler


def main() -> int:
    settings = Settings()
    configure_logging(settings.log_level)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per SMTP command
    catcher = MailCatcher.from_settings(settings)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    catcher.start()
    try:
        stop.wait()
    finally:
        catcher.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
