"""Store fixtures: every test here runs on SQLite and on PostgreSQL (skipped when absent)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.store import Store, migrate
from bot.store.models import Base


class FakeClock:
    def __init__(self, start: datetime = datetime(2024, 5, 14, 3, 0, 0, tzinfo=UTC)) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A migrated database with empty tables."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'coroner.db'}"
        migrate.upgrade(url)
        return url
    url = request.getfixturevalue("shared_postgres_url")
    _empty_tables(url)
    return url


# --- one migrated PostgreSQL database per session, emptied before each test --------------------------
# Creating and migrating a database costs about a second; tests of behaviour (not of migrations) share
# one and start from empty tables instead.

POSTGRES_ADMIN_URL = os.environ.get(
    "CORONER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _service_unavailable(what: str) -> None:
    # Same contract as tests/conftest.py's service_unavailable (which a session fixture cannot request).
    if os.environ.get("CORONER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} (CORONER_REQUIRE_SERVICES=1)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def shared_postgres_url() -> Iterator[str]:
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"coroner_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _service_unavailable(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc.orig}")
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty_tables(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            # DELETE, not TRUNCATE: on tables this small it is far cheaper (TRUNCATE syncs new files).
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """An empty database, with no schema at all."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(database_url: str, clock: FakeClock) -> Iterator[Store]:
    store = Store.from_url(database_url, clock=clock)
    yield store
    store.dispose()
