"""A per-run memo over a `ClusterReader`: every check of one diagnosis shares what was fetched.

Checks run in threads and often ask for the same list at the same moment (nodes, the namespace's
events). The first caller fetches; the others wait on the same future instead of issuing a second
request. Errors are memoised too, so a forbidden list is refused once, not once per check.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, TypeVar

from bot.cluster.snapshots import (
    DeploymentSnapshot,
    EventSnapshot,
    HpaSnapshot,
    NodeFsSummary,
    NodeSnapshot,
    PodSnapshot,
    ReplicaSetSnapshot,
)
from bot.ports import ClusterReader

T = TypeVar("T")


class Memo:
    """Single-flight memoisation keyed by any hashable value; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[Hashable, Future[Any]] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
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
            except BaseException as exc:  # re-raised below, to every waiter
                future.set_exception(exc)
        return future.result()

    def calls(self) -> int:
        with self._lock:
            return len(self._futures)


class CachingClusterReader:
    """Implements `ClusterReader` by delegating once per distinct call for the lifetime of one run."""

    def __init__(self, inner: ClusterReader, memo: Memo | None = None) -> None:
        self.inner = inner
        self.context = inner.context
        self._memo = memo or Memo()

    def _get(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        return self._memo.get(("cluster",) + key, compute)

    def list_nodes(self) -> list[NodeSnapshot]:
        return self._get(("nodes",), self.inner.list_nodes)

    def node_fs_summary(self, node: str) -> NodeFsSummary:
        return self._get(("summary", node), lambda: self.inner.node_fs_summary(node))

    def list_namespaces(self) -> list[str]:
        return self._get(("namespaces",), self.inner.list_namespaces)

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        return self._get(("namespace_labels", namespace), lambda: self.inner.namespace_labels(namespace))

    def list_pods(
        self, namespace: str | None, *, label_selector: str | None = None, field_selector: str | None = None
    ) -> list[PodSnapshot]:
        return self._get(
            ("pods", namespace, label_selector, field_selector),
            lambda: self.inner.list_pods(namespace, label_selector=label_selector, field_selector=field_selector),
        )

    def list_events(self, namespace: str | None, *, field_selector: str | None = None) -> list[EventSnapshot]:
        return self._get(
            ("events", namespace, field_selector),
            lambda: self.inner.list_events(namespace, field_selector=field_selector),
        )

    def get_deployment(self, namespace: str, name: str) -> DeploymentSnapshot:
        return self._get(("deployment", namespace, name), lambda: self.inner.get_deployment(namespace, name))

    def list_deployments(self, namespace: str | None, *, label_selector: str | None = None) -> list[DeploymentSnapshot]:
        return self._get(
            ("deployments", namespace, label_selector),
            lambda: self.inner.list_deployments(namespace, label_selector=label_selector),
        )

    def list_replicasets(self, namespace: str, *, label_selector: str | None = None) -> list[ReplicaSetSnapshot]:
        return self._get(
            ("replicasets", namespace, label_selector),
            lambda: self.inner.list_replicasets(namespace, label_selector=label_selector),
        )

    def list_hpas(self, namespace: str) -> list[HpaSnapshot]:
        return self._get(("hpas", namespace), lambda: self.inner.list_hpas(namespace))
