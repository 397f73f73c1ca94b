"""Alembic, driven from Python: the script directory ships inside the wheel (`bot.migrations`), so these
work from any directory after `pip install .`, with the URL given explicitly (tests, `--url`) or read
from Settings by `migrations/env.py`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TextIO

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from bot.settings import packaged_dir
from bot.store.db import UNAVAILABLE_ERRORS, StoreError, StoreUnavailable, describe_url

# Migrations are named `YYYY_MM_DD_<rev>_<slug>.py`, so `ls` lists them in the order they were written.
FILE_TEMPLATE = "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s"


class MigrationError(StoreError):
    """A migration command failed (unknown revision, drift, bad script)."""


def alembic_config(url: str | None = None, *, stdout: TextIO | None = None) -> Config:
    """An Alembic config on the packaged scripts. With `url` None, env.py reads `CORONER_DATABASE_URL`.
    Alembic's own messages go to `stdout` (a buffer by default: the CLI decides what to print)."""
    config = Config(stdout=stdout if stdout is not None else io.StringIO())
    config.set_main_option("script_location", str(packaged_dir("migrations")))
    config.set_main_option("file_template", FILE_TEMPLATE)
    config.set_main_option("timezone", "UTC")
    if url is not None:
        # `%` is ConfigParser interpolation syntax; a password may contain one.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _run(what: str, url: str | None, fn: Callable[..., object], *args: object) -> None:
    try:
        fn(*args)
    except UNAVAILABLE_ERRORS as exc:
        orig = getattr(exc, "orig", exc)
        target = describe_url(url) if url else "the database"
        raise StoreUnavailable(f"{what}: {target} is unavailable: {str(orig).strip().splitlines()[0]}") from exc
    except CommandError as exc:
        raise MigrationError(f"{what}: {exc}") from exc


def upgrade(url: str | None = None, revision: str = "head") -> None:
    _run("upgrade", url, command.upgrade, alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "-1") -> None:
    _run("downgrade", url, command.downgrade, alembic_config(url), revision)


def current(url: str | None = None) -> str:
    """The revision(s) the database is at, as Alembic prints them (empty when the schema is not created)."""
    out = io.StringIO()
    _run("current", url, command.current, alembic_config(url, stdout=out))
    return out.getvalue().strip()


def head() -> str:
    head_rev = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return head_rev or ""


def check(url: str | None = None) -> None:
    """Raise `MigrationError` when the models differ from what the migrations build (or the database is
    not at head): the drift check CI runs."""
    _run("check", url, command.check, alembic_config(url))
