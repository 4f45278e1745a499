"""Documented error responses shared by the routers (so the OpenAPI lists every status)."""

from __future__ import annotations

from typing import Any

from handoff_service.schemas import ErrorOut


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "The body is not valid JSON (or not decodable).",
        401: "Missing, invalid or revoked bearer token.",
        403: "The token's role may not do this.",
        404: "No such ticket.",
        409: "The ticket's status does not allow this action.",
        413: "Request body too large.",
        422: "Malformed request; `detail` says which field and why.",
    }
    return {code: {"model": ErrorOut, "description": text[code]} for code in codes}
