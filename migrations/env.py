"""Alembic environment. The URL comes from the Config (`bot.store.migrate.alembic_config(url)`, used by
`coroner db` and the tests) or else from Settings (`CORONER_DATABASE_URL`): never from alembic.ini."""

from __future__ import annotations

from alembic import context

from bot.settings import load_settings
from bot.store.db import make_engine
from bot.store.models import Base, UtcDateTime

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    return config.get_main_option("sqlalchemy.url") or load_settings().database_url


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    # Migrations spell the plain column type, so an old migration never depends on today's Python class.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(database_url())
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                # SQLite cannot ALTER most things: batch mode rebuilds the table, and the naming
                # convention on Base gives it the constraint names it needs.
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
                render_item=render_item,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
