"""`FakeClusterReader`: an in-memory `ClusterReader` written against our own protocol, for the unit tests
of the checks and the engine (the integration tests read the sim through the real kubernetes client).

It can refuse calls (`forbidden={"nodes/proxy": ("get", "nodes/proxy")}`), hang (`slow={"list_hpas": 5}`)
and fail, and it counts calls so tests can prove that a run fetched each list once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.cluster.snapshots import (
    Condition,
    ContainerSnapshot,
    ControllerRevisionSnapshot,
    DeploymentSnapshot,
    EventSnapshot,
    HpaSnapshot,
    NodeFsSummary,
    NodeImage,
    NodeSnapshot,
    OwnerRef,
    PodSnapshot,
    ReplicaSetSnapshot,
    WorkloadSnapshot,
)
from bot.clock import SystemClock
from bot.deadline import Deadline
from bot.ports import ClusterForbidden, ClusterNotFound, ClusterReadError, Clock
from bot.sim.selectors import labels_match, parse_label_selector

# Which permission each call needs, as the message of a refusal names it.
PERMISSION = {
    "list_nodes": ("list", "nodes"),
    "node_fs_summary": ("get", "nodes/proxy"),
    "list_namespaces": ("list", "namespaces"),
    "namespace_labels": ("list", "namespaces"),
    "list_pods": ("list", "pods"),
    "list_events": ("list", "events"),
    "get_deployment": ("get", "deployments"),
    "list_deployments": ("list", "deployments"),
    "list_replicasets": ("list", "replicasets"),
    "list_hpas": ("list", "horizontalpodautoscalers"),
    "list_jobs": ("list", "jobs"),
    "get_statefulset": ("get", "statefulsets"),
    "get_daemonset": ("get", "daemonsets"),
    "list_statefulsets": ("list", "statefulsets"),
    "list_daemonsets": ("list", "daemonsets"),
    "list_controllerrevisions": ("list", "controllerrevisions"),
}


def _matches(labels: Mapping[str, str], selector: str | None) -> bool:
    """The API server's label-selector semantics, as the sim serves them."""
    return labels_match(parse_label_selector(selector), labels)


def _named(workloads: Iterable[WorkloadSnapshot], resource: str, namespace: str, name: str) -> WorkloadSnapshot:
    """A GET by name, with the API server's NotFound message."""
    for each in workloads:
        if each.namespace == namespace and each.name == name:
            return each
    raise ClusterNotFound(f'{resource}.apps "{name}" not found in namespace {namespace}')


@dataclass
class FakeClusterReader:
    nodes: list[NodeSnapshot] = field(default_factory=list)
    summaries: dict[str, NodeFsSummary] = field(default_factory=dict)
    pods: list[PodSnapshot] = field(default_factory=list)
    events: list[EventSnapshot] = field(default_factory=list)
    deployments: list[DeploymentSnapshot] = field(default_factory=list)
    replicasets: list[ReplicaSetSnapshot] = field(default_factory=list)
    hpas: list[HpaSnapshot] = field(default_factory=list)
    jobs: list[WorkloadSnapshot] = field(default_factory=list)
    statefulsets: list[WorkloadSnapshot] = field(default_factory=list)
    daemonsets: list[WorkloadSnapshot] = field(default_factory=list)
    controllerrevisions: list[ControllerRevisionSnapshot] = field(default_factory=list)
    namespaces: list[str] | None = None
    namespace_label_sets: dict[str, dict[str, str]] = field(default_factory=dict)
    context: str | None = "fake"
    clock: Clock = field(default_factory=SystemClock)
    forbidden: set[str] = field(default_factory=set)  # method names, or "list_deployments:<ns|*>"
    failing: set[str] = field(default_factory=set)
    slow: dict[str, float] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    max_in_flight: Counter[str] = field(default_factory=Counter)  # peak concurrent calls of each slow method

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()

    def within(self, deadline: Deadline) -> FakeClusterReader:
        return self  # in-process: `slow` calls sleep past a deadline, as a stalled API server would

    def _enter(self, method: str, scope: str | None = None) -> None:
        with self._lock:
            self.calls[method] += 1
        if method in self.slow:
            with self._lock:
                self._in_flight[method] += 1
                self.max_in_flight[method] = max(self.max_in_flight[method], self._in_flight[method])
            time.sleep(self.slow[method])
            with self._lock:
                self._in_flight[method] -= 1
        verb, resource = PERMISSION[method]
        if method in self.forbidden or f"{method}:{scope or '*'}" in self.forbidden:
            where = f" in namespace {scope}" if scope else " at the cluster scope"
            raise ClusterForbidden(
                f'{resource} is forbidden: User "system:serviceaccount:coroner:coroner" cannot {verb} '
                f'resource "{resource}"{where}',
                verb=verb,
                resource=resource,
            )
        if method in self.failing:
            raise ClusterReadError(f"{method}: connection refused")

    def list_nodes(self) -> list[NodeSnapshot]:
        self._enter("list_nodes")
        return list(self.nodes)

    def node_fs_summary(self, node: str, *, pods: bool = False) -> NodeFsSummary:
        self._enter("node_fs_summary")
        if node not in self.summaries:
            raise ClusterReadError(f"summary of node {node}: 503 kubelet unreachable")
        summary = self.summaries[node]
        return summary if pods else replace(summary, pods=None)

    def list_namespaces(self) -> list[str]:
        self._enter("list_namespaces")
        if self.namespaces is not None:
            return list(self.namespaces)
        return sorted({d.namespace for d in self.deployments} | {p.namespace for p in self.pods})

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        self._enter("namespace_labels")
        known = self.namespaces if self.namespaces is not None else {d.namespace for d in self.deployments}
        if namespace not in known and namespace not in self.namespace_label_sets:
            raise ClusterNotFound(f"namespace {namespace} not found")
        return dict(self.namespace_label_sets.get(namespace, {}))

    def list_pods(
        self, namespace: str | None, *, label_selector: str | None = None, field_selector: str | None = None
    ) -> list[PodSnapshot]:
        self._enter("list_pods", namespace)
        # The pod field selectors Coroner sends: the pods bound to a node, the pods in a phase.
        fields = dict(part.partition("=")[::2] for part in field_selector.split(",")) if field_selector else {}
        unknown = set(fields) - {"spec.nodeName", "status.phase"}
        if unknown:
            raise ValueError(f"the fake reader does not filter pods on {sorted(unknown)}")
        on_node, phase = fields.get("spec.nodeName"), fields.get("status.phase")
        return [
            p for p in self.pods
            if (namespace is None or p.namespace == namespace) and _matches(p.labels, label_selector)
            and (on_node is None or p.node_name == on_node) and (phase is None or p.phase == phase)
        ]

    def list_events(self, namespace: str | None, *, field_selector: str | None = None) -> list[EventSnapshot]:
        self._enter("list_events", namespace)
        out = [e for e in self.events if namespace is None or e.namespace == namespace]
        if field_selector:
            for part in field_selector.split(","):
                key, _, value = part.partition("=")
                attr = {"involvedObject.kind": "involved_kind", "involvedObject.name": "involved_name", "reason": "reason", "type": "type"}[key]
                out = [e for e in out if getattr(e, attr) == value]
        return out

    def get_deployment(self, namespace: str, name: str) -> DeploymentSnapshot:
        self._enter("get_deployment", namespace)
        for dep in self.deployments:
            if dep.namespace == namespace and dep.name == name:
                return dep
        raise ClusterNotFound(f'deployments.apps "{name}" not found in namespace {namespace}')

    def list_deployments(self, namespace: str | None, *, label_selector: str | None = None) -> list[DeploymentSnapshot]:
        self._enter("list_deployments", namespace)
        return [
            d for d in self.deployments
            if (namespace is None or d.namespace == namespace) and _matches(d.labels, label_selector)
        ]

    def list_replicasets(self, namespace: str, *, label_selector: str | None = None) -> list[ReplicaSetSnapshot]:
        self._enter("list_replicasets", namespace)
        return [r for r in self.replicasets if r.namespace == namespace and _matches(r.labels, label_selector)]

    def list_hpas(self, namespace: str) -> list[HpaSnapshot]:
        self._enter("list_hpas", namespace)
        return [h for h in self.hpas if h.namespace == namespace]

    def list_jobs(self, namespace: str | None) -> list[WorkloadSnapshot]:
        self._enter("list_jobs", namespace)
        return [j for j in self.jobs if namespace is None or j.namespace == namespace]

    def get_statefulset(self, namespace: str, name: str) -> WorkloadSnapshot:
        self._enter("get_statefulset", namespace)
        return _named(self.statefulsets, "statefulsets", namespace, name)

    def get_daemonset(self, namespace: str, name: str) -> WorkloadSnapshot:
        self._enter("get_daemonset", namespace)
        return _named(self.daemonsets, "daemonsets", namespace, name)

    def list_statefulsets(self, namespace: str | None) -> list[WorkloadSnapshot]:
        self._enter("list_statefulsets", namespace)
        return [s for s in self.statefulsets if namespace is None or s.namespace == namespace]

    def list_daemonsets(self, namespace: str | None) -> list[WorkloadSnapshot]:
        self._enter("list_daemonsets", namespace)
        return [d for d in self.daemonsets if namespace is None or d.namespace == namespace]

    def list_controllerrevisions(self, namespace: str, *, label_selector: str | None = None
                                 ) -> list[ControllerRevisionSnapshot]:
        self._enter("list_controllerrevisions", namespace)
        return [r for r in self.controllerrevisions if r.namespace == namespace and _matches(r.labels, label_selector)]


# --- small builders, so a test states only what it is about ----------------------------------------


def node(
    name: str,
    *,
    ready: bool = True,
    pressure: Iterable[str] = (),
    since: datetime | None = None,
    unschedulable: bool = False,
    images: Iterable[tuple[tuple[str, ...] | str, int]] = (),
) -> NodeSnapshot:
    conditions = [
        Condition(
            "Ready",
            "True" if ready else "False",
            "KubeletReady" if ready else "KubeletNotReady",
            None if ready else "container runtime is down",
            last_transition=since,
        )
    ]
    reasons = {"DiskPressure": "KubeletHasDiskPressure", "MemoryPressure": "KubeletHasInsufficientMemory", "PIDPressure": "KubeletHasInsufficientPID"}
    for kind in ("DiskPressure", "MemoryPressure", "PIDPressure"):
        on = kind in set(pressure)
        conditions.append(
            Condition(kind, "True" if on else "False", reasons[kind] if on else f"KubeletHasNo{kind}", last_transition=since)
        )
    return NodeSnapshot(
        name=name,
        labels={"kubernetes.io/hostname": name},
        unschedulable=unschedulable,
        conditions=tuple(conditions),
        images=tuple(NodeImage((n,) if isinstance(n, str) else n, size) for n, size in images),
    )


def container(
    name: str = "app",
    image: str = "registry.example.com/shop/app:v2",
    *,
    memory_limit: str | None = "512Mi",
    readiness: str | None = "http",
    ready: bool | None = True,
    state: str | None = "running",
    reason: str | None = None,
    message: str | None = None,
    restarts: int = 0,
    last_terminated: str | None = None,
) -> ContainerSnapshot:
    from bot.cluster.snapshots import Probe

    return ContainerSnapshot(
        name=name,
        image=image,
        memory_limit=memory_limit,
        readiness_probe=Probe(readiness) if readiness else None,
        ready=ready,
        restart_count=restarts,
        state=state,
        state_reason=reason,
        state_message=message,
        last_terminated_reason=last_terminated,
    )


def pod(
    name: str,
    *,
    namespace: str = "prod",
    labels: dict[str, str] | None = None,
    node_name: str | None = "node-1",
    ready: bool = True,
    phase: str = "Running",
    containers: Iterable[ContainerSnapshot] | None = None,
    owner: str | None = None,
    reason: str | None = None,
    message: str | None = None,
) -> PodSnapshot:
    return PodSnapshot(
        name=name,
        namespace=namespace,
        labels=labels or {"app": "app"},
        phase=phase,
        node_name=node_name,
        containers=tuple(containers or (container(),)),
        conditions=(Condition("Ready", "True" if ready else "False"),),
        owners=(OwnerRef("ReplicaSet", owner),) if owner else (),
        reason=reason,
        message=message,
    )


def event(
    involved: str,
    reason: str,
    message: str,
    *,
    kind: str = "Pod",
    namespace: str | None = "prod",
    type: str = "Warning",
    count: int = 1,
    at: datetime | None = None,
    uid: str | None = None,
) -> EventSnapshot:
    return EventSnapshot(
        namespace=namespace,
        involved_kind=kind,
        involved_name=involved,
        reason=reason,
        message=message,
        type=type,
        count=count,
        first_at=at,
        last_at=at,
        uid=uid,
    )
