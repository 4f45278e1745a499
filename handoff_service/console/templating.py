"""The console's Jinja environment (autoescaped, with the filters of :mod:`.filters`) and the
one function that turns a template into a page with the console's security headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from handoff_service.console import filters
from handoff_service.context import AppContext
from handoff_service.models import ConsoleSession

PACKAGE_DIR = Path(__file__).resolve().parents[1]
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

_environment = Environment(
    loader=FileSystemLoader(PACKAGE_DIR / "templates"), autoescape=True, auto_reload=False
)
filters.register(_environment)
templates = Jinja2Templates(env=_environment)


def render(
    request: Request,
    name: str,
    *,
    status_code: int = 200,
    row: ConsoleSession | None = None,
    flash: list[dict[str, Any]] | None = None,
    **context: Any,
) -> HTMLResponse:
    """``console/<name>`` for the session ``row`` (None: logged out), with flash messages."""
    ctx: AppContext = request.app.state.ctx
    response = templates.TemplateResponse(
        request,
        f"console/{name}",
        {
            "agent": row.token.account if row else None,
            "csrf_token": row.csrf_token if row else None,
            "flash": flash or [],
            "zone": ctx.timezone,
            "timezone": ctx.settings.timezone,
            "help_center_url": ctx.settings.help_center_url,
            **context,
        },
        status_code=status_code,
    )
    response.headers.update(SECURITY_HEADERS)
    return response
