"""Liveness/readiness and Prometheus metrics."""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from handoff_service.dependencies import Ctx

logger = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])


@router.get("/healthz", responses={503: {"description": "Database unreachable."}})
def healthz(ctx: Ctx) -> JSONResponse:
    """200 when the database answers, 503 otherwise."""
    try:
        with ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        logger.exception("health check: database unreachable")
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": ctx.engine.dialect.name})


@router.get(
    "/metrics",
    response_class=Response,
    responses={401: {"description": "HANDOFF_METRICS_TOKEN is set and was not given."}},
)
def metrics(ctx: Ctx, request: Request) -> Response:
    """Prometheus metrics; with HANDOFF_METRICS_TOKEN set, only for ``Authorization: Bearer
    <it>`` (ticket counts per queue and traffic are not for everyone)."""
    token = ctx.settings.metrics_token
    if token is not None:
        given = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return JSONResponse(
                {"detail": "metrics need the metrics token"},
                status_code=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": "Bearer"},
            )
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
