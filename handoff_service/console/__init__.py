"""The agents' web console: server-rendered pages under ``/console``.

The pages call the same ticket functions as the JSON API (tickets.py; the state rules stay in
lifecycle.py) and validate forms with the API's own schemas, so redaction and limits apply
alike; the console only turns forms into those calls and results into HTML. One job per module:

- :mod:`.session`: login, logout, the session cookie, CSRF, form parsing;
- :mod:`.views`: the queue and ticket pages;
- :mod:`.actions`: the POST forms on a ticket (post/redirect/get, outcome as a flash message);
- :mod:`.reports`: the admins' support-metrics page and its CSV export, with the SVG charts of
  :mod:`.charts`;
- :mod:`.conversations`: the conversations behind a report figure, and one conversation;
- :mod:`.templating`: the Jinja environment and rendering with the security headers;
- :mod:`.filters`: how values are written for agents, registered as Jinja filters.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from handoff_service.console import actions, conversations, reports, session, views
from handoff_service.console.session import COOKIE_PATH, ConsoleError, LoginRequired, safe_next
from handoff_service.console.templating import PACKAGE_DIR, render


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
    for module in (session, views, actions, reports, conversations):
        app.include_router(module.router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(ConsoleError, _console_error)
