"""The closed sets of values the service speaks (stored as plain strings in the database)."""

from __future__ import annotations

from enum import StrEnum

from knowledge.articles import Category as ArticleCategory


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


#: A ticket's category: the KB's categories (``knowledge.articles.Category``, their one owner)
#: plus ``other`` for requests no article category fits. Same names and values, so tickets,
#: routing rules and the triage data use the KB's words; only ``OTHER`` is the service's own.
Category = StrEnum(  # type: ignore[misc]
    "Category",
    [(member.name, member.value) for member in ArticleCategory] + [("OTHER", "other")],
    module=__name__,
)


class RequestType(StrEnum):
    """PQR request types (see docs: seeds-summary)."""

    PETICION = "peticion"  # information request
    QUEJA = "queja"  # complaint about how we acted
    RECLAMO = "reclamo"  # asks that a decision/action be reviewed and changed
    CONSULTA = "consulta"  # asks for an opinion or guidance
    SUGERENCIA = "sugerencia"  # suggestion or praise
    SOLICITUD = "solicitud"  # any other request


class HandoffReason(StrEnum):
    CUSTOMER_REQUEST = "customer_request"
    LOW_CONFIDENCE = "low_confidence"
    NEGATIVE_FEEDBACK = "negative_feedback"
    COMPLAINT = "complaint"
    SENSITIVE_DATA = "sensitive_data"


class Language(StrEnum):
    EN = "en"
    ES = "es"


class Channel(StrEnum):
    WEB = "web"
    WHATSAPP = "whatsapp"
    SOCIAL = "social"
    EMAIL = "email"
    PHONE = "phone"


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    SERVICE = "service"  # the bot: may create handoffs only


class Visibility(StrEnum):
    INTERNAL = "internal"
    CUSTOMER = "customer"


class DueResult(StrEnum):
    """A ticket's due date in the reports (reporting.due_state): met (resolved by it), missed
    (resolved after it, or open and past it), or open and not due yet."""

    MET = "met"
    MISSED = "missed"
    OPEN_NOT_DUE = "open_not_due"


#: The satisfaction scale a customer rates a resolved ticket on (1: very bad, 5: very good).
RATINGS = range(1, 6)


class Feedback(StrEnum):
    HELPFUL = "helpful"
    NOT_HELPFUL = "not_helpful"
    NONE = "none"


class EmailKind(StrEnum):
    """What an e-mail is about. The first five go to the ticket's customer, in its language;
    the last two to the agents of the ticket's queue."""

    TICKET_CREATED = "ticket_created"
    AGENT_REPLY = "agent_reply"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


class EmailStatus(StrEnum):
    PENDING = "pending"  # in the outbox, to be (re)tried at next_attempt_at
    SENT = "sent"  # accepted by the SMTP server
    FAILED = "failed"  # given up: permanent refusal, or retried for longer than allowed


class InboundStatus(StrEnum):
    APPENDED = "appended"  # added to the ticket as the customer's reply
    HELD = "held"  # from another sender (or unreadable): waits for an agent
    ACCEPTED = "accepted"  # a held message an agent added to the ticket
    DISCARDED = "discarded"  # a held message an agent threw away


class EventKind(StrEnum):
    """What happened in a conversation, as the bot reports it (docs/metrics.md)."""

    CONVERSATION_STARTED = "conversation_started"  # the conversation's first customer message
    ARTICLE_SHOWN = "article_shown"  # an article answered the customer (article_id, score)
    FEEDBACK = "feedback"  # the customer said whether the article helped (article_id, helpful)
    CLARIFY_SHOWN = "clarify_shown"  # several candidate articles offered as buttons
    CLARIFY_PICKED = "clarify_picked"  # the customer chose one of them (article_id)
    FALLBACK = "fallback"  # the bot had no article for the question
    HANDOFF = "handoff"  # handed over to a person (reason)


class Outcome(StrEnum):
    """A conversation's one outcome: the first of these that applies (docs/metrics.md)."""

    HANDED_OVER = "handed_over"  # a handoff event, or a ticket for the conversation
    RESOLVED_CONFIRMED = "resolved_confirmed"  # the customer said an article helped
    RESOLVED_ASSUMED = "resolved_assumed"  # an article, no "no" to the last one, no return
    ABANDONED = "abandoned"  # everything else: left without an answer


class PrivacyAction(StrEnum):
    EXPORT = "export"  # everything stored about a customer, handed to them
    ERASE = "erase"  # all of it deleted
