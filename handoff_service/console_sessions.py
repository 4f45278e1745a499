"""Web-console sessions: server-side, opaque, tied to the API token used to log in.

The cookie carries only a random session id (HttpOnly, SameSite=Strict, Secure unless
``HANDOFF_CONSOLE_SECURE_COOKIE=false``); the database stores its SHA-256, the account is
reached through the token row. Nothing in the cookie can be read or forged into access, and
logging out, revoking the token or deactivating the account ends the session at once. Each
session has its own CSRF token, echoed in every form.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from handoff_service import auth
from handoff_service.models import ApiToken, ConsoleSession, utcnow
from handoff_service.vocabulary import Role

CONSOLE_ROLES = frozenset({Role.AGENT.value, Role.ADMIN.value})


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def start(session: Session, token: ApiToken, lifetime: dt.timedelta) -> tuple[ConsoleSession, str]:
    """A new session for ``token``; returns the row and the id for the cookie (shown once).

    Expired sessions are swept here, so the table does not grow without bound.
    """
    now = utcnow()
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
    session_id = secrets.token_urlsafe(32)
    row = ConsoleSession(
        session_hash=_digest(session_id),
        token=token,
        csrf_token=secrets.token_urlsafe(32),
        flash=[],
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    return row, session_id


def load(session: Session, session_id: str) -> ConsoleSession | None:
    """The live session for a cookie value: unexpired, its token neither revoked nor expired
    (:func:`auth.usable`), its account active and allowed in the console; else None."""
    row = session.scalars(
        select(ConsoleSession)
        .options(joinedload(ConsoleSession.token).joinedload(ApiToken.account))
        .where(
            ConsoleSession.session_hash == _digest(session_id),
            ConsoleSession.expires_at > utcnow(),
        )
    ).first()
    if row is None or not auth.usable(row.token, utcnow()):
        return None
    account = row.token.account
    return row if account.active and account.role in CONSOLE_ROLES else None


def end(session: Session, row: ConsoleSession) -> None:
    session.delete(row)


def csrf_ok(row: ConsoleSession, submitted: str | None) -> bool:
    return submitted is not None and hmac.compare_digest(
        row.csrf_token.encode(), submitted.encode("utf-8", "replace")
    )


def add_flash(
    row: ConsoleSession, level: str, text: str, kept: dict[str, Any] | None = None
) -> None:
    """Queue a message for the next page; ``kept`` = what a refused form held, to refill it."""
    message: dict[str, Any] = {"level": level, "text": text}
    if kept:
        message["kept"] = kept
    row.flash = [*row.flash, message]  # reassign: the JSON column does not track mutation


def pop_flash(row: ConsoleSession) -> list[dict[str, Any]]:
    messages = list(row.flash)
    if messages:
        row.flash = []
    return messages
