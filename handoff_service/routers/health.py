"""Liveness/readiness and Prometheus metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
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


@router.get("/metrics", response_class=Response)
def metrics(ctx: Ctx) -> Response:
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
