"""Request and response bodies (pydantic v2). Size limits live here, next to the fields."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    StringConstraints,
    model_validator,
)

from handoff_service.models import Ticket, utcnow
from handoff_service.redaction import redact, redact_messages
from handoff_service.sla import DueState, current_due_state
from handoff_service.vocabulary import (
    Category,
    Channel,
    EventKind,
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


# Never in an address we accept: URL syntax (``?&=%``) would let an address like
# ``x?bcc=attacker%40evil.example@example.com`` add headers to a ``mailto:`` link, and
# ``,;<>"`` would add recipients or break out of quoting. Real customers' addresses do not
# use them.
_EMAIL_CHAR = r"[^@\s?&=%,;<>\"]"
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=rf"^{_EMAIL_CHAR}{{1,64}}@{_EMAIL_CHAR}+\.{_EMAIL_CHAR}+$",
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


def _in_utc(value: dt.datetime) -> dt.datetime:
    """In UTC, as times are stored (a time with no UTC equivalent, such as the first hour of
    year 1 at +01:00, is refused with a 422 rather than failing in the database)."""
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("out of range once converted to UTC") from None


#: A timezone-aware time, converted to UTC.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
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
    # redacted too: customers type card or ID numbers into any field
    name: FreeText(200) | None = None  # type: ignore[valid-type]
    email: Email | None = None
    phone: Phone | None = None
    order_number: FreeText(64) | None = None  # type: ignore[valid-type]

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

    @model_validator(mode="after")
    def _redact_across_messages(self) -> HandoffIn:
        """Each message is redacted alone (FreeText); the customer's messages are redacted
        together too, so that a card number split over two of them is caught."""
        said = [m for m in self.transcript if m.role == "customer"]
        for message, text in zip(said, redact_messages([m.text for m in said]), strict=True):
            message.text = text
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
    occurred_at: UtcDatetime = Field(
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


# --- conversation events (bot -> service; docs/metrics.md) ---------------------------------

MAX_EVENTS_PER_BATCH = 500
ArticleId = Annotated[
    str, StringConstraints(min_length=1, max_length=120, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
]


class ConversationEventIn(Strict):
    """One thing that happened in a conversation. ``event_id`` (the bot makes it, 32 hex
    digits) is the idempotency key: a retried delivery is stored once. Which fields an event
    has depends on its kind: ``article_id`` for article_shown, feedback and clarify_picked,
    ``helpful`` for feedback, ``reason`` for handoff; ``score`` (the search's) is optional."""

    event_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
    conversation_id: ConversationId
    kind: EventKind
    language: Language
    occurred_at: UtcDatetime
    article_id: ArticleId | None = None
    score: float | None = Field(default=None, allow_inf_nan=False)
    helpful: bool | None = None
    reason: HandoffReason | None = None

    @model_validator(mode="after")
    def _fields_of_the_kind(self) -> ConversationEventIn:
        needs_article = {EventKind.ARTICLE_SHOWN, EventKind.FEEDBACK, EventKind.CLARIFY_PICKED}
        if (self.article_id is not None) != (self.kind in needs_article):
            raise ValueError(f"article_id is required for {sorted(needs_article)} and only then")
        if (self.helpful is not None) != (self.kind is EventKind.FEEDBACK):
            raise ValueError("helpful is required for feedback events and only then")
        if (self.reason is not None) != (self.kind is EventKind.HANDOFF):
            raise ValueError("reason is required for handoff events and only then")
        return self


class EventsIn(Strict):
    events: list[ConversationEventIn] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)


class EventsStored(BaseModel):
    stored: int = Field(description="New events stored.")
    duplicates: int = Field(description="Events already stored (a retried delivery).")


# --- tickets ------------------------------------------------------------------------------


TicketDueState = Annotated[
    DueState | None,
    Field(
        description="Open tickets: on_time, due_soon (due within HANDOFF_DUE_SOON_HOURS), "
        "overdue, or paused (waiting on the customer, clock stopped); null once resolved or "
        "closed."
    ),
]
PausedAt = Annotated[
    dt.datetime | None,
    Field(description="Since when the due-date clock is stopped; null while it runs."),
]


class _WithDueState(BaseModel):
    """A ticket view with its due state (sla.due_state) as of the moment it is built."""

    due_state: TicketDueState = None
    sla_paused_at: PausedAt = None

    @model_validator(mode="wrap")
    @classmethod
    def _due_state(cls, value: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        model = handler(value)
        if isinstance(value, Ticket):
            model.due_state = current_due_state(value, utcnow())
        return model


class TicketOut(_WithDueState):
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


class HandoffCreated(BaseModel):
    """What the bot gets back from ``POST /v1/handoffs``: enough to tell the customer, nothing
    more. The service token must not read a ticket (transcript, e-mail, ...) by replaying its
    conversation id: agents read tickets with ``GET /v1/tickets/{number}``."""

    model_config = ConfigDict(from_attributes=True)

    number: str
    queue: str
    status: Status
    due_at: dt.datetime
    created: bool = Field(
        description="True when this request created the ticket (HTTP 201); false when the "
        "conversation already had it (a replay, HTTP 200)."
    )


class TicketListItem(_WithDueState):
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


class WaitIn(Strict):
    message: FreeText(MAX_NOTE_CHARS) | None = Field(  # type: ignore[valid-type]
        default=None,
        description="What we need from the customer: said in the e-mail that asks for it "
        "(in the ticket's language).",
    )


class ReasonIn(Strict):
    reason: FreeText(2000)  # type: ignore[valid-type]


class KbDraftIn(Strict):
    """The agent's words for a public article: a title and at least two more questions (a draft
    never copies the customer's messages); topic, category, summary and tags default from the
    title, the ticket and its resolution note. ``title`` is optional here so that a missing one
    is answered with what to give (422), like every other gap."""

    title: FreeText(200) | None = None  # type: ignore[valid-type]
    topic: (
        Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=80)] | None
    ) = None
    category: Category | None = None
    summary: FreeText(400) | None = None  # type: ignore[valid-type]
    questions: list[FreeText(300)] | None = Field(default=None, max_length=8)  # type: ignore[valid-type]
    tags: list[Text(40)] | None = Field(default=None, max_length=12)  # type: ignore[valid-type]


class KbDraftOut(BaseModel):
    path: str = Field(description="Relative to the KB drafts folder, e.g. 'es/topic.md'.")
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


class SenderUpdate(BaseModel):
    """The newest open request of a chat sender, for the bot (``GET /v1/handoffs/updates``).
    ``page_url`` carries the ticket's secret: only the bot's token gets it."""

    number: str
    status: Status
    status_text: str = Field(description="The status in the ticket's language.")
    language: Language
    unread_replies: int = Field(description="Agent replies the customer has not seen yet.")
    latest_reply: PublicComment | None = Field(
        description="The newest reply to the customer, read or not."
    )
    page_url: str = Field(description="The ticket's private page (where the customer answers).")


class UpdatesSeenIn(Strict):
    """The bot showed the customer their replies up to ``through`` (the newest it showed)."""

    sender: ConversationId
    number: TicketNumber
    through: AwareDatetime


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
    email: str | None = Field(default=None, description="Where due notices go (agents).")
    queues: list[str] = Field(default_factory=list, description="Queues whose notices it gets.")


class AccountContactIn(Strict):
    """Where an agent's "due soon" / "overdue" notices go and for which queues. Only the
    fields given change; ``email: null`` stops the notices."""

    email: Email | None = None
    queues: list[QueueName] | None = Field(default=None, max_length=50)

    @model_validator(mode="after")
    def _something(self) -> AccountContactIn:
        if not self.model_fields_set:
            raise ValueError("give an email and/or queues")
        return self


class TokenOut(BaseModel):
    account: AccountOut
    token: str = Field(description="Shown once; only its hash is stored.")
    token_id: int
    expires_at: dt.datetime | None = Field(default=None, description="Null: until revoked.")


#: The longest lifetime a token can be given when it is created (ten years).
MAX_TOKEN_DAYS = 3650


class TokenInfo(BaseModel):
    """A token as admins list it: its prefix tells it apart; the token and its hash are
    never shown again."""

    id: int
    account: str = Field(description="The owning account's name.")
    prefix: str = Field(description="The token's first characters.")
    created_at: dt.datetime
    expires_at: dt.datetime | None = Field(description="Null: until revoked.")
    revoked_at: dt.datetime | None
    usable: bool = Field(description="Neither revoked nor expired: it authenticates now.")


# --- reports (support metrics: handoff_service.reporting, docs/metrics.md) ------------------


class ReportPeriod(BaseModel):
    """What a report covers: the period ``[since, until)`` and, optionally, one language."""

    since: UtcDatetime = Field(description="Start of the period (included).")
    until: UtcDatetime = Field(description="End of the period (excluded); after since.")
    language: Language | None = Field(
        default=None, description="Only conversations (tickets) in this language."
    )

    @model_validator(mode="after")
    def _until_after_since(self) -> Self:
        if self.until <= self.since:
            raise ValueError("until must be later than since")
        return self


class TicketReportPeriod(ReportPeriod):
    queue: QueueName | None = Field(default=None, description="Only tickets now in this queue.")


class Rate(BaseModel):
    numerator: int
    denominator: int
    rate: float | None = Field(description="numerator / denominator; null when it is 0.")

    @classmethod
    def of(cls, numerator: int, denominator: int) -> Rate:
        return cls(
            numerator=numerator,
            denominator=denominator,
            rate=numerator / denominator if denominator else None,
        )


class OutcomeCount(BaseModel):
    conversations: int
    share: float | None = Field(
        description="Of the period's conversations; null when there are none."
    )


class HandedOverCount(OutcomeCount):
    by_reason: dict[HandoffReason, int] = Field(
        description="By the reason of the conversation's first handoff (the ticket's when the "
        "bot reported none); every reason is listed. Adds up to `conversations`."
    )


class Outcomes(BaseModel):
    """One field per :class:`Outcome`; their ``conversations`` add up to the report's."""

    handed_over: HandedOverCount
    resolved_confirmed: OutcomeCount
    resolved_assumed: OutcomeCount
    abandoned: OutcomeCount


class OutcomesReport(BaseModel):
    period: ReportPeriod
    return_days: int = Field(
        description="HANDOFF_METRICS_RETURN_DAYS: a customer back on the same articles within "
        "this many days makes a conversation abandoned, not resolved_assumed. The figures of a "
        "period that ended less than this long ago can still change."
    )
    conversations: int = Field(description="Conversations that started in the period.")
    outcomes: Outcomes
    handoff_rate: Rate = Field(description="Handed-over conversations / conversations.")
    clarify_pick_rate: Rate = Field(
        description="Conversations where the customer picked one of the clarify buttons / "
        "conversations that showed them."
    )


class ArticleHelpfulness(BaseModel):
    article_id: str
    shown: int = Field(description="Conversations of the period that showed it.")
    helpful: int = Field(description="... whose latest feedback on it was yes.")
    not_helpful: int = Field(description="... whose latest feedback on it was no.")
    no_feedback: int = Field(description="... without feedback on it.")


class ArticlesReport(BaseModel):
    period: ReportPeriod
    conversations: int = Field(description="Conversations that started in the period.")
    articles: list[ArticleHelpfulness] = Field(description="Most shown first.")


class Durations(BaseModel):
    tickets: int = Field(description="Tickets the figures are computed over.")
    median_seconds: float | None = Field(description="Null when there are no tickets.")
    p90_seconds: float | None = Field(
        description="90th percentile, linear interpolation (PostgreSQL's percentile_cont)."
    )


class FirstResponse(Durations):
    without_reply: int = Field(description="Tickets of the period with no reply yet.")


class DueDates(BaseModel):
    met: int = Field(description="Resolved at or before the due date.")
    missed: int = Field(description="Resolved after it, or open and past it.")
    open_not_due: int = Field(description="Open and not due yet: not counted in met_rate.")
    met_rate: float | None = Field(description="met / (met + missed); null when both are 0.")


class DueDatesReport(BaseModel):
    total: DueDates
    by_queue: dict[str, DueDates] = Field(description="By the ticket's current queue.")
    by_request_type: dict[RequestType, DueDates]


class Satisfaction(BaseModel):
    average: float | None = Field(
        description="Mean of each rated ticket's latest rating (1-5); null when none is rated."
    )
    response_rate: Rate = Field(description="Rated tickets / tickets resolved at least once.")
    by_rating: dict[int, int] = Field(
        description="Rated tickets per latest rating: every rating 1-5, 0 where none."
    )


class TicketReport(BaseModel):
    period: TicketReportPeriod
    tickets: int = Field(description="Tickets created in the period.")
    first_response: FirstResponse = Field(
        description="Creation -> the first agent reply to the customer."
    )
    resolution: Durations = Field(description="Creation -> resolution, of resolved tickets.")
    due_dates: DueDatesReport
    satisfaction: Satisfaction
    reopen_rate: Rate = Field(
        description="Tickets reopened after a resolution / tickets resolved at least once."
    )


class UnansweredTopic(BaseModel):
    """Distinct unanswered texts of one language that share their words (docs/metrics.md)."""

    language: Language
    label: str = Field(description="Its most central text (weighted by how often each is asked).")
    terms: list[str] = Field(description="Its most distinctive words.")
    conversations: int = Field(
        description="Volume: distinct conversations of the period that recorded one of its texts."
    )
    texts: int = Field(description="Distinct texts (wordings) in it.")
    examples: list[str] = Field(description="The next most central texts after the label.")
    text_hashes: list[str] = Field(
        description="SHA-256 (hex) of each of its texts, most asked first: the `text_hash` of "
        "the unanswered questions behind it."
    )


class UnansweredTopicsReport(BaseModel):
    period: ReportPeriod
    topics: list[UnansweredTopic] = Field(
        description="Largest first (conversations, then language and label); at most `limit`."
    )


# --- personal data (privacy.py) -------------------------------------------------------------


class PrivacyEmailIn(Strict):
    """The customer whose data is erased: every ticket with this e-mail (any letter case)."""

    email: Email


class ExportedEvent(EventOut):
    """A ticket history entry; comments (``data.visibility``: internal or customer) and the
    customer's replies (``customer_reply``) are events too."""


class ExportedRating(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rating: int
    comment: str | None
    created_at: dt.datetime


class ExportedInboundEmail(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    message_id: str
    from_address: str
    subject: str
    body: str
    status: str
    note: str | None
    received_at: dt.datetime


class ExportedOutboxEmail(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    to_address: str
    language: str
    status: str
    subject: str | None
    text_body: str | None = Field(description="Null once past HANDOFF_RETENTION_EMAIL_BODY_DAYS.")
    created_at: dt.datetime
    sent_at: dt.datetime | None


class ExportedTicket(TicketOut):
    events: list[ExportedEvent]
    ratings: list[ExportedRating]
    inbound_emails: list[ExportedInboundEmail]
    emails: list[ExportedOutboxEmail] = Field(description="The e-mail outbox rows.")


class TrackerEvent(BaseModel):
    """One event of the bot's conversation, as Rasa's tracker store holds it."""

    sender_id: str
    type_name: str
    timestamp: float | None = Field(description="Unix time.")
    data: dict[str, Any] | str | None = Field(description="Rasa's event, parsed from JSON.")


class PrivacyExport(BaseModel):
    """Everything stored about the customer with ``email``."""

    email: str
    generated_at: dt.datetime
    tickets: list[ExportedTicket]
    unanswered_questions: list[UnansweredOut] = Field(
        description="Questions the bot could not answer in the chats of those tickets."
    )
    conversation_events: list[TrackerEvent] | None = Field(
        description="The chats' events in Rasa's tracker store; null: HANDOFF_TRACKER_STORE_URL "
        "is not set, so the service cannot read them."
    )


class PrivacyErased(BaseModel):
    """What an erasure deleted, by kind."""

    counts: dict[str, int]


class ErrorOut(BaseModel):
    detail: str | list[dict[str, object]]
