"""Configuration from the environment, paths against the project root, and a first start on an
empty SQLite path."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from handoff_service.main import create_app
from handoff_service.settings import Settings
from knowledge.settings import PROJECT_ROOT

VARIABLES = (
    "DATABASE_URL",
    "HANDOFF_DATABASE_URL",
    "NIVEL0_TIMEZONE",
    "NIVEL0_HELP_CENTER_URL",
    "HANDOFF_KB_DRAFTS_DIR",
    "HANDOFF_TRIAGE_MODEL_PATH",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_are_the_documented_ones(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.database_url == f"sqlite:///{PROJECT_ROOT / 'var' / 'handoff.db'}"
    assert settings.timezone == "Europe/Madrid"
    assert settings.kb_drafts_dir == PROJECT_ROOT / "kb_articles"
    assert settings.triage_model_path == PROJECT_ROOT / "var" / "models" / "triage.joblib"
    assert settings.routing_rules_path.name == "routing_rules.yml"
    assert settings.help_center_url == "http://localhost:8080/help"


def test_relative_paths_do_not_depend_on_the_working_directory(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.chdir(tmp_path)
    clean_env.setenv("DATABASE_URL", "sqlite:///data/tickets.db")
    clean_env.setenv("HANDOFF_KB_DRAFTS_DIR", "drafts")
    settings = Settings()
    assert settings.database_url == f"sqlite:///{PROJECT_ROOT / 'data' / 'tickets.db'}"
    assert settings.kb_drafts_dir == PROJECT_ROOT / "drafts"
    assert settings.service_levels_path.is_file()


def test_environment_overrides(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/nivel0")
    clean_env.setenv("NIVEL0_TIMEZONE", "America/Bogota")
    clean_env.setenv("NIVEL0_HELP_CENTER_URL", "https://help.example.com/kb/")
    clean_env.setenv("HANDOFF_KB_DRAFTS_DIR", "/tmp/kb")
    settings = Settings()
    assert settings.sqlalchemy_url == "postgresql+psycopg://postgres@127.0.0.1:5432/nivel0"
    assert settings.timezone == "America/Bogota"
    assert settings.help_center_url == "https://help.example.com/kb"
    assert settings.kb_drafts_dir == Path("/tmp/kb")


def test_one_variable_per_fact(clean_env: pytest.MonkeyPatch) -> None:
    """The old service-only names of shared facts are not read any more."""
    clean_env.setenv("HANDOFF_TIMEZONE", "America/Bogota")
    clean_env.setenv("HANDOFF_HELP_CENTER_URL", "https://old.example.com")
    settings = Settings()
    assert settings.timezone == "Europe/Madrid"
    assert settings.help_center_url == "http://localhost:8080/help"


def test_an_unknown_time_zone_fails_at_startup(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("NIVEL0_TIMEZONE", "Europe/Atlantis")
    with pytest.raises(ValidationError, match="unknown IANA time zone"):
        Settings()


def test_every_setting_is_documented() -> None:
    readme = (PROJECT_ROOT / "handoff_service" / "README.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description"
        alias = field.validation_alias
        names = alias.choices if alias is not None else [f"HANDOFF_{name.upper()}"]  # type: ignore[union-attr]
        assert f"`{names[0]}`" in readme, f"{names[0]} is not in handoff_service/README.md"


def test_first_start_creates_and_migrates_the_sqlite_file(
    tmp_path: Path, triage_model_path: Path
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
