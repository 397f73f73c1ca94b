"""The API server's clock, read from the `Date` header of its answers.

Every answer of an API server carries `Date` (Go's net/http sets it). Ages in a diagnosis ("revision 5
has been live 4 days", "NotReady for 12 minutes") compare the cluster's own timestamps, written by its
clock, with "now"; measuring "now" on the same clock keeps them right when the bot's host clock is off,
and a simulated cluster (`coroner sim`, whose answers are dated in the scenario's time) is then
diagnosed as of its scenario. Before the first answer, and for an answer without a usable `Date`, it is
the local clock. `Date` has one-second resolution, which ages in minutes and days do not notice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime


def _local() -> datetime:
    return datetime.now(UTC)


class ServerClock:
    """A `Clock`: local time plus the offset of the latest `Date` header seen."""

    def __init__(self, local: Callable[[], datetime] = _local) -> None:
        self._local = local
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def observe(self, date_header: str | None) -> None:
        if not date_header:
            return
        try:
            server = parsedate_to_datetime(date_header)
        except (TypeError, ValueError, IndexError):
            return  # a malformed Date says nothing about the server's time
        if server.tzinfo is None:
            server = server.replace(tzinfo=UTC)  # RFC 7231: an HTTP-date is always GMT
        with self._lock:
            self._offset = server - self._local()

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return self._local() + offset
