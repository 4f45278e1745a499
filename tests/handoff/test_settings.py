"""Configuration from the environment, and a first start on an empty SQLite path."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from handoff_service.main import create_app
from handoff_service.settings import Settings


def test_defaults_are_the_documented_ones(monkeypatch) -> None:
    for name in ("DATABASE_URL", "HANDOFF_DATABASE_URL", "HANDOFF_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite:///var/handoff.db"
    assert settings.timezone == "Europe/Madrid"
    assert settings.kb_drafts_dir == Path("kb_articles")
    assert settings.routing_rules_path.name == "routing_rules.yml"


def test_environment_overrides(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/nivel0")
    monkeypatch.setenv("HANDOFF_TIMEZONE", "America/Bogota")
    monkeypatch.setenv("HANDOFF_KB_DRAFTS_DIR", "/tmp/kb")
    settings = Settings()
    assert settings.sqlalchemy_url == "postgresql+psycopg://postgres@127.0.0.1:5432/nivel0"
    assert settings.timezone == "America/Bogota"
    assert settings.kb_drafts_dir == Path("/tmp/kb")


def test_first_start_creates_and_migrates_the_sqlite_file(
    tmp_path: Path, triage_model_path
) -> None:
    database = tmp_path / "var" / "handoff.db"
    app = create_app(
        Settings(database_url=f"sqlite:///{database}", triage_model_path=triage_model_path)
    )
    try:
        assert database.exists()
        assert TestClient(app).get("/healthz").json() == {"status": "ok", "database": "sqlite"}
    finally:
        app.state.ctx.engine.dispose()
