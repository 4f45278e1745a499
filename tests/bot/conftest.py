"""Fixtures for the bot tests: a small bilingual knowledge base in a temporary directory,
loaded by the real knowledge package (real embedding model, real index), and helpers to run
custom actions with rasa_sdk's Tracker and CollectingDispatcher.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from knowledge.new_article import article_text
from tests.support import HandoffServiceProcess

BOT_DIR = Path(__file__).resolve().parents[2] / "bot"

# topic -> category, {language: (title, summary, questions)}
FIXTURE_ARTICLES: dict[str, tuple[str, dict[str, tuple[str, str, list[str]]]]] = {
    "refund-timeline": (
        "refunds",
        {
            "en": (
                "How long does a refund take?",
                "We inspect returns within 3 business days; the refund then takes 5-10 "
                "business days to reach your card.",
                [
                    "how long does a refund take",
                    "when will I get my money back",
                    "my refund has not arrived yet",
                    "question about my refund",
                ],
            ),
            "es": (
                "¿Cuánto tarda un reembolso?",
                "Revisamos la devolución en 3 días laborables; después el reembolso tarda "
                "de 5 a 10 días laborables en llegar a tu tarjeta.",
                [
                    "cuánto tarda el reembolso",
                    "cuándo me devolvéis el dinero",
                    "todavía no me ha llegado el reembolso",
                    "pregunta sobre mi reembolso",
                ],
            ),
        },
    ),
    "refund-method": (
        "refunds",
        {
            "en": (
                "Where does my refund go?",
                "Refunds go back to the original payment method; you can choose store "
                "credit with an extra 5% instead.",
                [
                    "where does my refund go",
                    "can I get store credit instead of a refund",
                    "will the refund go back to my card",
                    "question about my refund",
                ],
            ),
            "es": (
                "¿Dónde recibo el reembolso?",
                "El reembolso vuelve al método de pago original; también puedes elegir "
                "saldo en la tienda con un 5% extra.",
                [
                    "dónde recibo el reembolso",
                    "puedo recibir saldo en vez del reembolso",
                    "me devolvéis el dinero a la tarjeta",
                    "pregunta sobre mi reembolso",
                ],
            ),
        },
    ),
    "password-reset": (
        "account",
        {
            "en": (
                "I didn't receive the password reset email",
                "Reset emails arrive within 5 minutes. Check your spam folder and use the "
                "address registered in your account.",
                [
                    "I never got the reset password email",
                    "forgot my password and no email arrives",
                    "the password reset link does not work",
                ],
            ),
            "es": (
                "No me llega el email para restablecer la contraseña",
                "El email llega en menos de 5 minutos. Mira en spam y comprueba que usas el "
                "email con el que te registraste.",
                [
                    "no me llega el correo para restablecer la contraseña",
                    "he olvidado la contraseña y no recibo ningún email",
                    "el enlace para cambiar la contraseña no funciona",
                ],
            ),
        },
    ),
    "shipping-times": (
        "shipping",
        {
            "en": (
                "Delivery times and costs",
                "Spain 24-48 h, EU 3-5 business days; shipping is free over 50 EUR.",
                [
                    "how long does delivery take",
                    "how much does shipping cost",
                    "is shipping free",
                ],
            ),
            "es": (
                "Plazos y gastos de envío",
                "España 24-48 h, UE 3-5 días laborables; envío gratis a partir de 50 EUR.",
                [
                    "cuánto tarda el envío",
                    "cuánto cuestan los gastos de envío",
                    "el envío es gratis",
                ],
            ),
        },
    ),
}


def write_fixture_kb(kb_dir: Path) -> None:
    """Published articles whose body is their summary, in the format ``kb new`` writes."""
    for topic, (category, languages) in FIXTURE_ARTICLES.items():
        for language, (title, summary, questions) in languages.items():
            text = article_text(
                topic=topic,
                title=title,
                language=language,
                category=category,
                summary=summary,
                questions=questions,
                updated=dt.date(2026, 10, 12),
                status="published",
                body=f"{summary}\n",
            )
            path = kb_dir / language / f"{topic}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def fixture_kb_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Point the knowledge package at the fixture KB (no calibration file: default bands)."""
    root = tmp_path_factory.mktemp("kb")
    write_fixture_kb(root / "articles")
    env = {
        "NIVEL0_KB_DIR": str(root / "articles"),
        "NIVEL0_INDEX_DIR": str(root / "index"),
        "NIVEL0_CALIBRATION": str(root / "calibration.json"),
        "NIVEL0_HELP_CENTER_URL": "https://help.example.test",
        "NIVEL0_KB_RELOAD_SECONDS": "0",
        # Gaps and handoffs recorded by the actions stay in the test's directory.
        "NIVEL0_GAPS_DB": str(root / "gaps.db"),
        "NIVEL0_OUTBOX_PATH": str(root / "outbox.db"),
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    yield env
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def knowledge_base(fixture_kb_env: dict[str, str]) -> Any:
    from actions import kb

    kb.reset()
    knowledge = kb.get_knowledge_base()
    yield knowledge
    kb.reset()


@pytest.fixture(scope="module")
def service_handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HandoffServiceProcess]:
    """The real handoff service of a test module (tests/support/handoff_service.py)."""
    service = HandoffServiceProcess(tmp_path_factory.mktemp("handoff-service"))
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def service(service_handle: HandoffServiceProcess) -> HandoffServiceProcess:
    """The running service (started again if a previous test left it stopped)."""
    if not service_handle.running:
        service_handle.start()
    return service_handle
