"""Accounts and tokens (admins only). The first admin is created with the CLI."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from handoff_service import auth, sla
from handoff_service.dependencies import Admin, Ctx, DbSession
from handoff_service.models import Account, ApiToken, utcnow
from handoff_service.routers.errors import errors
from handoff_service.schemas import (
    MAX_TOKEN_DAYS,
    AccountContactIn,
    AccountIn,
    AccountOut,
    TokenInfo,
    TokenOut,
)

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=errors(401, 403, 422))
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
ExpiresDays = Annotated[
    int | None,
    Query(ge=1, le=MAX_TOKEN_DAYS, description="Days until the token expires; none: never."),
]


def _account(session: DbSession, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"account {account_id} not found")
    return account


@router.get("/accounts", response_model=list[AccountOut])
def list_accounts(session: DbSession, _admin: Admin) -> list[AccountOut]:
    rows = session.scalars(select(Account).order_by(Account.id)).all()
    return [AccountOut.model_validate(a) for a in rows]


@router.post(
    "/accounts",
    response_model=TokenOut,
    status_code=201,
    responses={409: {"description": "Name taken."}},
)
def create_account(body: AccountIn, session: DbSession, _admin: Admin) -> TokenOut:
    """Create an agent, admin or service (bot) account and its first token (shown once)."""
    try:
        account = auth.create_account(session, body.name, body.role)
        row, token = auth.issue_token(session, account)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, f"account {body.name!r} exists") from None
    return TokenOut(account=AccountOut.model_validate(account), token=token, token_id=row.id)


@router.patch("/accounts/{account_id}", response_model=AccountOut, responses=errors(404))
def set_contact(
    account_id: Id, body: AccountContactIn, ctx: Ctx, session: DbSession, _admin: Admin
) -> AccountOut:
    """Set where an agent's "due soon" / "overdue" e-mails go (``email``; null: none) and for
    which queues (names from the routing rules). Only the fields given change."""
    account = _account(session, account_id)
    try:
        sla.set_notice_contact(
            account,
            body.model_dump(exclude_unset=True),
            ctx.rules.queues,
        )
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    session.commit()
    return AccountOut.model_validate(account)


@router.post(
    "/accounts/{account_id}/tokens", response_model=TokenOut, status_code=201, responses=errors(404)
)
def create_token(
    account_id: Id, session: DbSession, _admin: Admin, expires_days: ExpiresDays = None
) -> TokenOut:
    """A new token for the account (shown once), expiring after ``expires_days`` if given."""
    account = _account(session, account_id)
    lifetime = dt.timedelta(days=expires_days) if expires_days is not None else None
    row, token = auth.issue_token(session, account, lifetime)
    session.commit()
    return TokenOut(
        account=AccountOut.model_validate(account),
        token=token,
        token_id=row.id,
        expires_at=row.expires_at,
    )


@router.get("/tokens", response_model=list[TokenInfo])
def list_tokens(session: DbSession, _admin: Admin) -> list[TokenInfo]:
    """Every token by id, revoked and expired ones too: prefix, owner and dates (never the
    token or its hash), to find the one to revoke."""
    now = utcnow()
    return [
        TokenInfo(
            id=row.id,
            account=row.account.name,
            prefix=row.prefix,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            usable=auth.usable(row, now),
        )
        for row in auth.list_tokens(session)
    ]


@router.delete("/tokens/{token_id}", status_code=204, responses=errors(404))
def revoke_token(token_id: Id, session: DbSession, _admin: Admin) -> None:
    """Revoke one token by id: it stops authenticating at once (console logins made with it
    too); the account's other tokens keep working."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"token {token_id} not found")
    auth.revoke(session, row)
    session.commit()


@router.post("/accounts/{account_id}/deactivate", response_model=AccountOut, responses=errors(404))
def deactivate(account_id: Id, session: DbSession, _admin: Admin) -> AccountOut:
    account = _account(session, account_id)
    account.active = False
    session.commit()
    return AccountOut.model_validate(account)
