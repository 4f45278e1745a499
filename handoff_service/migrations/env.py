"""Alembic environment: the URL comes from the caller (``migrate.upgrade``) or, when plain
``alembic`` is the entry point, from the service settings built here once."""

from __future__ import annotations

from alembic import context

from handoff_service.db import make_engine
from handoff_service.models import Base
from handoff_service.settings import Settings

config = context.config
target_metadata = Base.metadata
URL: str = config.attributes.get("url") or Settings().sqlalchemy_url


def run_migrations_offline() -> None:
    context.configure(url=URL, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(URL)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection, target_metadata=target_metadata, render_as_batch=True
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
