"""Who is asking, and is the request really theirs: login, logout, the session cookie, CSRF.

Login is with an API token (agent or admin), checked as the API checks it; then a server-side
session (console_sessions.py) whose opaque id is the cookie. Every POST form carries the
session's CSRF token, and the login form a double-submit token bound to a short-lived
SameSite=Strict cookie. Forms are parsed here too (urlencoded, standard library).
"""

from __future__ import annotations

import datetime as dt
import hmac
import math
import secrets
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from handoff_service import console_sessions
from handoff_service.auth import find_token
from handoff_service.console.templating import render
from handoff_service.context import AppContext
from handoff_service.dependencies import Ctx, DbSession
from handoff_service.models import ConsoleSession
from handoff_service.ratelimit import RateLimited, Scope, client_address
from handoff_service.vocabulary import Role

SESSION_COOKIE = "n0_console"
LOGIN_COOKIE = "n0_console_login"
COOKIE_PATH = "/console"
MAX_FORM_FIELDS = 64
MAX_TOKEN_CHARS = 200

router = APIRouter(prefix=COOKIE_PATH, include_in_schema=False)


class LoginRequired(Exception):
    """No live session: the handler redirects to the login page."""


class ConsoleError(Exception):
    """A request the console refuses outright (bad form, CSRF, unknown ticket): an error page."""

    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code = status_code
        self.message = message


# --- dependencies -------------------------------------------------------------------------


def current_session(request: Request, session: DbSession) -> ConsoleSession:
    cookie = request.cookies.get(SESSION_COOKIE)
    row = console_sessions.load(session, cookie) if cookie else None
    if row is None:
        raise LoginRequired
    session.commit()  # end the read transaction (on SQLite it holds the write lock)
    return row


async def form_fields(request: Request) -> dict[str, str]:
    """The urlencoded form body (the console's forms send nothing else).

    Parsed here rather than with FastAPI's Form(), which needs python-multipart for what is
    a one-line standard-library job. The body size is already capped by BodySizeLimit.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise ConsoleError(415, "Send the form from the console page.")
    try:
        pairs = parse_qsl(
            (await request.body()).decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConsoleError(400, "The form could not be read (invalid encoding).") from exc
    return dict(pairs)


Login = Annotated[ConsoleSession, Depends(current_session)]
Form = Annotated[dict[str, str], Depends(form_fields)]


def admin_session(row: Login) -> ConsoleSession:
    """The session, if its account is an admin's; an agent gets the console's 403 page (as the
    API answers 403 to an agent's token on admin endpoints)."""
    if row.token.account.role != Role.ADMIN.value:
        raise ConsoleError(403, "This page is for admins; your account is an agent's.")
    return row


AdminLogin = Annotated[ConsoleSession, Depends(admin_session)]


def checked_session(row: Login, form: Form) -> ConsoleSession:
    """The session, once the form proved it came from a console page (CSRF token)."""
    if not console_sessions.csrf_ok(row, form.get("csrf_token")):
        raise ConsoleError(
            403, "This form did not come from your console session. Reload the page and retry."
        )
    return row


Checked = Annotated[ConsoleSession, Depends(checked_session)]


def take_flash(session: DbSession, row: ConsoleSession) -> list[dict[str, Any]]:
    """The session's pending messages, removed from it (each is shown once)."""
    messages = console_sessions.pop_flash(row)
    if messages:
        session.commit()
    return messages


def safe_next(target: str | None) -> str:
    """Only redirect to console pages after login (no open redirect)."""
    if (
        target
        and target.startswith(f"{COOKIE_PATH}/")
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return f"{COOKIE_PATH}/"


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    ctx: AppContext = request.app.state.ctx
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=ctx.settings.console_secure_cookie,
    )


# --- login / logout -----------------------------------------------------------------------


def login_page(
    request: Request, next_url: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    """The login form with a fresh double-submit token (cookie + hidden field)."""
    ctx: AppContext = request.app.state.ctx
    login_token = secrets.token_urlsafe(32)
    insecure_transport = (
        ctx.settings.console_secure_cookie
        and request.url.scheme == "http"
        and request.url.hostname not in {"localhost", "127.0.0.1", "::1"}
    )
    response = render(
        request,
        "login.html",
        status_code=status_code,
        flash=[{"level": "error", "text": error}] if error else None,
        login_token=login_token,
        next_url=next_url,
        insecure_transport=insecure_transport,
    )
    set_cookie(response, request, LOGIN_COOKIE, login_token, max_age=3600)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, session: DbSession, next: str | None = None) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and console_sessions.load(session, cookie) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return login_page(request, safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, ctx: Ctx, session: DbSession, form: Form) -> Response:
    next_url = safe_next(form.get("next"))
    expected = request.cookies.get(LOGIN_COOKIE)
    submitted = form.get("login_token", "")
    if not expected or not hmac.compare_digest(expected.encode(), submitted.encode()):
        return login_page(request, next_url, "The login form expired; please try again.", 403)
    # Failed logins per client address: over the limit, even a good token is refused (or
    # guessing could go on at the limit's pace).
    address = client_address(request)
    try:
        ctx.rate_limits.check(Scope.FAILED_LOGINS_PER_CLIENT, address)
    except RateLimited as exc:
        minutes = math.ceil(exc.retry_after / 60)
        message = f"Too many failed logins from your address: try again in {minutes} min."
        page = login_page(request, next_url, message, 429)
        page.headers.update(exc.headers)
        return page
    token = form.get("token", "").strip()
    row = find_token(session, token) if 0 < len(token) <= MAX_TOKEN_CHARS else None
    if row is None:
        ctx.rate_limits.record(Scope.FAILED_LOGINS_PER_CLIENT, address)
        return login_page(request, next_url, "Unknown or revoked token.", 401)
    if row.account.role not in console_sessions.CONSOLE_ROLES:
        return login_page(
            request, next_url, "This console is for agents; this token cannot log in.", 403
        )
    lifetime = dt.timedelta(hours=ctx.settings.console_session_hours)
    _session_row, session_id = console_sessions.start(session, row, lifetime)
    session.commit()
    response = RedirectResponse(next_url, status_code=303)
    set_cookie(response, request, SESSION_COOKIE, session_id, int(lifetime.total_seconds()))
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/logout")
def logout(session: DbSession, row: Checked) -> RedirectResponse:
    console_sessions.end(session, row)
    session.commit()
    response = RedirectResponse(f"{COOKIE_PATH}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response
