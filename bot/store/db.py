"""Engines for the two supported backends, and the conversion of "the database is not there" into one error.

SQLite is the embedded default and has a single writer: every transaction starts with `BEGIN IMMEDIATE`,
so two writers queue on the lock (up to `busy_timeout`) instead of failing halfway when a read lock
cannot be upgraded. PostgreSQL is the production store: pooled, pre-pinged, with a connect timeout so a
dead server is a fast 503 instead of a hung request.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot.ports import CoronerError

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 10_000
POSTGRES_CONNECT_TIMEOUT_S = 5


class StoreError(CoronerError):
    """A storage operation failed for a reason a person can act on."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or opened (down, refused, locked too long, bad path).

    Transient by nature: the intake answers 503 so PagerDuty retries; the CLI prints it as one line."""

    exit_code = 3


class TransactionConflict(StoreUnavailable):
    """The database aborted this transaction because it conflicted with another one (PostgreSQL's
    SQLSTATE class 40: deadlock detected, serialization failure). Nothing of it was written, and running
    the same transaction again is safe: callers that own the whole transaction retry it at once; the rest
    treat it as the transient error it is (a `StoreUnavailable`)."""


# Errors that mean "the database is not reachable / usable right now", as opposed to a bug or a
# constraint violation: OperationalError covers refused connections, timeouts, SQLite's "unable to open
# database file" and "database is locked"; InterfaceError a connection closed under us.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (sa.exc.OperationalError, sa.exc.InterfaceError)


def describe_url(url: str | sa.URL) -> str:
    """The URL with its password masked: safe for logs and error messages."""
    return sa.make_url(url).render_as_string(hide_password=True)


def make_engine(url: str | sa.URL, **kwargs: Any) -> Engine:
    """An engine configured for Coroner's two backends. Connecting is lazy: this never touches the database."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(parsed, **kwargs)
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            # psycopg 3 is the driver we ship; plain `postgresql://` would ask for psycopg2.
            parsed = parsed.set(drivername="postgresql+psycopg")
        connect_args = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S, **kwargs.pop("connect_args", {})}
        return sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    raise StoreError(f"unsupported database {describe_url(parsed)}: use sqlite:/// or postgresql+psycopg://")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite (it starts transactions lazily and never for
        # SELECT), so that the "begin" hook below decides how every transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        # Write-ahead log: a commit is one append and one fsync instead of a rollback journal's several,
        # and readers outside a transaction are not blocked by the writer. FULL keeps every commit that
        # was acknowledged (a 202 means the event survives a power cut).
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def ping(engine: Engine) -> None:
    """Raise `StoreUnavailable` unless a round trip to the database succeeds."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except UNAVAILABLE_ERRORS as exc:
        raise unavailable(engine, exc) from exc


def unavailable(engine: Engine, exc: BaseException) -> StoreUnavailable:
    orig = getattr(exc, "orig", None) or exc
    first_line = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    if str(getattr(orig, "sqlstate", "") or "").startswith("40"):
        return TransactionConflict(f"database {describe_url(engine.url)} aborted a conflicting transaction: {first_line}")
    return StoreUnavailable(f"database {describe_url(engine.url)} is unavailable: {first_line}")
