"""Fixtures for the bot tests: a small bilingual knowledge base in a temporary directory,
loaded by the real knowledge package (real embedding model, real index) and installed as the
actions' settings and knowledge service, and the real handoff service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from actions import kb, settings
from actions.settings import ActionSettings

from knowledge.reload import ReloadingKnowledgeBase
from knowledge.settings import KnowledgeSettings
from tests.support import HandoffServiceProcess, fixture_article, write_kb

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
    """Published articles whose body is their summary."""
    write_kb(
        kb_dir,
        (
            fixture_article(
                topic,
                language,
                title,
                category=category,
                summary=summary,
                questions=questions,
                body=summary,
                tags=[category],
            )
            for topic, (category, languages) in FIXTURE_ARTICLES.items()
            for language, (title, summary, questions) in languages.items()
        ),
    )


@pytest.fixture(scope="module")
def action_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionSettings]:
    """The actions' settings on the fixture KB (no calibration file: default bands), with the
    outbox (handoffs and unanswered questions the actions record) in the test's directory."""
    root = tmp_path_factory.mktemp("kb")
    write_fixture_kb(root / "articles")
    configured = ActionSettings(
        knowledge=KnowledgeSettings(
            kb_dir=root / "articles",
            index_dir=root / "index",
            calibration=root / "calibration.json",
            help_center_url="https://help.example.test",
            kb_reload_seconds=0,
        ),
        outbox_path=root / "outbox.db",
    )
    settings.configure(configured)
    yield configured
    settings.reset()


@pytest.fixture(scope="module")
def knowledge_base(action_settings: ActionSettings) -> Iterator[ReloadingKnowledgeBase]:
    """The fixture KB, installed as the actions' knowledge service."""
    knowledge = kb.load(action_settings.knowledge)
    kb.configure(knowledge)
    yield knowledge
    kb.reset()


@pytest.fixture
def configure_actions(
    action_settings: ActionSettings,
) -> Iterator[Callable[..., ActionSettings]]:
    """``configure_actions(field=value, ...)`` installs the module's settings with those
    changes for one test."""

    def install(**changes: object) -> ActionSettings:
        return settings.configure(action_settings.model_copy(update=changes))

    yield install
    settings.configure(action_settings)


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
