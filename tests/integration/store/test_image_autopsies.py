"""The autopsy cache table: a report by manifest digest, shared by replicas, on SQLite and PostgreSQL."""

from __future__ import annotations

from bot.images.autopsy import autopsy
from bot.store.models import ImageAutopsyRow
from tests.doubles.images import FakeImageReader, entries

DIGEST = "sha256:" + "a" * 64


def report():
    reader = FakeImageReader()
    reader.add("reg/app:v2", [entries([("usr/lib/libc.so", 5_000_000)]),
                              entries([("app/.git/objects/pack/p.pack", 80_000_000), ("app/main.py", 100)])])
    return autopsy(reader, "reg/app:v2")


def test_a_stored_report_comes_back_whole(store):
    original = report()
    with store.unit_of_work() as uow:
        assert uow.image_autopsies.add(digest=DIGEST, report=original)
        uow.commit()

    with store.unit_of_work() as uow:
        back = uow.image_autopsies.get(DIGEST)
        assert uow.image_autopsies.get("sha256:" + "b" * 64) is None

    assert back is not None and back.to_json() == original.to_json()


def test_a_second_replica_storing_the_same_digest_changes_nothing(store):
    with store.unit_of_work() as uow:
        assert uow.image_autopsies.add(digest=DIGEST, report=report())
        uow.commit()
    with store.unit_of_work() as uow:
        assert not uow.image_autopsies.add(digest=DIGEST, report=report())
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.image_autopsies.count() == 1


def test_an_entry_that_no_longer_decodes_is_a_miss_and_goes(store):
    with store.unit_of_work() as uow:
        uow.image_autopsies.add(digest=DIGEST, report=report())
        uow.commit()
    with store.unit_of_work() as uow:
        row = uow.session.get(ImageAutopsyRow, DIGEST)
        row.report = {"layers": "from an older Coroner"}
        uow.commit()

    with store.unit_of_work() as uow:
        assert uow.image_autopsies.get(DIGEST) is None
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.image_autopsies.count() == 0
