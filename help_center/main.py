"""FastAPI app: the Voltia sample page with the chat widget, and the help centre."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from help_center.catalog import Catalog
from help_center.i18n import CATEGORIES, STRINGS, widget_strings
from help_center.rendering import markdown_to_html
from help_center.search import SearchService, SearchUnavailable
from help_center.settings import Settings
from knowledge.search import Band
from knowledge.settings import LANGUAGES

PACKAGE_DIR = Path(__file__).parent
# Reasons (SearchOutcome.reason) for not searching at all, and the message shown for each.
_UNSEARCHED = {
    "empty": "search_empty",
    "too_long": "search_too_long",
    "no_letters": "search_no_letters",
}


def create_app(
    settings: Settings | None = None,
    catalog: Catalog | None = None,
    search: SearchService | None = None,
) -> FastAPI:
    """The app; ``catalog`` and ``search`` default to the knowledge base configured by env vars."""
    settings = settings or Settings.from_env()
    catalog = catalog if catalog is not None else Catalog.load(settings.kb_dir)
    search = search or SearchService()

    app = FastAPI(title="nivel0 help centre", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    templates = Jinja2Templates(directory=PACKAGE_DIR / "templates")

    def render(
        request: Request, name: str, language: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            name,
            {
                "lang": language,
                "t": STRINGS[language],
                "categories": CATEGORIES[language],
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

    def check_language(language: str) -> None:
        if language not in LANGUAGES:
            raise HTTPException(404)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code != 404:
            return PlainTextResponse(
                str(exc.detail), status_code=exc.status_code, headers=exc.headers
            )
        parts = request.url.path.strip("/").split("/")
        language = next((p for p in parts[:2] if p in LANGUAGES), "en")
        return render(request, "not_found.html", language, status_code=404)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "articles": len(catalog)}

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
            groups=catalog.by_category(language),
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
            outcome = search.search(q, language)
        except SearchUnavailable:
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
        article = catalog.get(language, topic)
        if article is None:
            raise HTTPException(404)
        translation = catalog.translation(article)
        alternates = (
            {translation.language: f"/help/{translation.language}/{translation.topic}"}
            if translation
            else {}
        )
        return render(
            request,
            "article.html",
            language,
            article=article,
            body=markdown_to_html(article.body),
            alternates=alternates,
        )

    return app
