"""What a check receives: the readers, the target and a per-run memo shared by every check.

The engine builds it and runs the checks; checks import nothing from the engine."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from bot.catalog import CatalogEntry
from bot.deadline import NO_DEADLINE, Deadline, DeadlineExceeded
from bot.domain import Target
from bot.ports import ClusterForbidden, ClusterReader, CoronerError, ImageReader

T = TypeVar("T")


class NotAssessed(CoronerError):
    """What a check reads does not exist for this kind of workload (a StatefulSet has no ReplicaSets): the
    engine says the check was not assessed, and why, instead of a failure or a silent all-clear."""

    def __init__(self, kind: str, why: str) -> None:
        super().__init__(f"not assessed for a {kind}: {why}")
        self.kind = kind
        self.why = why


class Memo:
    """Single-flight memoisation keyed by any hashable value; thread-safe.

    Callers share one computation but not one deadline: a caller waits for another's computation until its
    own `deadline` only, and a computation stopped by its owner's deadline is not kept, so a caller with
    time left computes it again rather than inherit someone else's timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[Hashable, Future[Any]] = {}

    def get(self, key: Hashable, compute: Callable[[], T], *, deadline: Deadline = NO_DEADLINE,
            doing: str = "waiting for another check's reads") -> T:
        while True:
            with self._lock:
                future = self._futures.get(key)
                owner = future is None
                if owner:
                    future = Future()
                    self._futures[key] = future
            assert future is not None
            if owner:
                try:
                    future.set_result(compute())
                except DeadlineExceeded as exc:
                    with self._lock:
                        del self._futures[key]
                    future.set_exception(exc)
                except BaseException as exc:  # noqa: BLE001 - re-raised below, to every waiter
                    future.set_exception(exc)
            try:
                return future.result(timeout=max(deadline.remaining(), 0.0) if deadline.bounded else None)
            except FutureTimeout:
                raise DeadlineExceeded(doing) from None
            except DeadlineExceeded:
                if owner or deadline.expired:
                    raise

    def calls(self) -> int:
        with self._lock:
            return len(self._futures)


@dataclass
class CheckContext:
    """`cluster` is already memoised for the run: checks may call it freely.

    `memo` shares derived facts (the service's pods, its revisions, image sizes) between checks
    running concurrently, so each is computed once.
    """

    service: str
    target: Target
    cluster: ClusterReader
    now: datetime
    images: ImageReader | None = None
    entry: CatalogEntry | None = None
    node_proxy_enabled: bool = False
    # When this check's time is up. The runner gives each check its own; readers that wait on a network
    # (the image reader) stop at it, so the check's thread ends instead of being abandoned.
    deadline: Deadline = NO_DEADLINE
    memo_store: Memo = field(default_factory=Memo)
    gaps: list[tuple[str, ClusterForbidden]] = field(default_factory=list)
    _gaps_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def container(self) -> str | None:
        return self.entry.container if self.entry else None

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        name = key[0] if isinstance(key, tuple) and key else key
        return self.memo_store.get(("fact", key), compute, deadline=self.deadline,
                                   doing=f"waiting for another check's {name}")

    def forbidden(self, check: str, exc: ClusterForbidden) -> None:
        """A check went on without data RBAC refused; the engine reports the missing permission once."""
        with self._gaps_lock:
            self.gaps.append((check, exc))
