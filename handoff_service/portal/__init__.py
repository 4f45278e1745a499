"""The customer's private ticket page, ``/t/<access key>``: the link in every e-mail.

The customer follows their request, reads the agents' replies, writes back, rates the
solution and reopens it, in Spanish or English, with the help centre's look: its stylesheet
is served from help_center/static as it is (no copy), next to the page's own few rules. One job
per module: :mod:`.views` (routes, page, security headers), :mod:`.forms` (form schemas and
their errors in the customer's words). The operations themselves are in tickets.py.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from handoff_service.portal import views
from handoff_service.portal.views import STATIC_PATH, PortalNotFound, not_found_page
from knowledge.settings import PROJECT_ROOT

HELP_CENTER_STATIC = PROJECT_ROOT / "help_center" / "static"
PORTAL_STATIC = Path(__file__).resolve().parent / "static"


class PortalStatic(StaticFiles):
    """Static files with the portal's headers (except no-store: they hold nothing private)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(
            {k: v for k, v in views.SECURITY_HEADERS.items() if k != "Cache-Control"}
        )
        return response


async def _not_found(request: Request, _exc: Exception) -> HTMLResponse:
    return not_found_page(request.app.state.ctx)


def install(app: FastAPI) -> None:
    """Mount the private page, its static files and its 404 handler on ``app``."""
    app.mount(f"{STATIC_PATH}/help", PortalStatic(directory=HELP_CENTER_STATIC), name="t-help")
    app.mount(f"{STATIC_PATH}/portal", PortalStatic(directory=PORTAL_STATIC), name="t-portal")
    app.include_router(views.router)
    app.add_exception_handler(PortalNotFound, _not_found)
