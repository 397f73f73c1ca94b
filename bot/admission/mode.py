"""The gate's mode for a namespace: CORONER_GATE_MODE, unless the namespace's label says otherwise.

An AdmissionReview does not carry the namespace's labels, so they are read through the cluster reader
(`list namespaces` with a field selector: the read-only ClusterRole already grants it) and kept for
`ttl` seconds. A namespace that cannot be read keeps the default mode, and the answer says so; one the
API server does not answer for before the review's deadline raises `DeadlineExceeded` (the webhook
fails open) and is not cached, so the next review asks again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bot.deadline import NO_DEADLINE, Deadline
from bot.ports import ClusterReader, ClusterReadError

log = logging.getLogger(__name__)

GateMode = Literal["deny", "warn", "off"]
GATE_MODES: tuple[GateMode, ...] = ("deny", "warn", "off")
MODE_LABEL = "coroner.dev/gate-mode"
DEFAULT_TTL_SECONDS = 30.0


@dataclass(frozen=True)
class ModeChoice:
    mode: GateMode
    source: str  # "CORONER_GATE_MODE" or "namespace label coroner.dev/gate-mode"
    note: str | None = None  # why the label could not be used


class NamespaceModes:
    def __init__(self, default: GateMode, cluster: Callable[[], ClusterReader | None], *,
                 ttl: float = DEFAULT_TTL_SECONDS, now: Callable[[], float] = time.monotonic) -> None:
        self._default = default
        self._cluster = cluster
        self._ttl = ttl
        self._now = now
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, ModeChoice]] = {}

    def mode(self, namespace: str, *, deadline: Deadline = NO_DEADLINE) -> ModeChoice:
        """The namespace's mode, its labels read before `deadline` (past it: `DeadlineExceeded`)."""
        with self._lock:
            cached = self._cache.get(namespace)
            if cached is not None and self._now() - cached[0] < self._ttl:
                return cached[1]
        choice = self._read(namespace, deadline)
        with self._lock:
            self._cache[namespace] = (self._now(), choice)
        return choice

    def _read(self, namespace: str, deadline: Deadline) -> ModeChoice:
        default = ModeChoice(self._default, "CORONER_GATE_MODE")
        cluster = self._cluster()
        if cluster is None:
            return default
        try:
            value = cluster.within(deadline).namespace_labels(namespace).get(MODE_LABEL)
        except ClusterReadError as exc:
            log.warning("gate mode of namespace %s: %s; CORONER_GATE_MODE applies", namespace, exc)
            return ModeChoice(self._default, "CORONER_GATE_MODE", note=f"namespace labels not read: {exc}")
        if value is None:
            return default
        if value not in GATE_MODES:
            return ModeChoice(self._default, "CORONER_GATE_MODE",
                              note=f"label {MODE_LABEL}={value!r} is not one of {', '.join(GATE_MODES)}")
        return ModeChoice(value, f"namespace label {MODE_LABEL}")
