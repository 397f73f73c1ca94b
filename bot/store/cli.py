"""`coroner db ...`: the schema, through Alembic only."""

from __future__ import annotations

import click

from bot.settings import load_settings
from bot.store import migrate
from bot.store.db import describe_url


def _url(url: str | None) -> str:
    return url or load_settings().database_url


url_option = click.option(
    "--url", metavar="URL", help="Database URL (default: CORONER_DATABASE_URL, else the SQLite file)."
)


@click.group("db")
def db() -> None:
    """Create, upgrade and check the database schema (Alembic migrations)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@url_option
def upgrade(revision: str, url: str | None) -> None:
    """Upgrade the schema to REVISION (default: head). Safe to run again."""
    target = _url(url)
    migrate.upgrade(target, revision)
    click.echo(f"{describe_url(target)}: at {migrate.current(target) or 'base'}")


@db.command("downgrade")
@click.argument("revision")
@url_option
def downgrade(revision: str, url: str | None) -> None:
    """Downgrade the schema to REVISION (`base` drops every table, `-1` goes back one)."""
    target = _url(url)
    migrate.downgrade(target, revision)
    click.echo(f"{describe_url(target)}: at {migrate.current(target) or 'base'}")


@db.command("current")
@url_option
def current(url: str | None) -> None:
    """Print the revision the database is at (`base`: no schema yet)."""
    target = _url(url)
    click.echo(migrate.current(target) or "base")


@db.command("check")
@url_option
def check(url: str | None) -> None:
    """Fail unless the database is at head and the models match the migrations (drift check)."""
    target = _url(url)
    migrate.check(target)
    click.echo(f"{describe_url(target)}: up to date ({migrate.head()}), no drift")
