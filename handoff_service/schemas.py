"""Request and response bodies (pydantic v2). Size limits live here, next to the fields."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from handoff_service.redaction import redact
from handoff_service.vocabulary import (
    Category,
    Channel,
    Feedback,
    HandoffReason,
    Language,
    Priority,
    RequestType,
    Role,
    Status,
    Visibility,
)

MAX_TRANSCRIPT_MESSAGES = 300
MAX_MESSAGE_CHARS = 4000
MAX_NOTE_CHARS = 10_000
MAX_RANKED_INTENTS = 20
MAX_KB_ARTICLES = 20

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TICKET_NUMBER_PATTERN = r"^T-\d{4}-\d{6,}$"


def _clean_text(value: str) -> str:
    """Reject text the databases cannot store or that is never legitimate in a message."""
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (other than tab and newline)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from exc
    return value


def Text(max_length: int, min_length: int = 1) -> type[str]:
    """A stripped, printable string of bounded length."""
    return Annotated[  # type: ignore[return-value]
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_clean_text),
    ]


def FreeText(max_length: int) -> type[str]:
    """Free text written by a customer or an agent: validated like :func:`Text`, then redacted
    (card numbers, national IDs, ...) so that it is never stored in clear."""
    return Annotated[Text(max_length), AfterValidator(redact)]  # type: ignore[return-value]


Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
    ),
    AfterValidator(_clean_text),
]
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ().-]{6,25}$"),
]
ConversationId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")
]
QueueName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
]
TicketNumber = Annotated[str, StringConstraints(pattern=TICKET_NUMBER_PATTERN, max_length=20)]


def _account_name(value: object) -> object:
    """Ticket.assignee is an Account row; the API shows its name."""
    return getattr(value, "name", value)


AssigneeName = Annotated[str | None, BeforeValidator(_account_name)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- handoff (bot -> service) -------------------------------------------------------------


class Customer(Strict):
    name: Text(200) | None = None  # type: ignore[valid-type]
    email: Email | None = None
    phone: Phone | None = None
    order_number: Text(64) | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _reachable(self) -> Customer:
        if not (self.email or self.phone):
            raise ValueError("customer needs an e-mail or a phone number so we can reach them")
        return self


class Message(Strict):
    role: Annotated[str, StringConstraints(pattern=r"^(customer|bot)$")] = Field(
        description="'customer' or 'bot'"
    )
    text: FreeText(MAX_MESSAGE_CHARS)  # type: ignore[valid-type]
    timestamp: dt.datetime | None = None


class MessageOut(BaseModel):
    """A stored (already redacted) message: output only, not validated again."""

    role: str
    text: str
    timestamp: dt.datetime | None = None


class RankedIntent(Strict):
    name: Text(100)  # type: ignore[valid-type]
    confidence: float = Field(ge=0.0, le=1.0)


class ShownArticle(Strict):
    article_id: Text(120)  # type: ignore[valid-type]
    title: Text(300) | None = None  # type: ignore[valid-type]
    feedback: Feedback = Feedback.NONE


class HandoffIn(Strict):
    conversation_id: ConversationId = Field(
        description="The bot's conversation id; the idempotency key of the handoff."
    )
    customer: Customer
    language: Language
    channel: Channel = Channel.WEB
    transcript: list[Message] = Field(min_length=1, max_length=MAX_TRANSCRIPT_MESSAGES)
    intent_ranking: list[RankedIntent] = Field(default_factory=list, max_length=MAX_RANKED_INTENTS)
    kb_articles: list[ShownArticle] = Field(default_factory=list, max_length=MAX_KB_ARTICLES)
    reason: HandoffReason
    summary: FreeText(500) | None = Field(  # type: ignore[valid-type]
        default=None, description="Optional; generated from the conversation when absent."
    )

    @model_validator(mode="after")
    def _has_customer_message(self) -> HandoffIn:
        if not any(m.role == "customer" for m in self.transcript):
            raise ValueError("transcript must contain at least one customer message")
        return self


# --- unanswered questions (bot -> service; read by `kb gaps`) ---------------------------

UnansweredReason = Literal["fallback", "negative_feedback", "handoff"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UnansweredIn(Strict):
    """A customer question the bot could not answer: a FALLBACK answer, negative feedback on
    an answer, or a handoff. ``(conversation_id, reason, text)`` is the idempotency key, so a
    retried delivery is stored once."""

    conversation_id: ConversationId
    language: Language
    reason: UnansweredReason
    text: FreeText(MAX_MESSAGE_CHARS)  # type: ignore[valid-type]
    occurred_at: AwareDatetime = Field(
        default_factory=_now, description="When the customer asked; default: on arrival."
    )


class UnansweredOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: str
    language: Language
    reason: UnansweredReason
    text: str = Field(description="As stored: redacted.")
    occurred_at: dt.datetime


# --- tickets ------------------------------------------------------------------------------


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: str
    conversation_id: str
    status: Status
    tier: int
    queue: str
    routing_rule: str
    category: Category
    category_confidence: float
    priority: Priority
    priority_confidence: float
    request_type: RequestType
    reason: HandoffReason = Field(validation_alias="handoff_reason")
    summary: str
    language: Language
    channel: Channel
    customer_name: str | None
    customer_email: str | None
    customer_phone: str | None
    order_number: str | None
    transcript: list[MessageOut]
    intent_ranking: list[RankedIntent]
    kb_articles: list[ShownArticle]
    assignee: AssigneeName = None
    resolution_note: str | None
    kb_draft_path: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    due_at: dt.datetime
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None


class TicketListItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: str
    status: Status
    tier: int
    queue: str
    category: Category
    priority: Priority
    request_type: RequestType
    language: Language
    summary: str
    assignee: AssigneeName = None
    created_at: dt.datetime
    due_at: dt.datetime


class TicketPage(BaseModel):
    total: int
    items: list[TicketListItem]


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    actor: str
    data: dict[str, object]
    created_at: dt.datetime


class CommentIn(Strict):
    body: FreeText(MAX_NOTE_CHARS)  # type: ignore[valid-type]
    visibility: Visibility = Visibility.INTERNAL


class TicketPatch(Strict):
    priority: Priority | None = None
    queue: QueueName | None = None

    @model_validator(mode="after")
    def _something(self) -> TicketPatch:
        if self.priority is None and self.queue is None:
            raise ValueError("give a new priority and/or queue")
        return self


class EscalateIn(Strict):
    tier: int = Field(ge=2, le=3)
    reason: FreeText(2000)  # type: ignore[valid-type]
    queue: QueueName | None = Field(default=None, description="Optional new queue.")


class ResolveIn(Strict):
    resolution_note: FreeText(MAX_NOTE_CHARS)  # type: ignore[valid-type]


class ReasonIn(Strict):
    reason: FreeText(2000)  # type: ignore[valid-type]


class KbDraftIn(Strict):
    """All optional: defaults are taken from the ticket."""

    title: FreeText(200) | None = None  # type: ignore[valid-type]
    topic: (
        Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=80)] | None
    ) = None
    category: Category | None = None
    summary: FreeText(400) | None = None  # type: ignore[valid-type]
    questions: list[FreeText(300)] | None = Field(default=None, max_length=8)  # type: ignore[valid-type]
    tags: list[Text(40)] | None = Field(default=None, max_length=12)  # type: ignore[valid-type]


class KbDraftOut(BaseModel):
    path: str
    topic: str
    language: Language


# --- customers ----------------------------------------------------------------------------


class StatusLookupIn(Strict):
    number: Text(20, min_length=0)  # type: ignore[valid-type]
    email: Text(254, min_length=0)  # type: ignore[valid-type]


class PublicComment(BaseModel):
    body: str
    created_at: dt.datetime


class PublicStatus(BaseModel):
    number: str
    status: Status
    status_text: str = Field(description="The status in the ticket's language.")
    created_at: dt.datetime
    updated_at: dt.datetime
    due_at: dt.datetime
    messages: list[PublicComment]


# --- admin --------------------------------------------------------------------------------


class AccountIn(Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{1,100}$")]
    role: Role


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Role
    active: bool


class TokenOut(BaseModel):
    account: AccountOut
    token: str = Field(description="Shown once; only its hash is stored.")
    token_id: int


class ErrorOut(BaseModel):
    detail: str | list[dict[str, object]]
