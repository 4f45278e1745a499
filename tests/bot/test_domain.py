"""Every customer-facing response exists in Spanish (language condition) and English."""

from __future__ import annotations

import pytest

from tests.bot.helpers import DOMAIN

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
