"""Database fixtures shared by the integration tests: each runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.store import migrate
from bot.store.models import Base
from tests.conftest import temporary_database


class FakeClock:
    """A clock the test moves by hand (leases, receipt times)."""

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

@pytest.fixture(scope="session")
def shared_postgres_url() -> Iterator[str]:
    with temporary_database() as url:
        migrate.upgrade(url)
        yield url


def _empty_tables(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            # DELETE, not TRUNCATE: on tables this small it is far cheaper (TRUNCATE syncs new files).
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    finally:
        engine.dispose()

