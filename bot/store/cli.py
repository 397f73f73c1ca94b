"""`coroner db ...`: the schema, through Alembic only."""

from __future__ import annotations

import click

from bot.ports import CoronerError
from bot.settings import load_settings
from bot.store import migrate
from bot.store.db import describe_url


def _url(url: str | None) -> str:
    return url or load_settings().database_url


class DowngradeNotConfirmed(CoronerError):
    """A downgrade was asked for without `--yes`: it drops tables and their rows."""


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


# ignore_unknown_options: a relative revision such as `-1` is an argument, not an unknown option.
@db.command("downgrade", context_settings={"ignore_unknown_options": True})
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Confirm: a downgrade drops tables and the rows in them.")
@url_option
def downgrade(revision: str, yes: bool, url: str | None) -> None:
    """Downgrade the schema to REVISION (`base` drops every table, `-1` goes back one). Needs --yes."""
    if not yes:
        # Every downgrade drops what the migrations it undoes created, rows included; `-1` from the
        # first revision is `base`. Nothing is touched without an explicit confirmation.
        loss = "every table" if revision == "base" else "what the undone migrations created"
        raise DowngradeNotConfirmed(f"downgrade {revision} drops {loss}, with its rows: pass --yes to confirm")
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


@db.command("pending")
@url_option
def pending(url: str | None) -> None:
    """List stored webhook events that are not processed yet, with the last error."""
    from bot.store import Store

    store = Store.from_url(_url(url))
    try:
        with store.unit_of_work() as uow:
            events = uow.events.pending(limit=1000)
    finally:
        store.dispose()
    for event in events:
        error = f"  {event.last_error}" if event.last_error else ""
        click.echo(
            f"{event.id}\t{event.received_at.isoformat(timespec='seconds')}\t{event.source}\t{event.event_type}"
            f"\tattempts={event.attempts}{error}"
        )
    click.echo(f"{len(events)} pending", err=True)


@db.command("reprocess")
@url_option
def reprocess(url: str | None) -> None:
    """Process stored webhook events again, including those that failed too often (after a fix).

    Events are claimed one at a time as the running bots claim them, so this is safe while `serve` runs
    and beside another `reprocess`: each event is counted by the one process that applied it."""
    from bot.incidents.service import IncidentService, Processed
    from bot.store import Store

    store = Store.from_url(_url(url))
    try:
        counts = IncidentService(store).process_pending(limit=1000, retry_exhausted=True)
    finally:
        store.dispose()
    skipped = f"; {counts[Processed.SKIPPED]} taken by another process" if counts[Processed.SKIPPED] else ""
    click.echo(f"processed {counts[Processed.DONE]}; {counts[Processed.FAILED]} failed{skipped}")
    if counts[Processed.FAILED]:
        raise SystemExit(1)
