"""A customer's right of access and to erasure, by e-mail address (admins only)."""

from __future__ import annotations

from fastapi import APIRouter

from handoff_service import privacy
from handoff_service.dependencies import Admin, Ctx, DbSession
from handoff_service.routers.errors import errors
from handoff_service.schemas import Email, PrivacyEmailIn, PrivacyErased, PrivacyExport

router = APIRouter(prefix="/v1/privacy", tags=["privacy"], responses=errors(401, 403, 422))


@router.get("/export", response_model=PrivacyExport)
def export(email: Email, ctx: Ctx, session: DbSession, admin: Admin) -> PrivacyExport:
    """Everything stored about the customer with this e-mail (any letter case): tickets with
    their history, messages, ratings and e-mails, the unanswered questions of their chats and,
    when the tracker store is configured, the chats themselves. Logged without the address."""
    result = privacy.export(ctx.settings, session, email, admin.name)
    session.commit()
    return result


@router.post("/erase", response_model=PrivacyErased)
def erase(body: PrivacyEmailIn, ctx: Ctx, session: DbSession, admin: Admin) -> PrivacyErased:
    """Delete everything the export would return; what was deleted, by kind. Logged without
    the address."""
    counts = privacy.erase(ctx.settings, session, body.email, admin.name)
    session.commit()
    return PrivacyErased(counts=counts)
