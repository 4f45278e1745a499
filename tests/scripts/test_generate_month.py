"""The month generator (scripts/generate_month.py) posts only what the service accepts, and the
same seed gives the same month."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from handoff_service.schemas import ConversationEventIn, HandoffIn
from scripts import generate_month

END = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def test_every_event_and_handoff_is_valid_and_conversations_start_first() -> None:
    conversations = generate_month.month(2000, END, seed=3)
    assert len(conversations) == 2000
    for conversation in conversations:
        events = [ConversationEventIn.model_validate(e) for e in conversation.events]
        assert events[0].kind == "conversation_started"
        assert END - dt.timedelta(days=31) <= events[0].occurred_at <= END + dt.timedelta(days=8)
        handoffs = [e for e in events if e.kind == "handoff"]
        assert len(handoffs) == (conversation.handoff_reason is not None)
    handed = [c for c in conversations if c.handoff_reason]
    for index, conversation in enumerate(handed):
        HandoffIn.model_validate(generate_month.handoff_body(conversation, index))
    languages = Counter(c.language for c in conversations)
    assert languages["es"] > languages["en"] > 0
    # some customers come back: the same sender in two conversations
    senders = Counter(c.conversation_id.rsplit(":", 1)[0] for c in conversations)
    assert any(count == 2 for count in senders.values())


def test_the_same_seed_gives_the_same_month() -> None:
    def shape(seed: int) -> list[list[tuple[str, str | None]]]:
        return [
            [(e["kind"], e.get("article_id")) for e in c.events]
            for c in generate_month.month(300, END, seed)
        ]

    assert shape(5) == shape(5)
    assert shape(5) != shape(6)
