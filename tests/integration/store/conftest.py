"""Store fixtures: every test here runs on SQLite and on PostgreSQL (skipped when absent)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.store import Store


class FakeClock:
    def __init__(self, start: datetime = datetime(2024, 5, 14, 3, 0, 0, tzinfo=UTC)) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'coroner.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(database_url: str, clock: FakeClock) -> Iterator[Store]:
    store = Store.from_url(database_url, clock=clock)
    store.upgrade()
    yield store
    store.dispose()
