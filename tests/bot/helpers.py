"""Run custom actions the way the action server does, with rasa_sdk's Tracker and dispatcher."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

BOT_DIR = Path(__file__).resolve().parents[2] / "bot"
DOMAIN: dict[str, Any] = yaml.safe_load((BOT_DIR / "domain.yml").read_text(encoding="utf-8"))

SLOT_DEFAULTS: dict[str, Any] = {
    "language": None,
    "last_question": None,
    "kb_articles": None,
    "kb_candidates": None,
    "pending_feedback": None,
}


class Conversation:
    """Slots carried from action to action, like Rasa's tracker would."""

    def __init__(self, language: str | None = "en", sender_id: str = "test-user"):
        self.sender_id = sender_id
        self.slots = {**SLOT_DEFAULTS, "language": language}

    def tracker(
        self,
        text: str,
        intent: str = "ask_question",
        entities: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Tracker:
        latest = {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "entities": entities or [],
            "metadata": metadata or {},
        }
        return Tracker(
            self.sender_id, dict(self.slots), latest, [], False, None, {}, "action_listen"
        )

    def run(
        self, action: Action, text: str, intent: str = "ask_question", **kwargs: Any
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Run ``action`` on a user message, apply its SlotSet events, return (messages, events)."""
        dispatcher = CollectingDispatcher()
        events = action.run(dispatcher, self.tracker(text, intent, **kwargs), DOMAIN)
        for event in events:
            if event["event"] == "slot":
                self.slots[event["name"]] = event["value"]
        return dispatcher.messages, events


def responses(messages: list[dict[str, Any]]) -> list[str]:
    return [m["response"] for m in messages]
