"""A recorded cluster as it stood before a rollout: what the gate would have read at that moment.

A scenario is a snapshot taken after the outage. `ClusterAsOf` undoes what came after `at` and what the
rollout brought: node conditions and taints that changed after `at` take their earlier value back, the
images that `arrived` leave `status.images`, and their bytes leave the nodes' filesystems.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from bot.checks.facts import node_has_image_entry
from bot.cluster.convert import parse_time
from bot.cluster.snapshots import (
    Condition,
    ControllerRevisionSnapshot,
    DeploymentSnapshot,
    EventSnapshot,
    FsStats,
    HpaSnapshot,
    NodeFsSummary,
    NodeSnapshot,
    PodSnapshot,
    ReplicaSetSnapshot,
    WorkloadSnapshot,
)
from bot.deadline import Deadline
from bot.ports import ClusterReader

_OPPOSITE = {"True": "False", "False": "True"}


class ClusterAsOf:
    """`inner` as at `at`, before the images `arrived`. Nodes and their figures are rewound; the
    workload's objects (Deployment, HPA) are read as they are: their spec is what the gate judges."""

    def __init__(self, inner: ClusterReader, at: datetime, arrived: Iterable[str]) -> None:
        self.inner = inner
        self.at = at
        self.arrived = tuple(arrived)
        self.context = inner.context

    def within(self, deadline: Deadline) -> ClusterAsOf:
        return ClusterAsOf(self.inner.within(deadline), self.at, self.arrived)

    def now(self) -> datetime:
        return self.at

    @property
    def clock(self) -> ClusterAsOf:
        """The view's own "now" is `at`: ages are measured as of the moment it rewinds to."""
        return self

    def _arrived(self, names: Iterable[str]) -> bool:
        names = tuple(names)
        return any(node_has_image_entry(names, ref) for ref in self.arrived)

    def _condition(self, condition: Condition) -> Condition:
        if condition.last_transition is None or condition.last_transition <= self.at:
            return condition
        return replace(condition, status=_OPPOSITE.get(condition.status, condition.status), reason=None,
                       message=None, last_transition=None)

    def list_nodes(self) -> list[NodeSnapshot]:
        return [
            replace(
                node,
                conditions=tuple(self._condition(c) for c in node.conditions),
                taints=tuple(t for t in node.taints if (parse_time(t.get("timeAdded")) or self.at) <= self.at),
                images=tuple(i for i in node.images if not self._arrived(i.names)),
            )
            for node in self.inner.list_nodes()
        ]

    def node_fs_summary(self, node: str, *, pods: bool = False) -> NodeFsSummary:
        summary = self.inner.node_fs_summary(node, pods=pods)
        snapshot = next((n for n in self.inner.list_nodes() if n.name == node), None)
        freed = sum(i.size_bytes for i in snapshot.images if self._arrived(i.names)) if snapshot else 0
        if summary.imagefs is not None:
            return replace(summary, imagefs=_without(summary.imagefs, freed))
        return replace(summary, nodefs=_without(summary.nodefs, freed) if summary.nodefs else None)

    def list_namespaces(self) -> list[str]:
        return self.inner.list_namespaces()

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        return self.inner.namespace_labels(namespace)

    def list_pods(self, namespace: str | None, *, label_selector: str | None = None,
                  field_selector: str | None = None) -> list[PodSnapshot]:
        return self.inner.list_pods(namespace, label_selector=label_selector, field_selector=field_selector)

    def list_events(self, namespace: str | None, *, field_selector: str | None = None) -> list[EventSnapshot]:
        return self.inner.list_events(namespace, field_selector=field_selector)

    def get_deployment(self, namespace: str, name: str) -> DeploymentSnapshot:
        return self.inner.get_deployment(namespace, name)

    def list_deployments(self, namespace: str | None, *, label_selector: str | None = None) -> list[DeploymentSnapshot]:
        return self.inner.list_deployments(namespace, label_selector=label_selector)

    def list_replicasets(self, namespace: str, *, label_selector: str | None = None) -> list[ReplicaSetSnapshot]:
        return self.inner.list_replicasets(namespace, label_selector=label_selector)

    def list_controllerrevisions(self, namespace: str, *, label_selector: str | None = None
                                 ) -> list[ControllerRevisionSnapshot]:
        return self.inner.list_controllerrevisions(namespace, label_selector=label_selector)

    def list_hpas(self, namespace: str) -> list[HpaSnapshot]:
        return self.inner.list_hpas(namespace)

    def list_jobs(self, namespace: str | None) -> list[WorkloadSnapshot]:
        return self.inner.list_jobs(namespace)

    def get_statefulset(self, namespace: str, name: str) -> WorkloadSnapshot:
        return self.inner.get_statefulset(namespace, name)

    def get_daemonset(self, namespace: str, name: str) -> WorkloadSnapshot:
        return self.inner.get_daemonset(namespace, name)

    def list_statefulsets(self, namespace: str | None) -> list[WorkloadSnapshot]:
        return self.inner.list_statefulsets(namespace)

    def list_daemonsets(self, namespace: str | None) -> list[WorkloadSnapshot]:
        return self.inner.list_daemonsets(namespace)


def _without(fs: FsStats, freed: int) -> FsStats:
    return replace(
        fs,
        used_bytes=None if fs.used_bytes is None else max(0, fs.used_bytes - freed),
        available_bytes=None if fs.available_bytes is None else fs.available_bytes + freed,
    )
