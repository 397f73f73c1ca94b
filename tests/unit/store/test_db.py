from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.store import Store, StoreError, StoreUnavailable, make_engine
from bot.store.db import describe_url
from bot.store.models import UtcDateTime


def test_plain_postgresql_urls_use_psycopg3():
    engine = make_engine("postgresql://coroner:s3cret@db:5432/coroner")
    assert engine.url.drivername == "postgresql+psycopg"
    engine.dispose()


def test_other_backends_are_refused():
    with pytest.raises(StoreError, match="unsupported database"):
        make_engine("mysql://u:p@h/d")


def test_passwords_never_show_in_descriptions():
    assert (
        describe_url("postgresql+psycopg://coroner:s3cret@db/coroner") == "postgresql+psycopg://coroner:***@db/coroner"
    )


def test_unopenable_sqlite_file_is_unavailable_and_names_the_database(tmp_path):
    store = Store.from_url(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    with pytest.raises(StoreUnavailable, match="missing/x.db is unavailable: unable to open database file"):
        store.ping()
    with pytest.raises(StoreUnavailable), store.unit_of_work() as uow:
        uow.incidents.list()


def test_building_a_store_does_not_connect(tmp_path):
    store = Store.from_url(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")  # no error until first use
    assert not (tmp_path / "missing").exists()  # nothing was touched on disk
    store.dispose()


class _Dialect:
    def __init__(self, name):
        self.name = name


def test_datetimes_are_stored_as_utc_and_come_back_aware():
    column = UtcDateTime()
    paris = timezone(timedelta(hours=2))
    moment = datetime(2024, 5, 14, 5, 2, 11, tzinfo=paris)
    stored = column.process_bind_param(moment, _Dialect("sqlite"))
    assert stored == datetime(2024, 5, 14, 3, 2, 11)  # naive UTC for SQLite
    assert column.process_result_value(stored, _Dialect("sqlite")) == moment
    assert column.process_bind_param(moment, _Dialect("postgresql")).tzinfo == UTC


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        UtcDateTime().process_bind_param(datetime(2024, 5, 14), _Dialect("sqlite"))
