"""What a check receives: the readers, the target and a per-run memo shared by every check."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from bot.catalog import CatalogEntry
from bot.deadline import NO_DEADLINE, Deadline
from bot.domain import Target
from bot.engine.cache import Memo
from bot.ports import ClusterForbidden, ClusterReader, ImageReader

T = TypeVar("T")


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
        return self.memo_store.get(("fact", key), compute)

    def forbidden(self, check: str, exc: ClusterForbidden) -> None:
        """A check went on without data RBAC refused; the engine reports the missing permission once."""
        with self._gaps_lock:
            self.gaps.append((check, exc))
