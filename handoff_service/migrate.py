"""Run the Alembic migrations programmatically (CLI, startup, tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from handoff_service.settings import PACKAGE_DIR


def alembic_config(url: str) -> Config:
    config = Config(str(PACKAGE_DIR / "alembic.ini"))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
