"""Bearer tokens: random secrets handed out once, stored as SHA-256 digests."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from handoff_service.models import Account, ApiToken, utcnow
from handoff_service.vocabulary import Role

TOKEN_PREFIX = "n0h_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def issue_token(
    session: Session, account: Account, lifetime: dt.timedelta | None = None
) -> tuple[ApiToken, str]:
    """Create a token for ``account``, valid for ``lifetime`` (None: until revoked); returns
    the row and the clear token (shown once)."""
    token = new_token()
    expires_at = utcnow() + lifetime if lifetime is not None else None
    row = ApiToken(
        account=account, token_hash=hash_token(token), prefix=token[:10], expires_at=expires_at
    )
    session.add(row)
    session.flush()
    return row, token


def create_account(session: Session, name: str, role: Role) -> Account:
    account = Account(name=name, role=role.value)
    session.add(account)
    session.flush()
    return account


def find_token(session: Session, token: str) -> ApiToken | None:
    """The unrevoked, unexpired token row of an active account matching ``token``, or None.

    The lookup is by digest (a unique index), so the secret itself is never compared; the
    final compare_digest guards against a backend comparing case-insensitively.
    """
    digest = hash_token(token)
    row = session.scalars(
        select(ApiToken)
        .options(joinedload(ApiToken.account))
        .where(
            ApiToken.token_hash == digest,
            ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > utcnow()),
        )
    ).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return row if row.account.active else None


def authenticate(session: Session, token: str) -> Account | None:
    """The active account owning ``token``, or None."""
    row = find_token(session, token)
    return row.account if row is not None else None


def usable(token_row: ApiToken, now: dt.datetime) -> bool:
    """Neither revoked nor expired at ``now`` (the same rule as :func:`find_token`'s query)."""
    return token_row.revoked_at is None and (
        token_row.expires_at is None or token_row.expires_at > now
    )


def list_tokens(session: Session) -> Sequence[ApiToken]:
    """Every token, revoked and expired ones included, oldest first, with its account."""
    return session.scalars(
        select(ApiToken).options(joinedload(ApiToken.account)).order_by(ApiToken.id)
    ).all()


def revoke(session: Session, token_row: ApiToken) -> None:
    if token_row.revoked_at is None:
        token_row.revoked_at = utcnow()
