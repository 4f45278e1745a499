"""bot/redacting_channel.py inside Rasa's own environment (.venv-rasa, Python 3.10, the one that
runs it): what it redacts before Rasa stores a message, what it keeps for the handoff form, a
card number split over two messages, and the custom message that tells the widget. The end-to-end
tests (test_e2e_handoff.py, the widget's browser test) take it through the running Rasa server."""

from __future__ import annotations

import json
import subprocess

import pytest

from handoff_service.settings import PACKAGE_DIR

ROOT = PACKAGE_DIR.parent
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

# Runs the channel's redaction on {"sender": [messages]} (stdin) and prints, per message,
# the text Rasa would handle and the custom messages sent before Rasa answers.
PROBE = """
import asyncio, json, sys
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from redacting_channel import RedactingRestInput

channel = RedactingRestInput()

async def main():
    out = []
    for sender, texts in json.load(sys.stdin).items():
        for text in texts:
            collector = CollectingOutputChannel()
            message = UserMessage(text, collector, sender)
            await channel.redact_message(message)
            sent = [m.get("custom") for m in collector.messages]
            out.append({"handled": message.text, "sent": sent})
    print(json.dumps(out))

asyncio.run(main())
"""


def run_channel(conversations: dict[str, list[str]]) -> list[dict[str, object]]:
    if not RASA_PYTHON.exists():
        pytest.fail(".venv-rasa is missing: run `make venv`", pytrace=False)
    result = subprocess.run(
        [str(RASA_PYTHON), "-c", PROBE],
        input=json.dumps(conversations),
        capture_output=True,
        text=True,
        cwd=ROOT / "bot",
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'bot'}", "RASA_TELEMETRY_ENABLED": "false"},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_chat_channel_redacts_before_rasa_and_tells_the_widget() -> None:
    results = run_channel(
        {
            "a": [
                "mi tarjeta es 4111 1111 1111 1111 y el cvv es 123",
                "mi correo es ana@example.com, teléfono 612 345 678",
                "DNI 12.345.678-Z, IBAN es91-2100-0418-4502-0005-1332",
                "pedido 123456789, ¿cuándo llega?",
            ],
            # a card split over two messages: the second half is caught with the first
            "b": ["la tarjeta 4111 1111", "1111 1111"],
        }
    )
    card, contact, ids, order, first_half, second_half = results
    assert card == {
        "handled": "mi tarjeta es [card ****1111] y el cvv es [CVV]",
        "sent": [{"redacted": "mi tarjeta es [card ****1111] y el cvv es [CVV]"}],
    }
    # contact details are kept (the handoff form asks for them) and nothing is sent back
    assert contact == {"handled": "mi correo es ana@example.com, teléfono 612 345 678", "sent": []}
    assert "[national ID]" in str(ids["handled"]) and "[IBAN ****1332]" in str(ids["handled"])
    assert "12.345.678" not in str(ids["handled"]) and "2100" not in str(ids["handled"])
    assert order == {"handled": "pedido 123456789, ¿cuándo llega?", "sent": []}
    assert first_half["handled"] == "la tarjeta 4111 1111"
    assert second_half["handled"] == "[card ****1111]"
