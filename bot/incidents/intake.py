"""The intake's one write: each verified delivery's raw event, stored before the 202.

Deliveries that arrive together are stored together: a single writer takes every delivery waiting at that
moment and stores them in one INSERT (`ON CONFLICT DO NOTHING`: the unique constraints are the dedupe)
and one commit. Under light load a batch is one delivery and nothing waits; in a storm the batch grows
while the previous one commits, so one commit (one fsync) and one statement serve many webhooks.
Each request awaits its own outcome: stored (202 accepted), duplicate (202), or the database is down
(503, and PagerDuty retries). Applying the events is the applier's work, later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from bot.incidents.pagerduty import WebhookEvent, delivery_id, headers_of_interest
from bot.incidents.service import PAGERDUTY, Recorded
from bot.ports import Clock
from bot.store import Store, StoreUnavailable
from bot.store.repositories import NewInboundEvent

log = logging.getLogger(__name__)

MAX_BATCH = 500
# The intake counts as busy this long after its last write (the applier then gives it precedence).
BUSY_SECONDS = 0.5


@dataclass
class _Waiting:
    event: NewInboundEvent
    done: asyncio.Future[Recorded]


class IntakeWriter:
    def __init__(self, store: Store, *, clock: Clock | None = None, max_batch: int = MAX_BATCH) -> None:
        self._store = store
        self._clock = clock or store.clock
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Waiting] | None = None
        self._last_write = float("-inf")

    def busy(self) -> bool:
        """Whether webhooks are arriving right now."""
        return time.monotonic() - self._last_write < BUSY_SECONDS

    async def record(self, *, event: WebhookEvent, body: bytes, headers: Mapping[str, str]) -> Recorded:
        """Store the raw event once. Raises `StoreUnavailable` when the database cannot take it (the
        caller answers 503), `MalformedEvent` for an implausible `X-Webhook-Id`."""
        new = NewInboundEvent(source=PAGERDUTY, delivery_id=delivery_id(headers), event_id=event.id,
                              event_type=event.event_type, headers=headers_of_interest(headers), body=body,
                              received_at=self._clock.now())
        if self._queue is None:  # served without its lifespan (no writer task): store this one directly
            (new_id,) = await run_in_threadpool(self._store_batch, [new])
            return Recorded(new_id)
        waiting = _Waiting(new, asyncio.get_running_loop().create_future())
        await self._queue.put(waiting)
        return await waiting.done

    async def run(self) -> None:
        """The single writer; runs for the app's lifetime (started by its lifespan)."""
        self._queue = asyncio.Queue()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._last_write = time.monotonic()
            try:
                ids = await run_in_threadpool(self._store_batch, [w.event for w in batch])
            except StoreUnavailable as exc:
                for waiting in batch:
                    waiting.done.set_exception(exc)
                continue
            except Exception as exc:  # nothing was stored: every sender is told to retry
                log.exception("storing %d PagerDuty events failed", len(batch))
                failure = StoreUnavailable(f"storing the event failed: {type(exc).__name__}")
                for waiting in batch:
                    waiting.done.set_exception(failure)
                continue
            for waiting, new_id in zip(batch, ids, strict=True):
                if new_id is None:
                    log.info("duplicate PagerDuty delivery",
                             extra={"event_id": waiting.event.event_id, "delivery_id": waiting.event.delivery_id})
                if not waiting.done.done():
                    waiting.done.set_result(Recorded(new_id))

    def _store_batch(self, events: list[NewInboundEvent]) -> list[int | None]:
        with self._store.unit_of_work() as uow:
            ids = uow.events.add_many(events)
            uow.commit()
            return ids
