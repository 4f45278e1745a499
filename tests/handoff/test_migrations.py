"""The Alembic migrations produce exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from handoff_service.db import make_engine
from handoff_service.migrate import alembic_config, upgrade
from handoff_service.models import Base


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            assert context.get_current_revision() is not None
            diff = compare_metadata(context, Base.metadata)
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert diff == []
    assert {"tickets", "ticket_events", "accounts", "api_tokens", "counters"} <= tables


def test_upgrade_is_idempotent(db_url: str) -> None:
    upgrade(db_url)  # already at head: a no-op, not an error


def test_a_fresh_sqlite_file_is_created_on_first_start(tmp_path) -> None:
    target = tmp_path / "nested" / "handoff.db"
    upgrade(f"sqlite:///{target}")
    assert target.exists()


def test_downgrade_to_base_and_back(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(url)
