"""The private page's forms, validated with the API's text types (so the same limits and the
same redaction apply as to agents' comments), and their errors in the customer's words."""

from __future__ import annotations

from urllib.parse import parse_qsl

from pydantic import Field, ValidationError

from handoff_service.i18n import PORTAL
from handoff_service.schemas import MAX_NOTE_CHARS, FreeText, ReasonIn, Strict
from handoff_service.vocabulary import RATINGS

MAX_FORM_FIELDS = 16
MAX_RATING_COMMENT_CHARS = 2000


class FormUnreadable(ValueError):
    """The body is not a urlencoded form in UTF-8 (not sent from the page)."""


class ReplyForm(Strict):
    body: FreeText(MAX_NOTE_CHARS)  # type: ignore[valid-type]


class RatingForm(Strict):
    rating: int = Field(ge=RATINGS[0], le=RATINGS[-1])
    comment: FreeText(MAX_RATING_COMMENT_CHARS) | None = None  # type: ignore[valid-type]


ReopenForm = ReasonIn


def max_length(form: type[Strict], field: str) -> int:
    """A text field's length limit, as its schema declares it (for messages and ``maxlength``)."""
    for item in form.model_fields[field].metadata:
        limit = getattr(item, "max_length", None)
        if limit is not None:
            return int(limit)
    raise LookupError(f"{form.__name__}.{field} has no length limit")


def parse_form(content_type: str, body: bytes) -> dict[str, str]:
    """The urlencoded fields of a request body (the page's forms send nothing else)."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise FormUnreadable("not a urlencoded form")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormUnreadable("invalid encoding") from exc
    return dict(pairs)


def reply_errors(exc: ValidationError, lang: str) -> dict[str, str]:
    """``{"body": message}`` for a refused reply: empty, too long, or unstorable text."""
    kinds = {error["type"] for error in exc.errors()}
    t = PORTAL[lang]
    if "string_too_short" in kinds or "missing" in kinds:
        return {"body": t["error_required"]}
    if "string_too_long" in kinds:
        return {"body": t["error_too_long"].format(max=max_length(ReplyForm, "body"))}
    return {"body": t["error_invalid"]}


def rating_errors(exc: ValidationError, lang: str) -> dict[str, str]:
    """``{field: message}`` for a refused rating."""
    t = PORTAL[lang]
    fields = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
    errors = {}
    if "rating" in fields:
        errors["rating"] = t["error_rating"]
    if "comment" in fields:
        errors["comment"] = t["error_rating_comment"].format(max=MAX_RATING_COMMENT_CHARS)
    return errors or {"rating": t["error_rating"]}


def reopen_errors(_exc: ValidationError, lang: str) -> dict[str, str]:
    return {"reason": PORTAL[lang]["error_reason"].format(max=max_length(ReopenForm, "reason"))}
