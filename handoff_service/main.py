"""The FastAPI application factory.

Run: ``uvicorn --factory handoff_service.main:create_app --port 8000`` (or ``python -m
handoff_service.cli serve``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from handoff_service import __doc__ as package_doc
from handoff_service import console, portal, sla
from handoff_service.context import AppContext
from handoff_service.db import make_engine, make_session_factory
from handoff_service.due_dates import ServiceLevels
from handoff_service.kb_drafts import DraftError
from handoff_service.lifecycle import InvalidTransition
from handoff_service.logs import configure_logging
from handoff_service.mail.inbound import running_listener
from handoff_service.mail.sender import running_worker
from handoff_service.metrics import Metrics
from handoff_service.middleware import BodySizeLimit, RequestMetrics
from handoff_service.migrate import upgrade
from handoff_service.ratelimit import RateLimited, RateLimits, too_many_requests
from handoff_service.routers import (
    admin,
    agents,
    customers,
    drilldown,
    events,
    handoffs,
    health,
    privacy,
    reports,
    unanswered,
)
from handoff_service.routers.errors import errors
from handoff_service.settings import Settings
from handoff_service.tickets import TicketNotFound, UnknownQueue
from handoff_service.triage.classifier import TriageClassifier
from handoff_service.triage.rules import RoutingRules

logger = logging.getLogger(__name__)
#: What a 503 for an unreachable database tells clients to wait before trying again.
DATABASE_RETRY_AFTER_SECONDS = 5


def build_context(settings: Settings) -> AppContext:
    """Load and check every piece of configuration; fail at startup, not on the first request."""
    url = settings.sqlalchemy_url
    if settings.auto_migrate:
        upgrade(url)
    engine = make_engine(url)
    ctx = AppContext(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        classifier=TriageClassifier.load_or_train(
            settings.triage_data_path, settings.triage_model_path
        ),
        rules=RoutingRules.load(settings.routing_rules_path),
        levels=ServiceLevels.load(settings.service_levels_path),
        timezone=ZoneInfo(settings.timezone),
        metrics=Metrics(),
        rate_limits=RateLimits.from_settings(settings),
    )
    sla.bind(ctx)  # ticket changes find the service levels through their session
    return ctx


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)
    ctx = build_context(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        """The service's background parts, as long as it serves: the e-mail worker (outbox,
        due notices) and the inbound SMTP listener for replies by e-mail."""
        with ExitStack() as background:
            if settings.email_worker:
                background.enter_context(running_worker(ctx))
            if settings.inbound_smtp_port is not None:
                background.enter_context(running_listener(ctx))
            yield

    app = FastAPI(
        title="nivel0 handoff service",
        lifespan=lifespan,
        version="0.1.0",
        description=(package_doc or "")
        + "\n\nAgents and admins authenticate with bearer tokens; the bot with a service token.",
        responses=errors(400, 413),
        # HANDOFF_DOCS_ENABLED=false: no /docs, /redoc or /openapi.json (404)
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url="/redoc" if settings.docs_enabled else None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.ctx = ctx
    for router in (
        handoffs.router,
        unanswered.router,
        events.router,
        reports.router,
        drilldown.router,
        agents.router,
        customers.router,
        admin.router,
        privacy.router,
        health.router,
    ):
        app.include_router(router)
    console.install(app)
    portal.install(app)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 with where and why, without echoing the input back: it may hold personal data,
        and text such as a lone surrogate cannot even be encoded in the response."""
        detail = [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
            for error in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(TicketNotFound)
    async def _not_found(_request: Request, exc: TicketNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(InvalidTransition)
    async def _conflict(_request: Request, exc: InvalidTransition) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeout)
    async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
        """503 with Retry-After while the database is unreachable (or its pool exhausted):
        a temporary condition, so clients such as the bot's outbox retry. Only the error's
        class is logged: its text holds the SQL statement."""
        logger.error("database unavailable", extra={"error": type(exc).__name__})
        return JSONResponse(
            {"detail": "the database is unavailable; try again shortly"},
            status_code=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(UnknownQueue)
    async def _unknown_queue(_request: Request, exc: UnknownQueue) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "queues": exc.queues}, status_code=422)

    app.add_exception_handler(RateLimited, too_many_requests)

    @app.exception_handler(DraftError)
    async def _draft(_request: Request, exc: DraftError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=ctx.metrics)
    logger.info(
        "handoff service ready",
        extra={"database": ctx.engine.dialect.name, "timezone": settings.timezone},
    )
    return app
