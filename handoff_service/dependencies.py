"""FastAPI dependencies: the app context, a database session, the authenticated account."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from handoff_service.auth import authenticate
from handoff_service.context import AppContext
from handoff_service.models import Account
from handoff_service.vocabulary import Role

bearer = HTTPBearer(auto_error=False, description="API token (create one with the CLI).")


def get_context(request: Request) -> AppContext:
    return request.app.state.ctx


def get_session(ctx: Annotated[AppContext, Depends(get_context)]) -> Iterator[Session]:
    with ctx.sessions() as session:
        yield session


Ctx = Annotated[AppContext, Depends(get_context)]
DbSession = Annotated[Session, Depends(get_session)]


def require(*roles: Role) -> Callable[..., Account]:
    """A dependency admitting accounts with one of ``roles`` (admins are always admitted)."""
    allowed = {r.value for r in roles} | {Role.ADMIN.value}

    def dependency(
        session: DbSession,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Account:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        account = authenticate(session, credentials.credentials)
        if account is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "invalid or revoked token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        # End the read transaction now: on SQLite every transaction holds the write lock, and
        # the endpoint may do slow work (triage) before it touches the database again.
        session.commit()
        if account.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this action needs the role: {', '.join(sorted(allowed))}",
            )
        return account

    return dependency


Agent = Annotated[Account, Depends(require(Role.AGENT))]
Admin = Annotated[Account, Depends(require(Role.ADMIN))]
Bot = Annotated[Account, Depends(require(Role.SERVICE))]
