"""Applies stored webhook events in the background, oldest first, off the request path.

Woken by each accepted webhook, and every `interval` seconds anyway (events another replica stored,
events whose processing failed). The intake comes first: while webhooks are arriving, the applier works
in small batches and rests between them (about a fifth of the time applying), so a storm of pages is
answered at full speed and applied as fast as the rest of the process allows; once the storm passes the
applier catches up at full speed. Nothing is lost meanwhile: the events are stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from bot.incidents.service import IncidentService, Processed
from bot.store import StoreUnavailable

log = logging.getLogger(__name__)

BATCH = 200
BUSY_BATCH = 2
# While the intake is busy, rest this many times as long as the last batch took: the applier gets about a
# fifth of the process, the intake the rest.
BUSY_REST_FACTOR = 4.0


class Applier:
    def __init__(self, service: IncidentService, *, interval: float,
                 intake_busy: Callable[[], bool] = lambda: False) -> None:
        self._service = service
        self._interval = interval
        self._intake_busy = intake_busy
        self._wake: asyncio.Event | None = None

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        self._wake = asyncio.Event()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            self._wake.clear()
            await self.apply_pending()

    async def apply_pending(self) -> None:
        """Apply until nothing applicable is pending (or the database is away)."""
        while True:
            busy = self._intake_busy()
            limit = BUSY_BATCH if busy else BATCH
            started = time.monotonic()
            try:
                counts = await run_in_threadpool(self._service.process_pending, limit=limit)
            except StoreUnavailable as exc:
                log.warning("pending events not processed: %s", exc)
                return
            if counts[Processed.DONE] or counts[Processed.FAILED]:
                log.info("applied %d PagerDuty events (%d failed)", counts[Processed.DONE], counts[Processed.FAILED])
            if sum(counts.values()) < limit or not counts[Processed.DONE]:
                return
            if busy:
                await asyncio.sleep((time.monotonic() - started) * BUSY_REST_FACTOR)
