"""The ticket's queue in plain words for the customer.

The queue names of the handoff service (``handoff_service/config/routing_rules.yml``) are
described by the domain responses ``utter_queue_<queue>`` (``-`` written ``_``); a queue
without its own response is described by ``utter_queue_general``.

The due date in words is ``handoff_service.i18n.due_text``, shared with the service's e-mails
and pages.
"""

from __future__ import annotations

from typing import Any

from actions.conversation import response_text


def queue_text(domain: dict[str, Any], queue: str, language: str) -> str:
    name = f"utter_queue_{queue.replace('-', '_')}"
    if name not in domain.get("responses", {}):
        name = "utter_queue_general"
    return response_text(domain, name, language)
