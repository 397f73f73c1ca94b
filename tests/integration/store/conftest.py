"""Store fixtures: every test here runs on SQLite and on PostgreSQL (skipped when absent)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.store import Store
from tests.integration.conftest import FakeClock


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
