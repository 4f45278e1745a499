"""Service configuration from the environment (12-factor).

Every setting is read from ``HANDOFF_<NAME>`` (e.g. ``HANDOFF_TIMEZONE``), except the database
URL, which is read from ``DATABASE_URL`` (``HANDOFF_DATABASE_URL`` is accepted too).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
CONFIG_DIR = PACKAGE_DIR / "config"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HANDOFF_", extra="ignore", validate_by_name=True, validate_by_alias=True
    )

    database_url: str = Field(
        default="sqlite:///var/handoff.db",
        validation_alias=AliasChoices("DATABASE_URL", "HANDOFF_DATABASE_URL"),
        description="SQLAlchemy/libpq URL; postgresql:// URLs use the psycopg 3 driver.",
    )
    auto_migrate: bool = Field(
        default=True, description="Run Alembic migrations to head at startup."
    )
    timezone: str = Field(default="Europe/Madrid", description="Organisation time zone (IANA).")
    routing_rules_path: Path = CONFIG_DIR / "routing_rules.yml"
    service_levels_path: Path = CONFIG_DIR / "service_levels.yml"
    triage_data_path: Path = PACKAGE_DIR / "triage" / "data" / "labelled_requests.csv"
    triage_model_path: Path = Path("var/models/triage.joblib")
    kb_drafts_dir: Path = Field(
        default=Path("kb_articles"),
        description="KB root; drafts are written to <dir>/<language>/<topic>.md.",
    )
    max_body_bytes: int = Field(default=1_000_000, description="Largest accepted request body.")
    console_secure_cookie: bool = Field(
        default=True,
        description="Mark the console's session cookie Secure (HTTPS only). Set false only for "
        "local development over plain http on a non-localhost address.",
    )
    console_session_hours: float = Field(
        default=12, gt=0, le=24 * 30, description="How long a console login lasts."
    )
    help_center_url: str = Field(
        default="http://localhost:8080/help",
        validation_alias=AliasChoices("NIVEL0_HELP_CENTER_URL", "HANDOFF_HELP_CENTER_URL"),
        description="Base of KB article links in the console: <url>/<language>/<topic>.",
    )
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def sqlalchemy_url(self) -> str:
        """``postgresql://`` and ``postgres://`` URLs are mapped to the psycopg 3 driver."""
        url = self.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
