"""A deadlock between two transactions is a `TransactionConflict`: PostgreSQL aborted the loser and wrote
nothing of it, so running it again is safe (`IncidentService.process` does). Other errors stay
`StoreUnavailable` or propagate as they are."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.store import Store, StoreUnavailable
from bot.store.db import TransactionConflict
from bot.store.models import AuditLogRow


def _audit(actor: str) -> AuditLogRow:
    return AuditLogRow(at=datetime(2024, 5, 14, tzinfo=UTC), actor=actor, action="test", target=None, details={})


def test_the_loser_of_a_real_deadlock_gets_a_transaction_conflict(postgres_url):
    store = Store.from_url(postgres_url)
    store.upgrade()
    with store.unit_of_work() as uow:
        uow.session.add_all([_audit("a"), _audit("b")])
        uow.commit()
    with store.unit_of_work() as uow:
        ids = sorted(uow.session.scalars(sa.select(AuditLogRow.id)))

    both_hold_one = threading.Barrier(2, timeout=10)
    outcomes: dict[str, BaseException | None] = {}

    def lock_in_order(name: str, first: int, second: int) -> None:
        try:
            with store.unit_of_work() as uow:
                update = sa.update(AuditLogRow).values(actor=name)
                uow.session.execute(update.where(AuditLogRow.id == first))
                both_hold_one.wait()
                uow.session.execute(update.where(AuditLogRow.id == second))  # one of the two deadlocks here
                uow.commit()
            outcomes[name] = None
        except StoreUnavailable as exc:  # recorded and asserted below
            outcomes[name] = exc

    threads = [threading.Thread(target=lock_in_order, args=("t1", ids[0], ids[1])),
               threading.Thread(target=lock_in_order, args=("t2", ids[1], ids[0]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    store.dispose()

    errors = [e for e in outcomes.values() if e is not None]
    assert len(outcomes) == 2 and len(errors) == 1, outcomes
    (error,) = errors
    assert isinstance(error, TransactionConflict) and isinstance(error, StoreUnavailable)
    assert "aborted a conflicting transaction" in str(error) and "deadlock" in str(error).lower()


def test_a_database_that_is_down_is_unavailable_not_a_conflict():
    store = Store.from_url("postgresql+psycopg://coroner@127.0.0.1:1/none")
    with pytest.raises(StoreUnavailable) as caught, store.unit_of_work() as uow:
        uow.session.execute(sa.text("SELECT 1"))
    assert not isinstance(caught.value, TransactionConflict)
