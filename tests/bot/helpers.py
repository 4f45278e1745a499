"""Run custom actions the way the action server does, with rasa_sdk's Tracker and dispatcher."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

BOT_DIR = Path(__file__).resolve().parents[2] / "bot"
DOMAIN: dict[str, Any] = yaml.safe_load((BOT_DIR / "domain.yml").read_text(encoding="utf-8"))

SLOT_DEFAULTS: dict[str, Any] = {name: None for name in DOMAIN["slots"]} | {"requested_slot": None}


class Conversation:
    """Slots carried from action to action, like Rasa's tracker would."""

    def __init__(self, language: str | None = "en", sender_id: str = "test-user"):
        self.sender_id = sender_id
        self.slots = {**SLOT_DEFAULTS, "language": language}
        self.active_loop: str | None = None
        # Session start and the customer's messages, as Rasa's tracker has them (the handoff
        # payload needs a transcript).
        self.events: list[dict[str, Any]] = [
            {"event": "session_started", "timestamp": 1_764_000_000.0}
        ]

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
            "intent_ranking": [{"name": intent, "confidence": 1.0}],
            "entities": entities or [],
            "metadata": metadata or {},
        }
        events = [*self.events, self._user_event(latest)]
        loop = {"name": self.active_loop} if self.active_loop else {}
        return Tracker(
            self.sender_id, dict(self.slots), latest, events, False, None, loop, "action_listen"
        )

    def _user_event(self, latest: dict[str, Any]) -> dict[str, Any]:
        return {
            "event": "user",
            "timestamp": 1_764_000_000.0 + len(self.events),
            "text": latest["text"],
            "parse_data": latest,
            "input_channel": "rest",
        }

    def run(
        self, action: Action, text: str, intent: str = "ask_question", **kwargs: Any
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Run ``action`` on a user message, apply its SlotSet events, return (messages, events)."""
        tracker = self.tracker(text, intent, **kwargs)
        self.events.append(self._user_event(tracker.latest_message))
        messages, events = self._execute(action, tracker)
        if any(e["event"] == "followup" and e["name"] == "handoff_form" for e in events):
            self.active_loop = "handoff_form"
            self.events.append({"event": "active_loop", "name": "handoff_form"})
        return messages, events

    def _execute(
        self, action: Action, tracker: Tracker
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        dispatcher = CollectingDispatcher()
        result = action.run(dispatcher, tracker, DOMAIN)
        events = asyncio.run(result) if inspect.isawaitable(result) else result
        for event in events:
            if event["event"] == "slot":
                self.slots[event["name"]] = event["value"]
        for message in dispatcher.messages:
            self.events.append(
                {
                    "event": "bot",
                    "text": message.get("response"),
                    "data": {},
                    "metadata": {"utter_action": message.get("response")},
                }
            )
        return dispatcher.messages, events

    def form_turn(
        self, validator: Action, text: str | None, intent: str = "inform"
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One turn of a form, as Rasa runs it: the answer fills the requested slot (the
        from_text mappings), the validation action cleans it and picks the next slot.
        ``text=None`` is the form's activation. Returns (messages, next requested slot)."""
        form = validator.name().removeprefix("validate_")
        self.active_loop = form
        requested = self.slots.get("requested_slot")
        if text is None:
            candidates = {s: self.slots[s] for s in DOMAIN["forms"][form]["required_slots"]
                          if self.slots.get(s) is not None}  # fmt: skip
            latest_text, latest_intent = self._last_user_text(), "request_human"
        else:
            candidates = {requested: text} if requested else {}
            latest_text, latest_intent = text, intent
        self.slots.update(candidates)
        tracker = self.tracker(latest_text, latest_intent)
        if text is not None:
            self.events.append(self._user_event(tracker.latest_message))
        tracker.events.extend(
            {"event": "slot", "name": k, "value": v} for k, v in candidates.items()
        )
        messages, events = self._execute(validator, tracker)
        requests = [
            e["value"] for e in events if e["event"] == "slot" and e["name"] == "requested_slot"
        ]
        if requests:
            next_slot = requests[-1]
        else:  # the validation action left the choice to Rasa: the domain's order
            required = DOMAIN["forms"][form]["required_slots"]
            next_slot = next((s for s in required if self.slots.get(s) is None), None)
        self.slots["requested_slot"] = next_slot
        if next_slot is None:
            self.active_loop = None
        return messages, next_slot

    def _last_user_text(self) -> str:
        return next((e["text"] for e in reversed(self.events) if e["event"] == "user"), "")


def responses(messages: list[dict[str, Any]]) -> list[str]:
    return [m["response"] for m in messages]
