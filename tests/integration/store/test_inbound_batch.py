"""The intake stores deliveries that arrive together in one INSERT; duplicates inside the batch and
against stored events are told apart exactly as one-by-one inserts would."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.store import Store
from bot.store.repositories import NewInboundEvent

AT = datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC)


def event(delivery: str | None, event_id: str) -> NewInboundEvent:
    return NewInboundEvent(source="pagerduty", delivery_id=delivery, event_id=event_id,
                           event_type="incident.triggered", headers={}, body=event_id.encode(), received_at=AT)


def test_one_insert_answers_each_delivery(database_url):
    store = Store.from_url(database_url)
    with store.unit_of_work() as uow:
        (first,) = uow.events.add_many([event("d0", "e0")])
        uow.commit()
    batch = [
        event("d1", "e1"),  # new
        event("d1", "e1"),  # the same delivery again, in the same batch
        event("d2", "e1"),  # the same event under another delivery id
        event("d0", "e0"),  # stored before
        event(None, "e3"),  # no X-Webhook-Id
        event("d4", "e4"),  # new
    ]
    with store.unit_of_work() as uow:
        ids = uow.events.add_many(batch)
        uow.commit()
        stored = {e.event_id: e.delivery_id for e in uow.events.pending(limit=10)}
    assert first is not None
    assert [i is not None for i in ids] == [True, False, False, False, True, True]
    assert len({i for i in ids if i is not None} | {first}) == 4
    assert stored == {"e0": "d0", "e1": "d1", "e3": None, "e4": "d4"}
    store.dispose()
