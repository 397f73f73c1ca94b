"""A per-run memo over a `ClusterReader`: every check of one diagnosis shares what was fetched.

Checks run in threads and often ask for the same list at the same moment (nodes, the namespace's
events). The first caller fetches; the others wait on the same future instead of issuing a second
request. Errors are memoised too, so a forbidden list is refused once, not once per check.

Each check reads through its own view (`within(deadline)`): the same memo, its own deadline, which bounds
both the requests it makes and its wait for a list another check is fetching.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from bot.checks.context import Memo
from bot.deadline import NO_DEADLINE, Deadline
from bot.cluster.snapshots import (
    ControllerRevisionSnapshot,
    DeploymentSnapshot,
    EventSnapshot,
    HpaSnapshot,
    NodeFsSummary,
    NodeSnapshot,
    PodSnapshot,
    ReplicaSetSnapshot,
    WorkloadSnapshot,
)
from bot.ports import ClusterReader

T = TypeVar("T")


class CachingClusterReader:
    """Implements `ClusterReader` by delegating once per distinct call for the lifetime of one run."""

    def __init__(self, inner: ClusterReader, memo: Memo | None = None, *, deadline: Deadline = NO_DEADLINE) -> None:
        self.inner = inner.within(deadline) if deadline.bounded else inner
        self.context = inner.context
        self.clock = inner.clock
        self._memo = memo or Memo()
        self._unbounded = inner
        self._deadline = deadline

    def within(self, deadline: Deadline) -> CachingClusterReader:
        """The same cache, its reads and its waits bounded by `deadline`."""
        return CachingClusterReader(self._unbounded, self._memo, deadline=deadline)

    def _get(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        return self._memo.get(("cluster",) + key, compute, deadline=self._deadline,
                              doing=f"waiting for the API server ({key[0]})")

    def list_nodes(self) -> list[NodeSnapshot]:
        return self._get(("nodes",), self.inner.list_nodes)

    def node_fs_summary(self, node: str, *, pods: bool = False) -> NodeFsSummary:
        return self._get(("summary", node, pods), lambda: self.inner.node_fs_summary(node, pods=pods))

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

    def list_controllerrevisions(self, namespace: str, *, label_selector: str | None = None
                                 ) -> list[ControllerRevisionSnapshot]:
        return self._get(
            ("controllerrevisions", namespace, label_selector),
            lambda: self.inner.list_controllerrevisions(namespace, label_selector=label_selector),
        )

    def list_hpas(self, namespace: str) -> list[HpaSnapshot]:
        return self._get(("hpas", namespace), lambda: self.inner.list_hpas(namespace))

    def list_jobs(self, namespace: str | None) -> list[WorkloadSnapshot]:
        return self._get(("jobs", namespace), lambda: self.inner.list_jobs(namespace))

    def get_statefulset(self, namespace: str, name: str) -> WorkloadSnapshot:
        return self._get(("statefulset", namespace, name), lambda: self.inner.get_statefulset(namespace, name))

    def get_daemonset(self, namespace: str, name: str) -> WorkloadSnapshot:
        return self._get(("daemonset", namespace, name), lambda: self.inner.get_daemonset(namespace, name))

    def list_statefulsets(self, namespace: str | None) -> list[WorkloadSnapshot]:
        return self._get(("statefulsets", namespace), lambda: self.inner.list_statefulsets(namespace))

    def list_daemonsets(self, namespace: str | None) -> list[WorkloadSnapshot]:
        return self._get(("daemonsets", namespace), lambda: self.inner.list_daemonsets(namespace))
