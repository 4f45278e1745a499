"""Shared fixtures: a tiny bilingual KB written to tmp dirs, and one model per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from knowledge.articles import Article
from tests.support.kb import FIXTURE_DATE, write_kb

FIXTURE_ARTICLES: dict[tuple[str, str], dict] = {
    ("password-reset", "en"): {
        "title": "I didn't receive the password reset email",
        "category": "account",
        "summary": "Reset emails arrive within 5 minutes. Check your spam folder.",
        "questions": [
            "I never got the reset password email",
            "forgot my password and no email arrives",
            "how do I recover my password",
        ],
    },
    ("password-reset", "es"): {
        "title": "No me llega el email para restablecer la contraseña",
        "category": "account",
        "summary": "El email llega en menos de 5 minutos. Mira en la carpeta de spam.",
        "questions": [
            "no me llega el correo para cambiar la contraseña",
            "he olvidado la contraseña y no recibo ningún email",
            "cómo recupero mi contraseña",
        ],
    },
    ("order-status", "en"): {
        "title": "Where is my order?",
        "category": "orders",
        "summary": "Open My orders in your account to see the state and the tracking link.",
        "questions": [
            "how can I track my order",
            "where is my package",
            "my order has not arrived yet, what is its status",
        ],
    },
    ("order-status", "es"): {
        "title": "¿Dónde está mi pedido?",
        "category": "orders",
        "summary": "En Mis pedidos de tu cuenta ves el estado y el enlace de seguimiento.",
        "questions": [
            "cómo puedo seguir mi pedido",
            "dónde está mi paquete",
            "mi pedido no ha llegado todavía, en qué estado está",
        ],
    },
    ("troubleshoot-bluetooth", "en"): {
        "title": "Bluetooth headphones won't pair or keep disconnecting",
        "category": "troubleshooting",
        "summary": "Put the headphones in pairing mode, forget the device and pair again.",
        "questions": [
            "my earbuds won't connect to my phone",
            "headphones keep disconnecting from bluetooth",
            "how do I pair my wireless headphones",
        ],
    },
    ("troubleshoot-bluetooth", "es"): {
        "title": "Los auriculares Bluetooth no se emparejan o se desconectan",
        "category": "troubleshooting",
        "summary": "Pon los auriculares en modo emparejamiento y olvida el dispositivo.",
        "questions": [
            "mis auriculares no se conectan al móvil",
            "los cascos bluetooth se desconectan solos",
            "cómo emparejo mis auriculares inalámbricos",
        ],
    },
    ("refund-timeline", "en"): {
        "title": "How long does a refund take?",
        "category": "refunds",
        "summary": "We inspect returns in 3 business days; the card refund takes 5-10 more days.",
        "questions": [
            "when will I get my money back",
            "refund still not on my card",
            "how many days for the refund",
        ],
    },
    ("refund-timeline", "es"): {
        "title": "¿Cuánto tarda un reembolso?",
        "category": "refunds",
        "summary": "Revisamos la devolución en 3 días laborables; la tarjeta tarda 5-10 días más.",
        "questions": [
            "cuándo me devolvéis el dinero",
            "el reembolso no aparece en mi tarjeta",
            "cuántos días tarda el reembolso",
        ],
    },
}


FIXTURE_BODY = "Intro.\n\n## Steps\n\n1. Do this."


def _fields(topic: str, language: str, overrides: dict) -> dict:
    """A fixture article's fields with ``overrides`` applied (None removes a field)."""
    fields = {
        "id": f"{topic}-{language}",
        "topic": topic,
        "language": language,
        "tags": ["test"],
        "updated": FIXTURE_DATE,
        "status": "published",
        **FIXTURE_ARTICLES.get((topic, language), FIXTURE_ARTICLES[("order-status", "en")]),
        "body": FIXTURE_BODY,
    }
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value is not None}


def write_article(kb_dir: Path, topic: str, language: str, /, **overrides) -> Path:
    """Write a fixture article at ``<kb_dir>/<language>/<topic>.md``.

    A valid one goes through the shared writer (:func:`tests.support.kb.write_kb`, i.e.
    ``Article.dump``); overrides that make it invalid (the parser's own tests) cannot be an
    ``Article``, so that file is written as raw front matter instead.
    """
    fields = _fields(topic, language, overrides)
    path = kb_dir / language / f"{topic}.md"
    try:
        article = Article.model_validate(fields)
    except ValidationError:
        body = fields.pop("body", FIXTURE_BODY)
        front = yaml.safe_dump(fields, allow_unicode=True, sort_keys=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"---\n{front}---\n\n{body}\n", encoding="utf-8")
        return path
    if path.stem != article.topic:  # a file name that does not match the topic (lint tests)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(article.dump(), encoding="utf-8")
        return path
    write_kb(kb_dir, [article])
    return path


def write_fixture_kb(kb: Path) -> Path:
    """A valid fixture KB: 4 topics in en and es."""
    for topic, language in FIXTURE_ARTICLES:
        write_article(kb, topic, language)
    return kb


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    return write_fixture_kb(tmp_path / "kb")


@pytest.fixture(scope="session")
def model():
    """The real bundled all-MiniLM-L6-v2, loaded once per session (never downloaded)."""
    from knowledge.embedding import load_model
    from knowledge.settings import default_model_path

    return load_model(default_model_path())


@pytest.fixture(scope="session")
def float32_model():
    """The bundled model in float32 and PyTorch only: batch-independent vectors, for tests that
    compare two builds exactly (bfloat16 vectors move by ~1e-3 with the batch they are in)."""
    from knowledge.embedding import EmbeddingModel
    from knowledge.settings import default_model_path

    return EmbeddingModel(default_model_path(), precision="float32")
