"""Fixtures for the help-centre tests: the app over the real knowledge base (kb_articles/) and
over a small temporary KB with hostile content, both served by the real reloading knowledge base
(real embedding model, real index)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from help_center.knowledge import HelpKnowledge
from help_center.main import create_app
from help_center.settings import HelpCenterSettings
from knowledge.settings import KnowledgeSettings
from tests.support import fixture_article, write_kb

ROOT = Path(__file__).resolve().parents[2]
KB_DIR = ROOT / "kb_articles"

HOSTILE_TITLE = 'Reset <script>alert("title")</script> & more'
HOSTILE_BODY = textwrap.dedent(
    """\
    Intro with <script>alert("body")</script> and <img src=x onerror="alert(1)">.

    ## Steps

    1. Open [the evil link](javascript:alert(1)).
    2. Open [the good link](https://voltia.example/account).

    | Plan | Price |
    |------|-------|
    | Basic | 0 € |
    """
)
DEFAULT_HELP_CENTER_URL = KnowledgeSettings.model_fields["help_center_url"].default
DEFAULT_SETTINGS = HelpCenterSettings(
    host="127.0.0.1", port=8080, rasa_public_url="http://localhost:5005"
)
HOSTILE_SUMMARY = "Summary of password-reset <b>bold?</b>"


def real_knowledge_settings() -> KnowledgeSettings:
    """kb_articles/ and the project's index, as `make run` serves them (default article URLs)."""
    return KnowledgeSettings(kb_dir=KB_DIR, help_center_url=DEFAULT_HELP_CENTER_URL)


def small_knowledge_settings(
    kb_dir: Path, index_dir: Path, reload_seconds: float = 0
) -> KnowledgeSettings:
    """A temporary KB; queries through PyTorch, so the tests share one model instance instead
    of exporting an ONNX query encoder into every temporary index directory."""
    return KnowledgeSettings(
        kb_dir=kb_dir, index_dir=index_dir, query_encoder="torch", kb_reload_seconds=reload_seconds
    )


@pytest.fixture(scope="session")
def hostile_title() -> str:
    return HOSTILE_TITLE


@pytest.fixture(scope="session")
def real_knowledge() -> Iterator[HelpKnowledge]:
    """The reloading knowledge base over kb_articles/ (loaded on first use, shared)."""
    knowledge = HelpKnowledge.from_settings(real_knowledge_settings())
    yield knowledge
    knowledge.close()


@pytest.fixture(scope="session")
def real_client(real_knowledge: HelpKnowledge) -> Iterator[TestClient]:
    """The app as deployed: default settings, kb_articles/ and the real knowledge base."""
    with TestClient(create_app(DEFAULT_SETTINGS, real_knowledge)) as client:
        yield client


@pytest.fixture(scope="session")
def small_kb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_kb(
        tmp_path_factory.mktemp("kb"),
        [
            fixture_article(
                "password-reset", "en", HOSTILE_TITLE, summary=HOSTILE_SUMMARY, body=HOSTILE_BODY
            ),
            fixture_article("password-reset", "es", "Restablecer la contraseña"),
            fixture_article("order-status", "en", "Where is my order?", category="orders"),
            fixture_article("secret-plan", "en", "Draft article", status="draft"),
        ],
    )


@pytest.fixture(scope="session")
def small_client(
    small_kb_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The app over the small KB with hostile content (and a hostile Rasa URL setting)."""
    settings = DEFAULT_SETTINGS.model_copy(
        update={"rasa_public_url": 'http://rasa.example</script><script>alert("cfg")</script>'}
    )
    knowledge = HelpKnowledge.from_settings(
        small_knowledge_settings(small_kb_dir, tmp_path_factory.mktemp("index"))
    )
    with TestClient(create_app(settings, knowledge)) as client:
        yield client
    knowledge.close()
