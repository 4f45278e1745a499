"""Every customer-facing response exists in Spanish (language condition) and English; the NLU
configuration agrees with the search on what is too long to search."""

from __future__ import annotations

import pytest
import yaml

from knowledge.settings import KnowledgeSettings
from tests.bot.helpers import DOMAIN
from tests.bot.servers import ROOT

RESPONSES = sorted(DOMAIN["responses"])


@pytest.mark.parametrize("name", RESPONSES)
def test_response_has_spanish_and_english_variation(name: str) -> None:
    variations = DOMAIN["responses"][name]
    spanish = [
        v
        for v in variations
        if v.get("condition") == [{"type": "slot", "name": "language", "value": "es"}]
    ]
    default = [v for v in variations if not v.get("condition")]
    assert len(spanish) == 1, "one Spanish variation"
    assert len(default) == 1, "one English (unconditioned) variation"
    assert spanish[0]["text"] != default[0]["text"]
    assert len(spanish[0].get("buttons", [])) == len(default[0].get("buttons", []))


def test_the_nlu_sends_exactly_the_messages_the_search_refuses_to_the_search() -> None:
    """``long_message.LongMessageClassifier`` routes messages over its ``max_chars`` to the search,
    which asks for a summary above ``NIVEL0_MAX_QUERY_CHARS``: the two limits must agree, or a
    long message between them is classified by its words ("thanks") again."""
    config = yaml.safe_load((ROOT / "bot" / "config.yml").read_text(encoding="utf-8"))
    (component,) = [
        c for c in config["pipeline"] if c["name"] == "long_message.LongMessageClassifier"
    ]
    assert config["pipeline"][-1] is component  # after every classifier
    assert component["max_chars"] == KnowledgeSettings.model_fields["max_query_chars"].default
