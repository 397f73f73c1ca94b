"""A deadline that work checks as it goes, so a check that runs out of time stops instead of being
abandoned in a thread that keeps reading.

The runner gives each check one (`CheckContext.deadline`). Whoever loops or waits on the network asks
it: `deadline.check(...)` between chunks, `deadline.timeout(ceiling)` for a socket timeout, and
`watching(deadline)` to have a blocked read cut when the deadline passes: a socket timeout is per read,
so a server that sends a byte a second never trips it, and only the watchdog ends that read on time.
"""

from __future__ import annotations

import heapq
import itertools
import math
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from bot.ports import CoronerError

T = TypeVar("T")

# A socket timeout of 0 means "non-blocking" to some clients: an expired deadline still gets a tiny one.
_MIN_TIMEOUT = 0.001


class DeadlineExceeded(CoronerError):
    """The work ran out of time; the runner reports its check as timed out, saying what it was `doing`
    (a gerund phrase: "reading the manifest of app:1 from registry r.example"). `waited_for` names the
    service that did not answer, when a reader knows it ("the Kubernetes API (list nodes)"), for a caller
    that tells a user what it gave up waiting for (the admission webhook's fail-open warning)."""

    def __init__(self, doing: str, *, waited_for: str | None = None) -> None:
        super().__init__(f"{doing}: out of time")
        self.doing = doing
        self.waited_for = waited_for


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

    def check(self, doing: str, *, waited_for: str | None = None) -> None:
        """Raise `DeadlineExceeded` naming what was being done once the deadline has passed."""
        if self.expired:
            raise DeadlineExceeded(doing, waited_for=waited_for)

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


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed: nothing left to cut


class _Watchdog:
    """One thread for the whole process that shuts down each watched socket when its deadline passes, so
    the read blocked on it returns (with an error the reader turns into `DeadlineExceeded`). One thread,
    not a timer per request: the disk check makes a request per node, 2,000 on a large cluster."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: list[tuple[float, int]] = []  # (deadline, token), earliest first
        self._sockets: dict[int, socket.socket] = {}  # token -> socket, while watched
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, sock: socket.socket, at: float) -> int:
        with self._cond:
            token = next(self._tokens)
            self._sockets[token] = sock
            heapq.heappush(self._due, (at, token))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="deadline-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()
        return token

    def unwatch(self, token: int) -> None:
        with self._cond:
            self._sockets.pop(token, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._due and self._due[0][1] not in self._sockets:
                    heapq.heappop(self._due)  # finished in time
                if not self._due:
                    self._cond.wait()
                    continue
                at, token = self._due[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._due)
                sock = self._sockets.pop(token)
            _shutdown(sock)


_WATCHDOG = _Watchdog()


class Watch:
    """The sockets one piece of work reads from, cut when its deadline passes (see `watching`)."""

    def __init__(self, deadline: Deadline) -> None:
        self._deadline = deadline
        self._tokens: list[int] = []

    def socket(self, sock: socket.socket | None) -> None:
        """Watch `sock` too (a connection opened, a response whose body is still to read)."""
        if sock is None or not self._deadline.bounded:
            return
        if self._deadline.expired:
            _shutdown(sock)
            return
        self._tokens.append(_WATCHDOG.watch(sock, self._deadline.at))

    def _release(self) -> None:
        for token in self._tokens:
            _WATCHDOG.unwatch(token)


@contextmanager
def watching(deadline: Deadline) -> Iterator[Watch]:
    """`with watching(deadline) as watch: watch.socket(sock); ...read...`: a read still blocked on a watched
    socket when the deadline passes fails then, whatever the server sends; a read that ended in time
    leaves the socket alone (it may go back to a connection pool)."""
    watch = Watch(deadline)
    try:
        yield watch
    finally:
        watch._release()
