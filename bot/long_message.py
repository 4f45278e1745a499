"""NLU component: an over-long message goes to the knowledge-base search, whatever its words.

The intent classifier is trained on short sentences; a 5,000-character message was classified as
``thanks`` and answered "You're welcome!". This component runs after the classifiers
(``config.yml``) and labels every message longer than ``max_chars`` ``nlu_fallback``, which the
rules send to ``action_search_kb``; the search does not search a text longer than
``NIVEL0_MAX_QUERY_CHARS`` and asks the customer to summarise it in a few sentences instead.
Keep ``max_chars`` equal to that setting's value (both 1000 by default; a test checks it).
Rasa imports this module from ``bot/``, its working directory.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class LongMessageClassifier(GraphComponent):
    """Messages longer than ``max_chars`` get the intent ``nlu_fallback`` with confidence 1."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"max_chars": 1000}

    def __init__(self, config: dict[str, Any]) -> None:
        self.max_chars = int(config["max_chars"])

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LongMessageClassifier:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if len((message.get(TEXT) or "").strip()) > self.max_chars:
                intent = {
                    INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME,
                    PREDICTED_CONFIDENCE_KEY: 1.0,
                }
                message.set(INTENT, intent, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [intent], add_to_output=True)
        return messages
