"""A deadline that work checks as it goes, so a check that runs out of time stops instead of being
abandoned in a thread that keeps reading.

The runner gives each check one (`CheckContext.deadline`). Whoever loops or waits on the network asks
it: `deadline.check(...)` between chunks, `deadline.timeout(ceiling)` for a socket timeout, and
`deadline.remaining()` for a watchdog that cuts a blocked read.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from bot.ports import CoronerError

T = TypeVar("T")

# A socket timeout of 0 means "non-blocking" to some clients: an expired deadline still gets a tiny one.
_MIN_TIMEOUT = 0.001


class DeadlineExceeded(CoronerError):
    """The work ran out of time; the runner reports its check as timed out."""


@dataclass(frozen=True)
class Deadline:
    """`at` is a `time.monotonic()` instant; `math.inf` is no deadline at all."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    @property
    def bounded(self) -> bool:
        return self.at != math.inf

    def remaining(self) -> float:
        return self.at - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def check(self, doing: str) -> None:
        """Raise `DeadlineExceeded` naming what was being done once the deadline has passed."""
        if self.expired:
            raise DeadlineExceeded(f"{doing}: out of time")

    def timeout(self, ceiling: float) -> float:
        """A socket timeout that never waits past the deadline."""
        return max(min(ceiling, self.remaining()), _MIN_TIMEOUT)


NO_DEADLINE = Deadline(math.inf)


def paced(items: Iterable[T], deadline: Deadline, doing: str, *, every: int = 4096) -> Iterator[T]:
    """`items`, checking the deadline every `every` items: for CPU loops whose length an input decides."""
    for count, item in enumerate(items):
        if not count % every:
            deadline.check(doing)
        yield item
