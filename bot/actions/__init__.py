"""Custom actions of the nivel0 Rasa bot (run with ``python -m rasa_sdk --actions actions``).

Modules: ``language`` (customer language detection), ``kb`` (shared knowledge-base instance),
``conversation`` (slot names and helpers for the articles shown), ``actions`` (the Rasa
actions for answers and feedback), ``handover`` (starting and sending the tier-1 handoff),
``handoff_form`` (validation of the handoff and ticket-status forms), ``ticket_status``,
``handoff_client`` / ``outbox`` / ``handoff_payload`` (delivery to the handoff service),
``ticket_text`` (queue and due date in plain words), ``sensitive``, ``gaps``.

When the action server imports this package it starts the outbox's retry worker (a daemon
thread that delivers handoffs stored while the handoff service was down). Other importers
(tests, scripts) do not; ``NIVEL0_OUTBOX_WORKER=false`` turns it off in the action server too
(e.g. when a separate process runs the worker).
"""

from __future__ import annotations

import logging
import os
import sys

WORKER_ENV = "NIVEL0_OUTBOX_WORKER"


def _in_action_server() -> bool:
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == "rasa_sdk.__main__"


if _in_action_server() and os.environ.get(WORKER_ENV, "true").strip().lower() not in (
    "0",
    "false",
    "no",
):
    from actions import outbox

    outbox.start_worker()
    logging.getLogger(__name__).info("handoff outbox worker started")
