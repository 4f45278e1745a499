"""The action server's outbox: what it must tell the handoff service survives the service
being down, slow or unreachable, and the action server's own restart.

Two kinds of rows: handoffs (``POST /v1/handoffs``; the customer is told the ticket number
once it is delivered) and unanswered questions (``POST /v1/unanswered``, read by ``kb gaps``);
and, in a table of their own, conversation events (``POST /v1/events``, in batches: the support
metrics, docs/metrics.md).
The outbox is the action server's only state, and only for durability: once delivered, the
facts live in the handoff service.

Modules: :mod:`~actions.outbox.store` (the SQLite table and its rows),
:mod:`~actions.outbox.delivery` (validation against the service's schema, sending, retry
worker, backoff) and ``python -m actions.outbox`` (list and retry rows; see ``__main__``).

Settings (:class:`actions.settings.ActionSettings`): ``NIVEL0_OUTBOX_PATH`` (default
``var/outbox.db`` under the project root), ``NIVEL0_OUTBOX_BACKOFF_BASE_SECONDS`` (1),
``NIVEL0_OUTBOX_BACKOFF_MAX_SECONDS`` (60), ``NIVEL0_OUTBOX_POLL_SECONDS`` (1),
``NIVEL0_OUTBOX_LEASE_SECONDS`` (60: a ``sending`` row older than this is taken over).
"""

from __future__ import annotations

from actions.handoff_client import default_client
from actions.outbox.delivery import Outbox, OutboxSettings, unanswered_key
from actions.outbox.store import (
    DELIVERED,
    FAILED,
    HANDOFF,
    KINDS,
    PENDING,
    SENDING,
    STATES,
    UNANSWERED,
    OutboxEntry,
    OutboxStore,
)
from actions.settings import PerProcess

__all__ = [
    "DELIVERED",
    "FAILED",
    "HANDOFF",
    "KINDS",
    "PENDING",
    "SENDING",
    "STATES",
    "UNANSWERED",
    "Outbox",
    "OutboxEntry",
    "OutboxSettings",
    "OutboxStore",
    "configure",
    "default_outbox",
    "start_worker",
    "unanswered_key",
]

_outbox = PerProcess(
    lambda settings: Outbox(OutboxSettings.from_settings(settings), default_client())
)
#: Install the process's outbox (tests); ``None``: back to the one built from settings.
configure = _outbox.install
#: The process's outbox: the installed one, else one built from the action settings.
default_outbox = _outbox.get
