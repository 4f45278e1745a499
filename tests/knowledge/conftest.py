"""Shared fixtures: a tiny bilingual KB written to tmp dirs, and one model per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

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


def article_text(topic: str, language: str, /, **overrides) -> str:
    """Markdown of a valid article (front matter per docs/kb-format.md), with field overrides.

    An override of None removes the field.
    """
    meta = {
        "id": f"{topic}-{language}",
        "topic": topic,
        "language": language,
        "tags": ["test"],
        "updated": "2026-10-12",
        "status": "published",
        **FIXTURE_ARTICLES.get((topic, language), FIXTURE_ARTICLES[("order-status", "en")]),
    }
    meta.update(overrides)
    meta = {key: value for key, value in meta.items() if value is not None}
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
    return f"---\n{front}---\n\nIntro.\n\n## Steps\n\n1. Do this.\n"


def write_article(kb_dir: Path, topic: str, language: str, /, **overrides) -> Path:
    path = kb_dir / language / f"{topic}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(article_text(topic, language, **overrides), encoding="utf-8")
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
