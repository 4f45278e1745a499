"""Run the Alembic migrations programmatically (CLI, startup, tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import make_url

from handoff_service.db import make_engine
from handoff_service.settings import PACKAGE_DIR

#: The PostgreSQL advisory lock key the migrations run under (any constant shared by every
#: replica of the service; this one spells "nivel0mg" in ASCII).
MIGRATION_LOCK_KEY = 0x6E6976656C306D67


def alembic_config(url: str) -> Config:
    config = Config(str(PACKAGE_DIR / "alembic.ini"))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision``.

    On PostgreSQL the upgrade runs while holding a session-level advisory lock, so replicas
    starting at once migrate one after the other: the first applies the migrations, the
    others then find the database at head and do nothing. (Without it, two fresh replicas
    both create the same tables and all but one crash at startup.) SQLite needs no lock:
    a migration's transaction holds the database's write lock.
    """
    if make_url(url).get_backend_name() != "postgresql":
        command.upgrade(alembic_config(url), revision)
        return
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()  # keep no transaction open while the migrations run
            try:
                command.upgrade(alembic_config(url), revision)
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                connection.commit()
    finally:
        engine.dispose()
