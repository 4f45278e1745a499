"""SQLAlchemy 2 ORM models: the one place that defines the ticket and its history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class Account(Base):
    """A person or service that calls the API: an admin, an agent or the bot."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    # where "due soon" / "overdue" notices for the agent's queues go (agents only)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    queues: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="account")


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to tell tokens apart
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # None: never expires
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)

    account: Mapped[Account] = relationship(back_populates="tokens")


class Counter(Base):
    """Named counters (e.g. ``ticket-2026``) incremented inside the creating transaction."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_queue_status_due", "queue", "status", "due_at"),
        UniqueConstraint("access_key", name="uq_tickets_access_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(128), unique=True)

    customer_name: Mapped[str | None] = mapped_column(String(200))
    customer_email: Mapped[str | None] = mapped_column(String(254), index=True)
    customer_phone: Mapped[str | None] = mapped_column(String(40))
    order_number: Mapped[str | None] = mapped_column(String(64))

    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    intent_ranking: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    kb_articles: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(Text)
    handoff_reason: Mapped[str] = mapped_column(String(32))

    category: Mapped[str] = mapped_column(String(32))
    category_confidence: Mapped[float]
    priority: Mapped[str] = mapped_column(String(16))
    priority_confidence: Mapped[float]
    request_type: Mapped[str] = mapped_column(String(16))
    queue: Mapped[str] = mapped_column(String(64))
    routing_rule: Mapped[str] = mapped_column(String(100))
    tier: Mapped[int] = mapped_column(default=1)

    status: Mapped[str] = mapped_column(String(32), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    kb_draft_path: Mapped[str | None] = mapped_column(String(500))
    # The customer's key to the private ticket page and to replies by e-mail: a long random
    # secret (tickets.new_access_key), rotated by an agent when a link leaked.
    access_key: Mapped[str] = mapped_column(String(64))
    # when the customer last read the ticket (private page or the bot's status answer): agent
    # replies after it are "unread"
    customer_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # the due-date clock is stopped since this instant (waiting on the customer)
    sla_paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    due_soon_notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    overdue_notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    assignee: Mapped[Account | None] = relationship()
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )
    emails: Mapped[list[EmailMessage]] = relationship(
        back_populates="ticket", order_by="EmailMessage.id", cascade="all, delete-orphan"
    )
    inbound_emails: Mapped[list[InboundEmail]] = relationship(
        back_populates="ticket", order_by="InboundEmail.id", cascade="all, delete-orphan"
    )
    ratings: Mapped[list[SatisfactionRating]] = relationship(
        back_populates="ticket", order_by="SatisfactionRating.id", cascade="all, delete-orphan"
    )


class TicketEvent(Base):
    """One entry in a ticket's history: who did what, when. Comments are events too."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class ConsoleSession(Base):
    """A web-console login. The cookie holds a random id; only its SHA-256 is stored. The
    session hangs off the API token the agent logged in with, so revoking the token (or
    deactivating the account) ends the session too."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[int] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    # messages for the next page: [{"level": "success"|"error", "text": ..., "kept"?: {...}}]
    flash: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    token: Mapped[ApiToken] = relationship()


class UnansweredQuestion(Base):
    """A question the bot could not answer, reported by any bot replica (``kb gaps`` reads
    them). The text is stored redacted; ``text_hash`` (SHA-256 of it) completes the
    idempotency key, since a unique index on 4000 characters is not portable."""

    __tablename__ = "unanswered_questions"
    __table_args__ = (
        UniqueConstraint("conversation_id", "reason", "text_hash"),
        Index("ix_unanswered_questions_occurred_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConversationEvent(Base):
    """What happened in a bot conversation (vocabulary.EventKind), reported by any bot
    replica through ``POST /v1/events``; the support metrics (handoff_service.reporting,
    docs/metrics.md) are computed from these rows, the tickets and the ratings. ``sender`` is
    the conversation id without its session start (ratelimit.sender_of): the same customer's
    browser across conversations. No free text is stored."""

    __tablename__ = "conversation_events"
    __table_args__ = (
        Index("ix_conversation_events_occurred_at", "occurred_at"),
        Index("ix_conversation_events_conversation_id", "conversation_id"),
        Index("ix_conversation_events_sender", "sender", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(32), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(128))
    sender: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    article_id: Mapped[str | None] = mapped_column(String(120), default=None)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    helpful: Mapped[bool | None] = mapped_column(Boolean, default=None)
    reason: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConversationSummary(Base):
    """One row per conversation, merged from its events as they arrive (``events.record``), so
    the reports count conversations without reading every event (docs/metrics.md).

    Every column is an order-independent merge of the conversation's events, so batches that
    arrive late, twice or from several bot replicas give the same row: the start is the
    ``conversation_started`` event's time (else the earliest event's), with that event's
    language; the first handoff's time and reason; whether any feedback said an article
    helped; whether clarify buttons were shown and one was picked; the last article shown.
    ``started_epoch`` (seconds) is the start as a number, for the "came back within N days"
    arithmetic on every database. ``said_no_to_last`` (a feedback said the last article shown
    did not help) is derived from the stored events after each batch, like
    ``ConversationArticle``."""

    __tablename__ = "conversation_summaries"
    __table_args__ = (
        Index("ix_conversation_summaries_started_at", "started_at"),
        Index("ix_conversation_summaries_sender", "sender", "started_epoch"),
    )

    conversation_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    sender: Mapped[str] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_epoch: Mapped[float] = mapped_column(Float)
    start_flagged: Mapped[bool] = mapped_column(Boolean)
    handoff_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    handoff_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    helpful: Mapped[bool] = mapped_column(Boolean, default=False)
    clarify_shown: Mapped[bool] = mapped_column(Boolean, default=False)
    clarify_picked: Mapped[bool] = mapped_column(Boolean, default=False)
    last_shown_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    last_shown_article: Mapped[str | None] = mapped_column(String(120), default=None)
    said_no_to_last: Mapped[bool] = mapped_column(Boolean, default=False)


class ConversationArticle(Base):
    """One row per article a conversation showed, with the customer's latest feedback on it in
    that conversation (True, False, or None for none), copies of the conversation's start,
    sender and language, and ``next_epoch``: the start of the same sender's next conversation
    that showed the same article (None if none yet). The article report and the "came back on
    the same topic" test read these rows instead of the events. Rebuilt from the stored events
    of every conversation a batch touches, and ``next_epoch`` for every row of the batch's
    senders (``events.record``), in the batch's transaction."""

    __tablename__ = "conversation_articles"
    __table_args__ = (
        Index("ix_conversation_articles_started_at", "started_at"),
        Index("ix_conversation_articles_return", "sender", "article_id", "started_epoch"),
    )

    conversation_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    article_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    sender: Mapped[str] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_epoch: Mapped[float] = mapped_column(Float)
    feedback: Mapped[bool | None] = mapped_column(Boolean, default=None)
    next_epoch: Mapped[float | None] = mapped_column(Float, default=None)


class EmailMessage(Base):
    """The e-mail outbox: one row per e-mail to send, written in the transaction of the ticket
    change that causes it (handoff_service.email.outbox), sent and retried by the sender.

    ``message_id`` is fixed when the row is written, so a retry after an uncertain delivery
    carries the same Message-ID. Subject and bodies are filled in when the message is rendered
    (at the first attempt) and kept: the console shows exactly what was sent.
    """

    __tablename__ = "email_outbox"
    __table_args__ = (
        UniqueConstraint("event_id", "kind", "to_address"),
        Index("ix_email_outbox_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("ticket_events.id", ondelete="CASCADE"), default=None
    )
    kind: Mapped[str] = mapped_column(String(32))
    to_address: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(8))
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    subject: Mapped[str | None] = mapped_column(String(300), default=None)
    text_body: Mapped[str | None] = mapped_column(Text, default=None)
    html_body: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)

    ticket: Mapped[Ticket] = relationship(back_populates="emails")
    event: Mapped[TicketEvent | None] = relationship()


class InboundEmail(Base):
    """A message received for a ticket (reply by e-mail). ``message_id`` (the sender's
    Message-ID) makes redelivery idempotent; the body is the reply without quoted history and
    signature, redacted. Mail from someone other than the ticket's customer is ``held``."""

    __tablename__ = "inbound_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    from_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text, default=None)  # why held, what was refused
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(100), default=None)

    ticket: Mapped[Ticket] = relationship(back_populates="inbound_emails")


class SatisfactionRating(Base):
    """The customer's rating (1-5) of a resolved ticket, from the private page. A ticket reopened
    and resolved again can be rated again; metrics use the latest."""

    __tablename__ = "satisfaction_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    rating: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="ratings")


class PrivacyRequest(Base):
    """One data-subject request (export or erasure) as it was carried out: who, when, what it
    found. The customer's e-mail is never stored: ``email_hash`` is HMAC-SHA256 (key:
    ``privacy_hash_key``) of ``email_salt`` and the case-folded address (privacy.email_digest),
    so a later request for the same address can be matched to it, by whoever has the key."""

    __tablename__ = "privacy_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    email_salt: Mapped[str] = mapped_column(String(32))
    email_hash: Mapped[str] = mapped_column(String(64))
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
