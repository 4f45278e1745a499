"""The conversation events the actions report (actions/events.py) for the support metrics: what
each step of a conversation records, that nothing but facts leaves the bot, and that the
outbox delivers them in batches to the real handoff service, also after it was down."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from actions import outbox
from actions.actions import (
    ActionAnnounceTicket,
    ActionFeedbackNo,
    ActionFeedbackYes,
    ActionSearchKb,
    ActionShowArticle,
    choose_payload,
)
from actions.handoff_client import HandoffClient, HandoffConfig
from actions.handoff_payload import conversation_id
from actions.outbox import Outbox, OutboxSettings, default_outbox

from tests.bot.helpers import Conversation
from tests.support import HandoffServiceProcess, free_port, wait_until

pytestmark = pytest.mark.usefixtures("knowledge_base")


def queued(sender: str) -> list[dict[str, Any]]:
    """The events of ``sender``'s conversations waiting in the process's outbox, in order."""
    with closing(sqlite3.connect(default_outbox().store.path)) as conn:
        rows = conn.execute("SELECT payload FROM outbox_events ORDER BY id").fetchall()
    events = [json.loads(payload) for (payload,) in rows]
    return [e for e in events if e["conversation_id"].startswith(sender)]


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["kind"] for e in events]


def test_answer_then_yes_records_start_article_and_helpful_feedback() -> None:
    conversation = Conversation("en", sender_id="events-yes")
    conversation.run(ActionAnnounceTicket(), "how long does a refund take")
    conversation.events.pop()  # the same message goes on to the search
    conversation.run(ActionSearchKb(), "how long does a refund take")
    conversation.run(ActionAnnounceTicket(), "/affirm", intent="affirm")
    conversation.run(ActionFeedbackYes(), "/affirm", intent="affirm")

    events = queued("events-yes")
    assert kinds(events) == ["conversation_started", "article_shown", "feedback"]
    shown, feedback = events[1], events[2]
    assert shown["article_id"] == "refund-timeline-en" and isinstance(shown["score"], float)
    assert feedback == {**feedback, "article_id": "refund-timeline-en", "helpful": True}
    assert {e["language"] for e in events} == {"en"}
    assert {e["conversation_id"] for e in events} == {conversation_id(conversation.tracker("x"))}
    # facts only: no text of the customer's leaves the bot
    assert "refund take" not in json.dumps(events)


def test_clarify_pick_no_and_fallback_are_recorded() -> None:
    conversation = Conversation("en", sender_id="events-clarify")
    conversation.run(ActionSearchKb(), "question about my refund")
    conversation.run(
        ActionShowArticle(),
        choose_payload("refund-method-en"),
        intent="choose_article",
        entities=[{"entity": "article_id", "value": "refund-method-en"}],
    )
    conversation.run(ActionFeedbackNo(), "no", intent="deny")
    conversation.run(ActionSearchKb(), "do you sell garden furniture in Lisbon")

    events = queued("events-clarify")
    assert kinds(events)[:4] == ["clarify_shown", "clarify_picked", "article_shown", "feedback"]
    assert events[1]["article_id"] == events[2]["article_id"]
    assert events[3]["helpful"] is False
    assert kinds(events)[-1] == "fallback"


@pytest.fixture
def private_outbox(tmp_path: Path) -> Iterator[Callable[[str, str | None], Outbox]]:
    """``private_outbox(url, token)`` installs an outbox in the test's directory."""

    def install(url: str, token: str | None) -> Outbox:
        client = HandoffClient(HandoffConfig(url=url, token=token, timeout=5))
        box = Outbox(
            OutboxSettings(
                path=tmp_path / "outbox.db", backoff_base=0.05, backoff_max=0.2, poll=0.05
            ),
            client,
        )
        outbox.configure(box)
        return box

    yield install
    outbox.configure(None)


def test_events_wait_while_the_service_is_down_then_arrive_once(
    service: HandoffServiceProcess, private_outbox: Callable[[str, str | None], Outbox]
) -> None:
    box = private_outbox(f"http://127.0.0.1:{free_port()}", service.bot_token)  # down
    conversations = [Conversation("en", sender_id=f"events-batch-{i}") for i in range(3)]
    for conversation in conversations:
        conversation.run(ActionSearchKb(), "how long does a refund take")
        conversation.run(ActionFeedbackYes(), "/affirm", intent="affirm")
    assert box.run_pending() == 0 and box.store.pending_events() == 6  # kept

    box = private_outbox(service.url, service.bot_token)
    wait_until(
        lambda: box.run_pending() == 0 and box.store.pending_events() == 0,
        "the events to be delivered",
        timeout=60,
    )
    mine = [row for row in service.conversation_events() if row[0].startswith("events-batch-")]
    assert sorted(kind for _, kind in mine) == ["article_shown"] * 3 + ["feedback"] * 3
