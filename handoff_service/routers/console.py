"""The agents' web console: server-rendered pages under ``/console``.

The pages call the same ticket functions as the JSON API (tickets.py; the state rules stay in
lifecycle.py) and validate forms with the API's own schemas, so redaction and limits apply
alike; this module only turns forms into those calls and results into HTML. Actions follow
post/redirect/get: the outcome (including a refused transition, the API's 409) is shown as a
flash message on the ticket page.

Security: login with an API token (agent or admin), then a server-side session
(console_sessions.py); every POST form carries the session's CSRF token, and the login form a
double-submit token bound to a short-lived SameSite=Strict cookie.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from handoff_service import console_sessions, tickets
from handoff_service.auth import find_token
from handoff_service.context import AppContext
from handoff_service.dependencies import Ctx, DbSession
from handoff_service.kb_drafts import DraftError
from handoff_service.lifecycle import (
    EDITABLE,
    KB_DRAFTABLE,
    OPEN,
    Action,
    InvalidTransition,
    allowed_actions,
)
from handoff_service.models import Account, ConsoleSession, Ticket, utcnow
from handoff_service.redaction import redact
from handoff_service.schemas import (
    MAX_NOTE_CHARS,
    TICKET_NUMBER_PATTERN,
    CommentIn,
    EscalateIn,
    KbDraftIn,
    QueueName,
    ReasonIn,
    ResolveIn,
    TicketPatch,
)
from handoff_service.tickets import TicketNotFound
from handoff_service.vocabulary import Category, Language, Priority, Status, Visibility

PACKAGE_DIR = Path(__file__).resolve().parent.parent
SESSION_COOKIE = "n0_console"
LOGIN_COOKIE = "n0_console_login"
COOKIE_PATH = "/console"
PAGE_SIZE = 50
MAX_FORM_FIELDS = 64
MAX_TOKEN_CHARS = 200
LANGUAGE_NAMES = {"en": "English", "es": "Español"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages carry customers' personal data
}

router = APIRouter(prefix="/console", include_in_schema=False)
templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(PACKAGE_DIR / "templates"), autoescape=True, auto_reload=False
    )
)


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


def checked_session(row: Login, form: Form) -> ConsoleSession:
    """The session, once the form proved it came from a console page (CSRF token)."""
    if not console_sessions.csrf_ok(row, form.get("csrf_token")):
        raise ConsoleError(
            403, "This form did not come from your console session. Reload the page and retry."
        )
    return row


Checked = Annotated[ConsoleSession, Depends(checked_session)]


# --- presentation helpers -----------------------------------------------------------------


def duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else "less than a minute"


def time_left(ticket: Ticket, now: dt.datetime) -> str:
    """'2 d 3 h left' / 'overdue by 4 h 10 min' for open tickets; the status otherwise."""
    if Status(ticket.status) not in OPEN:
        return ticket.status.replace("_", " ")
    seconds = int((ticket.due_at - now).total_seconds())
    return f"{duration(seconds)} left" if seconds >= 0 else f"overdue by {duration(-seconds)}"


def is_overdue(ticket: Ticket, now: dt.datetime) -> bool:
    return Status(ticket.status) in OPEN and ticket.due_at < now


def local_time(moment: dt.datetime | None, timezone: ZoneInfo) -> str:
    if moment is None:
        return ""
    return moment.astimezone(timezone).strftime("%a %d %b %Y %H:%M")


def event_value(key: str, value: object, timezone: ZoneInfo) -> str:
    """A history detail as an agent reads it: probabilities in %, instants in local time."""
    if key.endswith("_confidence") and isinstance(value, float):
        return f"{value * 100:.0f} %"
    if key.endswith("_at") and isinstance(value, str):
        try:
            return local_time(dt.datetime.fromisoformat(value), timezone)
        except ValueError:
            return value
    return str(value)


def article_url(ctx: AppContext, article_id: str, language: str) -> str | None:
    """The help-centre link for a KB article id ``<topic>-<language>``, if it has that form."""
    suffix = f"-{language}"
    if not article_id.endswith(suffix):
        return None
    topic = article_id[: -len(suffix)]
    base = ctx.settings.help_center_url.rstrip("/")
    return f"{base}/{language}/{quote(topic)}"


def render(
    request: Request,
    name: str,
    *,
    status_code: int = 200,
    row: ConsoleSession | None = None,
    flash: list[dict[str, Any]] | None = None,
    **context: Any,
) -> HTMLResponse:
    ctx: AppContext = request.app.state.ctx
    response = templates.TemplateResponse(
        request,
        f"console/{name}",
        {
            "agent": row.token.account if row else None,
            "csrf_token": row.csrf_token if row else None,
            "flash": flash or [],
            "when": lambda moment: local_time(moment, ctx.timezone),
            "detail": lambda key, value: event_value(key, value, ctx.timezone),
            "timezone": ctx.settings.timezone,
            "language_names": LANGUAGE_NAMES,
            **context,
        },
        status_code=status_code,
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def take_flash(session: DbSession, row: ConsoleSession) -> list[dict[str, Any]]:
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
    token = form.get("token", "").strip()
    row = find_token(session, token) if 0 < len(token) <= MAX_TOKEN_CHARS else None
    if row is None:
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


# --- the queue ----------------------------------------------------------------------------


class QueueFilters(BaseModel):
    """The queue's filters, validated with the API's types."""

    model_config = ConfigDict(extra="ignore")

    queue: QueueName | None = None
    status: Status | None = None
    priority: Priority | None = None
    tier: int | None = Field(default=None, ge=1, le=3)
    language: Language | None = None
    offset: int = Field(default=0, ge=0, le=1_000_000)

    def columns(self) -> dict[str, Any]:
        return self.model_dump(exclude={"offset"})


def describe(error: ValidationError) -> str:
    """'resolution note: String should have at least 1 character; ...' for a flash message."""
    parts = []
    for item in error.errors():
        field = " ".join(str(part) for part in item["loc"]).replace("_", " ")
        parts.append(f"{field}: {item['msg']}" if field else item["msg"])
    return "; ".join(parts)


@router.get("/", response_class=HTMLResponse)
def queue_page(request: Request, ctx: Ctx, session: DbSession, row: Login) -> HTMLResponse:
    raw = {key: value for key, value in request.query_params.items() if value != ""}
    queues = sorted({rule.queue for rule in ctx.rules.rules})
    options = {
        "queues": queues,
        "statuses": list(Status),
        "priorities": list(Priority),
        "languages": list(Language),
        "tiers": [1, 2, 3],
    }
    try:
        filters = QueueFilters.model_validate(raw)
    except ValidationError as exc:
        return render(
            request,
            "queue.html",
            status_code=400,
            row=row,
            flash=[{"level": "error", "text": f"Invalid filter: {describe(exc)}"}],
            filters=QueueFilters(),
            items=[],
            total=0,
            pages={},
            now=utcnow(),
            **options,
        )
    total, items = tickets.list_tickets(session, filters.columns(), PAGE_SIZE, filters.offset)
    kept = {k: v for k, v in filters.columns().items() if v is not None}
    pages = {}
    if filters.offset > 0:
        pages["previous"] = {**kept, "offset": max(filters.offset - PAGE_SIZE, 0)}
    if filters.offset + PAGE_SIZE < total:
        pages["next"] = {**kept, "offset": filters.offset + PAGE_SIZE}
    return render(
        request,
        "queue.html",
        row=row,
        flash=take_flash(session, row),
        filters=filters,
        items=items,
        total=total,
        pages=pages,
        now=utcnow(),
        time_left=time_left,
        is_overdue=is_overdue,
        **options,
    )


# --- a ticket -----------------------------------------------------------------------------


def load_ticket(session: DbSession, number: str) -> Ticket:
    if not re.fullmatch(TICKET_NUMBER_PATTERN, number) or len(number) > 20:
        raise ConsoleError(404, f"There is no ticket {number}.")
    try:
        return tickets.get_ticket(session, number)
    except TicketNotFound as exc:
        raise ConsoleError(404, f"There is no ticket {number}.") from exc


@router.get("/tickets/{number}", response_class=HTMLResponse)
def ticket_page(
    request: Request, number: str, ctx: Ctx, session: DbSession, row: Login
) -> HTMLResponse:
    ticket = load_ticket(session, number)
    now = utcnow()
    flash = take_flash(session, row)
    kept = {m["kept"]["action"]: m["kept"]["values"] for m in flash if m.get("kept")}
    return render(
        request,
        "ticket.html",
        row=row,
        flash=flash,
        kept=kept,
        ticket=ticket,
        now=now,
        time_left=time_left(ticket, now),
        overdue=is_overdue(ticket, now),
        actions={action.value for action in allowed_actions(ticket.status)},
        editable=Status(ticket.status) in EDITABLE,
        draftable=Status(ticket.status) in KB_DRAFTABLE,
        escalation_tiers=[tier for tier in (2, 3) if tier > ticket.tier],
        queues=sorted({rule.queue for rule in ctx.rules.rules} | {ticket.queue}),
        priorities=list(Priority),
        categories=[c for c in Category if c is not Category.OTHER],
        article_url=lambda article_id: article_url(ctx, article_id, ticket.language),
    )


# Each action: (ctx, ticket, agent, form) -> the success message. Forms are validated with
# the JSON API's schemas; the work is done by the functions in tickets.py.
ActionFn = Callable[[AppContext, Ticket, Account, dict[str, str]], str]


def _optional(form: dict[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


def _claim(_ctx: AppContext, ticket: Ticket, agent: Account, _form: dict[str, str]) -> str:
    tickets.claim(ticket, agent)
    return "Claimed: the ticket is assigned to you."


def _lifecycle(action: Action, message: str) -> ActionFn:
    def run(_ctx: AppContext, ticket: Ticket, agent: Account, _form: dict[str, str]) -> str:
        tickets.transition(ticket, agent, action)
        return message

    return run


def _comment(_ctx: AppContext, ticket: Ticket, agent: Account, form: dict[str, str]) -> str:
    body = CommentIn.model_validate(
        {"body": form.get("body", ""), "visibility": form.get("visibility", "internal")}
    )
    tickets.comment(ticket, agent, body.body, body.visibility)
    if body.visibility is Visibility.CUSTOMER:
        return "Reply added: the customer sees it in the status lookup."
    return "Internal note added."


def _change(ctx: AppContext, ticket: Ticket, agent: Account, form: dict[str, str]) -> str:
    body = TicketPatch.model_validate(
        {"priority": _optional(form, "priority"), "queue": _optional(form, "queue")}
    )
    before = (ticket.priority, ticket.queue)
    tickets.change(ctx, ticket, agent, body.priority, body.queue)
    if (ticket.priority, ticket.queue) == before:
        return "Nothing to change: priority and queue are as they were."
    return f"Now {ticket.priority} priority in queue {ticket.queue}."


def _escalate(_ctx: AppContext, ticket: Ticket, agent: Account, form: dict[str, str]) -> str:
    body = EscalateIn.model_validate(
        {
            "tier": form.get("tier", ""),
            "reason": form.get("reason", ""),
            "queue": _optional(form, "queue"),
        }
    )
    tickets.escalate(ticket, agent, body.tier, body.reason, body.queue)
    return f"Escalated to tier {body.tier}."


def _resolve(_ctx: AppContext, ticket: Ticket, agent: Account, form: dict[str, str]) -> str:
    body = ResolveIn.model_validate({"resolution_note": form.get("resolution_note", "")})
    tickets.resolve(ticket, agent, body.resolution_note)
    return "Resolved."


def _close(_ctx: AppContext, ticket: Ticket, agent: Account, _form: dict[str, str]) -> str:
    tickets.close(ticket, agent)
    return "Closed."


def _reopen(_ctx: AppContext, ticket: Ticket, agent: Account, form: dict[str, str]) -> str:
    body = ReasonIn.model_validate({"reason": form.get("reason", "")})
    tickets.reopen(ticket, agent, body.reason)
    return "Reopened."


def _kb_draft(ctx: AppContext, ticket: Ticket, agent: Account, form: dict[str, str]) -> str:
    questions = [line.strip() for line in form.get("questions", "").splitlines() if line.strip()]
    tags = [tag.strip() for tag in form.get("tags", "").split(",") if tag.strip()]
    body = KbDraftIn.model_validate(
        {
            "title": _optional(form, "title"),
            "topic": _optional(form, "topic"),
            "category": _optional(form, "category"),
            "summary": _optional(form, "summary"),
            "questions": questions or None,
            "tags": tags or None,
        }
    )
    path = tickets.make_kb_draft(ctx, ticket, agent, body)
    return f"KB draft written to {path} (status: draft, for an editor to review)."


ACTIONS: dict[str, ActionFn] = {
    "claim": _claim,
    "start": _lifecycle(Action.START, "Work started."),
    "wait-on-customer": _lifecycle(Action.WAIT_ON_CUSTOMER, "Now waiting on the customer."),
    "resume": _lifecycle(Action.RESUME, "Work resumed."),
    "comment": _comment,
    "change": _change,
    "escalate": _escalate,
    "resolve": _resolve,
    "close": _close,
    "reopen": _reopen,
    "kb-draft": _kb_draft,
}


def kept_input(action: str, form: dict[str, str]) -> dict[str, Any]:
    """A refused form's text, to refill it so nothing typed is lost; redacted like stored
    text, since it waits in the session row until the page is shown."""
    values = {
        key: redact(value[:MAX_NOTE_CHARS])
        for key, value in form.items()
        if key != "csrf_token" and value.strip()
    }
    return {"action": action, "values": values} if values else {}


@router.post("/tickets/{number}/{action}")
def ticket_action(
    number: str, action: str, ctx: Ctx, session: DbSession, row: Checked, form: Form
) -> RedirectResponse:
    run = ACTIONS.get(action)
    if run is None:
        raise ConsoleError(404, f"Unknown action: {action}.")
    ticket = load_ticket(session, number)
    try:
        message = run(ctx, ticket, row.token.account, form)
        session.commit()
        console_sessions.add_flash(row, "success", message)
    except (InvalidTransition, DraftError, ValidationError) as exc:
        session.rollback()
        text = describe(exc) if isinstance(exc, ValidationError) else str(exc)
        console_sessions.add_flash(row, "error", text, kept=kept_input(action, form))
    session.commit()
    return RedirectResponse(f"{COOKIE_PATH}/tickets/{ticket.number}", status_code=303)


# --- wiring -------------------------------------------------------------------------------


async def _login_required(request: Request, _exc: Exception) -> RedirectResponse:
    target = request.url.path if request.method == "GET" else f"{COOKIE_PATH}/"
    if request.method == "GET" and request.url.query:
        target += f"?{request.url.query}"
    return RedirectResponse(
        f"{COOKIE_PATH}/login?next={quote(safe_next(target), safe='')}", status_code=303
    )


async def _console_error(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, ConsoleError)
    return render(request, "error.html", status_code=exc.status_code, message=exc.message)


def install(app: FastAPI) -> None:
    """Mount the console's pages, static files and error handlers on ``app``."""
    app.mount(
        f"{COOKIE_PATH}/static",
        StaticFiles(directory=PACKAGE_DIR / "static"),
        name="console-static",
    )
    app.include_router(router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(ConsoleError, _console_error)
