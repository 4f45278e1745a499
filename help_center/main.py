"""FastAPI app: the Voltia sample page with the chat widget, and the help centre."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from help_center.i18n import STRINGS, widget_strings
from help_center.knowledge import (
    HelpKnowledge,
    KnowledgeUnavailable,
    by_category,
    published_article,
)
from help_center.rendering import markdown_to_html
from help_center.settings import HelpCenterSettings
from knowledge.articles import CATEGORY_LABELS
from knowledge.search import Band
from knowledge.settings import LANGUAGES

PACKAGE_DIR = Path(__file__).parent
# How many articles a search shows at most.
SEARCH_K = 5
# Reasons (SearchOutcome.reason) for not searching at all, and the message shown for each.
_UNSEARCHED = {
    "empty": "search_empty",
    "too_long": "search_too_long",
    "no_letters": "search_no_letters",
}


_ORIGIN_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def _origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, or None if it is not a plain one (nothing
    of a malformed setting reaches the header)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not _ORIGIN_HOST.match(parts.netloc):
        return None
    return f"{parts.scheme}://{parts.netloc}"


def security_headers(rasa_public_url: str) -> dict[str, str]:
    """The headers of every response. The pages load only their own scripts, styles and
    images (no inline script or style: the widget's configuration is a JSON data block, not
    run); the widget talks to Rasa's REST channel, so connect-src allows Rasa's origin. No
    site may frame the pages (clickjacking), and search URLs (the customer's own words) never
    leave the site in a Referer."""
    connect = " ".join(filter(None, ["'self'", _origin(rasa_public_url)]))
    policy = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        f"connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


def create_app(settings: HelpCenterSettings, knowledge: HelpKnowledge) -> FastAPI:
    """The app over ``knowledge``, whose warm-up starts with the server."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        knowledge.start_warm_up()
        yield

    app = FastAPI(
        title="nivel0 help centre",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    templates = Jinja2Templates(directory=PACKAGE_DIR / "templates")
    headers = security_headers(settings.rasa_public_url)

    @app.middleware("http")
    async def _security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(headers)
        return response

    def render(
        request: Request, name: str, language: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            name,
            {
                "lang": language,
                "t": STRINGS[language],
                "categories": CATEGORY_LABELS[language],
                "all_strings": STRINGS,
                "widget_config": {
                    "rasaUrl": settings.rasa_public_url,
                    "pageLanguage": language,
                    "strings": widget_strings(),
                },
                **context,
            },
            status_code=status_code,
        )

    def path_language(request: Request) -> str:
        parts = request.url.path.strip("/").split("/")
        return next((p for p in parts[:2] if p in LANGUAGES), "en")

    def check_language(language: str) -> None:
        if language not in LANGUAGES:
            raise HTTPException(404)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code != 404:
            return PlainTextResponse(
                str(exc.detail), status_code=exc.status_code, headers=exc.headers
            )
        return render(request, "not_found.html", path_language(request), status_code=404)

    @app.exception_handler(KnowledgeUnavailable)
    async def unavailable(request: Request, exc: KnowledgeUnavailable) -> Response:
        return render(request, "unavailable.html", path_language(request), status_code=503)

    @app.get("/healthz", response_model=None)
    def healthz() -> dict[str, Any] | JSONResponse:
        """Ready once the knowledge base is loaded (a request during the warm-up waits)."""
        try:
            kb = knowledge.service()
        except KnowledgeUnavailable:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return {"status": "ok", "articles": sum(a.is_published for a in kb.articles())}

    @app.get("/", response_class=HTMLResponse)
    def home_en(request: Request) -> HTMLResponse:
        return render(request, "home.html", "en", alternates={"es": "/es/"})

    @app.get("/es/", response_class=HTMLResponse)
    def home_es(request: Request) -> HTMLResponse:
        return render(request, "home.html", "es", alternates={"en": "/"})

    @app.get("/help")
    def help_root(request: Request) -> RedirectResponse:
        accepted = request.headers.get("accept-language", "").strip().lower()
        return RedirectResponse(f"/help/{'es' if accepted.startswith('es') else 'en'}")

    @app.get("/help/{language}", response_class=HTMLResponse)
    def help_index(request: Request, language: str) -> HTMLResponse:
        check_language(language)
        return render(
            request,
            "help_index.html",
            language,
            groups=by_category(knowledge.service(), language),
            alternates={other: f"/help/{other}" for other in LANGUAGES if other != language},
        )

    @app.get("/help/{language}/search", response_class=HTMLResponse)
    def help_search(request: Request, language: str, q: str = Query("")) -> HTMLResponse:
        check_language(language)
        context: dict[str, Any] = {
            "query": q,
            "alternates": {other: f"/help/{other}" for other in LANGUAGES if other != language},
        }
        if not q.strip():
            return render(request, "search.html", language, message="search_empty", **context)
        try:
            outcome = knowledge.service().search(q, language, k=SEARCH_K)
        except KnowledgeUnavailable:
            return render(
                request,
                "search.html",
                language,
                status_code=503,
                message="search_unavailable",
                **context,
            )
        if outcome.band is Band.FALLBACK:
            context["message"] = _UNSEARCHED.get(outcome.reason, "search_fallback")
            context["offer_chat"] = outcome.reason not in _UNSEARCHED
        return render(
            request,
            "search.html",
            language,
            band=outcome.band.value,
            hits=outcome.hits,
            **context,
        )

    @app.get("/help/{language}/{topic}", response_class=HTMLResponse)
    def help_article(request: Request, language: str, topic: str) -> HTMLResponse:
        check_language(language)
        kb = knowledge.service()
        article = published_article(kb, language, topic)
        if article is None:
            raise HTTPException(404)
        alternates = {
            other: f"/help/{other}/{translation.topic}"
            for other in LANGUAGES
            if other != language and (translation := kb.translation(article, other))
        }
        return render(
            request,
            "article.html",
            language,
            article=article,
            body=markdown_to_html(article.body),
            alternates=alternates,
        )

    return app
