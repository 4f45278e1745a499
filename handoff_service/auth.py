"""Bearer tokens: random secrets handed out once, stored as SHA-256 digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from handoff_service.models import Account, ApiToken, utcnow
from handoff_service.vocabulary import Role

TOKEN_PREFIX = "n0h_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def issue_token(session: Session, account: Account) -> tuple[ApiToken, str]:
    """Create a token for ``account``; returns the row and the clear token (shown once)."""
    token = new_token()
    row = ApiToken(account=account, token_hash=hash_token(token), prefix=token[:10])
    session.add(row)
    session.flush()
    return row, token


def create_account(session: Session, name: str, role: Role) -> Account:
    account = Account(name=name, role=role.value)
    session.add(account)
    session.flush()
    return account


def find_token(session: Session, token: str) -> ApiToken | None:
    """The unrevoked token row of an active account matching ``token``, or None.

    The lookup is by digest (a unique index), so the secret itself is never compared; the
    final compare_digest guards against a backend comparing case-insensitively.
    """
    digest = hash_token(token)
    row = session.scalars(
        select(ApiToken)
        .options(joinedload(ApiToken.account))
        .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
    ).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return row if row.account.active else None


def authenticate(session: Session, token: str) -> Account | None:
    """The active account owning ``token``, or None."""
    row = find_token(session, token)
    return row.account if row is not None else None


def revoke(session: Session, token_row: ApiToken) -> None:
    token_row.revoked_at = utcnow()
