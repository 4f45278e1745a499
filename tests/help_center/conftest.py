"""Fixtures for the help-centre tests: the app over the real knowledge base (kb_articles/) and
over a small temporary KB with hostile content, both loaded by the real knowledge package."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from help_center.catalog import Catalog
from help_center.main import create_app
from help_center.search import SearchService
from help_center.settings import Settings
from knowledge.search import KnowledgeBase

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


def write_article(
    kb_dir: Path,
    topic: str,
    language: str,
    title: str,
    *,
    category: str = "account",
    status: str = "published",
    body: str = "Some text.\n\n## Details\n\nMore text.",
    questions: tuple[str, ...] = ("question one", "question two", "question three"),
) -> None:
    folder = kb_dir / language
    folder.mkdir(parents=True, exist_ok=True)
    front = "\n".join(
        [
            "---",
            f"id: {topic}-{language}",
            f"topic: {topic}",
            f"title: '{title}'",
            f"language: {language}",
            f"category: {category}",
            "tags: [test]",
            f"summary: 'Summary of {topic} <b>bold?</b>'",
            "questions:",
            *(f"  - {q}" for q in questions),
            "updated: 2026-11-20",
            f"status: {status}",
            "---",
        ]
    )
    (folder / f"{topic}.md").write_text(front + "\n\n" + body + "\n", encoding="utf-8")


@pytest.fixture(scope="session")
def hostile_title() -> str:
    return HOSTILE_TITLE


@pytest.fixture(scope="session")
def search_service() -> SearchService:
    """The real KnowledgeBase over kb_articles/ (loaded on first search, shared by the tests)."""

    def real_kb() -> KnowledgeBase:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("NIVEL0_KB_DIR", str(KB_DIR))
            return KnowledgeBase.from_env()

    return SearchService(real_kb)


def real_settings(rasa_public_url: str = "http://localhost:5005") -> Settings:
    return Settings(host="127.0.0.1", port=8080, rasa_public_url=rasa_public_url, kb_dir=KB_DIR)


@pytest.fixture(scope="session")
def real_client(search_service: SearchService) -> Iterator[TestClient]:
    """The app as deployed: kb_articles/ and the real KnowledgeBase."""
    app = create_app(real_settings(), Catalog.load(KB_DIR), search_service)
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="session")
def small_kb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kb_dir = tmp_path_factory.mktemp("kb")
    write_article(kb_dir, "password-reset", "en", HOSTILE_TITLE, body=HOSTILE_BODY)
    write_article(kb_dir, "password-reset", "es", "Restablecer la contraseña")
    write_article(kb_dir, "order-status", "en", "Where is my order?", category="orders")
    write_article(kb_dir, "secret-plan", "en", "Draft article", status="draft")
    return kb_dir


@pytest.fixture(scope="session")
def small_client(
    small_kb_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The app over the small KB with hostile content (and a hostile Rasa URL setting)."""
    settings = Settings(
        host="127.0.0.1",
        port=8080,
        rasa_public_url='http://rasa.example</script><script>alert("cfg")</script>',
        kb_dir=small_kb_dir,
    )
    index_dir = tmp_path_factory.mktemp("index")

    def small_kb() -> KnowledgeBase:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("NIVEL0_KB_DIR", str(small_kb_dir))
            env.setenv("NIVEL0_INDEX_DIR", str(index_dir))
            return KnowledgeBase.from_env()

    app = create_app(settings, Catalog.load(small_kb_dir), SearchService(small_kb))
    with TestClient(app) as client:
        yield client
