"""A small cluster builder for incident-kind tests: a Deployment with its revisions and pods, nodes, and
other workloads' pods, on `FakeClusterReader`, diagnosed through the real engine and the shipped playbook."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.cluster.snapshots import (
    Condition,
    ContainerSnapshot,
    DeploymentSnapshot,
    FsStats,
    NodeFsSummary,
    NodeSnapshot,
    OwnerRef,
    PodSnapshot,
    ReplicaSetSnapshot,
)
from bot.engine.diagnose import Diagnosis, diagnose
from tests.doubles.cluster_reader import FakeClusterReader, event, node
from bot.engine.playbook import load_playbooks

NOW = datetime(2024, 7, 9, 9, 48, tzinfo=UTC)
GiB = 1024**3

# The shipped diagnose playbook, from this tree (the image and dockerfile checks have nothing to read here).
PLAYBOOK = load_playbooks(Path(__file__).resolve().parents[3] / "playbooks")["diagnose"]


class Clock:
    def now(self) -> datetime:
        return NOW


def ago(**kw: float) -> datetime:
    return NOW - timedelta(**kw)


@dataclass
class World:
    namespace: str = "shop"
    name: str = "cart"
    reader: FakeClusterReader = field(default_factory=FakeClusterReader)
    templates: dict[int, dict[str, Any]] = field(default_factory=dict)
    replicas: int = 4

    def add_node(self, name: str, **kw: Any) -> NodeSnapshot:
        capacity = kw.pop("capacity", {"memory": "32Gi", "ephemeral-storage": "100Gi"})
        made = node(name, **kw)
        made = NodeSnapshot(**{**made.__dict__, "capacity": capacity})
        self.reader.nodes.append(made)
        return made

    def revision(self, rev: int, created: datetime, *, image: str | None = None, env: dict[str, str] | None = None,
                 memory_limit: str | None = "512Mi", current: bool = False,
                 pull_secrets: tuple[str, ...] = ()) -> ReplicaSetSnapshot:
        image = image or f"registry.internal:5000/{self.name}:stable"
        spec: dict[str, Any] = {"name": "app", "image": image}
        if env:
            spec["env"] = [{"name": k, "value": v} for k, v in env.items()]
        if memory_limit:
            spec["resources"] = {"limits": {"memory": memory_limit}}
        hash_ = f"h{rev}x"
        labels = {"app": self.name, "pod-template-hash": hash_}
        template: dict[str, Any] = {"metadata": {"labels": labels}, "spec": {"containers": [spec]}}
        if pull_secrets:
            template["spec"]["imagePullSecrets"] = [{"name": n} for n in pull_secrets]
        self.templates[rev] = template
        rs = ReplicaSetSnapshot(
            name=f"{self.name}-{hash_}", namespace=self.namespace, labels=labels, revision=rev, revision_history=(),
            replicas=self.replicas if current else 0, ready_replicas=None, available_replicas=None,
            containers=(ContainerSnapshot("app", image, memory_limit=memory_limit),),
            owners=(OwnerRef("Deployment", self.name, controller=True),), created_at=created,
            annotations={"deployment.kubernetes.io/revision": str(rev)}, template=template,
        )
        self.reader.replicasets.append(rs)
        if current:
            self.reader.deployments = [DeploymentSnapshot(
                name=self.name, namespace=self.namespace, labels={"app": self.name}, selector={"app": self.name},
                replicas=self.replicas, ready_replicas=None, updated_replicas=None, available_replicas=None,
                revision=rev, paused=False, containers=rs.containers, template=template,
            )]
        return rs

    def pod(self, rs: ReplicaSetSnapshot, suffix: str, node_name: str | None, *, created: datetime | None = None,
            ready: bool = True, phase: str = "Running", waiting: str | None = None, message: str | None = None,
            restarts: int = 0, last: str | None = None, reason: str | None = None,
            pod_message: str | None = None) -> PodSnapshot:
        c = rs.containers[0]
        container = ContainerSnapshot(
            "app", c.image, memory_limit=c.memory_limit, limits={"memory": c.memory_limit} if c.memory_limit else {},
            ready=ready and waiting is None, restart_count=restarts,
            state="waiting" if waiting else ("terminated" if phase == "Failed" else "running"),
            state_reason=waiting, state_message=message, last_terminated_reason=last,
        )
        made = PodSnapshot(
            name=f"{rs.name}-{suffix}", namespace=self.namespace, labels=dict(rs.labels), phase=phase,
            node_name=node_name, containers=(container,),
            conditions=(Condition("Ready", "True" if ready and waiting is None and phase == "Running" else "False"),),
            owners=(OwnerRef("ReplicaSet", rs.name, controller=True),), created_at=created or rs.created_at,
            reason=reason, message=pod_message, qos_class="Burstable", priority=0,
        )
        self.reader.pods.append(made)
        return made

    def other(self, namespace: str, kind: str, owner: str, name: str, node_name: str, *,
              memory_limit: str | None = "1Gi", evicted: str | None = None, priority: int = 0,
              priority_class: str | None = None, labels: dict[str, str] | None = None) -> PodSnapshot:
        """A pod of another workload on `node_name`; `evicted` is the resource the kubelet named."""
        made = PodSnapshot(
            name=name, namespace=namespace, labels=labels or {"app": owner}, phase="Failed" if evicted else "Running",
            node_name=node_name,
            containers=(ContainerSnapshot("main", f"registry.internal:5000/{owner}:1", memory_limit=memory_limit,
                                          limits={"memory": memory_limit} if memory_limit else {},
                                          ready=not evicted, state="terminated" if evicted else "running"),),
            conditions=(Condition("Ready", "False" if evicted else "True"),),
            owners=(OwnerRef(kind, owner, controller=True),), created_at=ago(days=2),
            reason="Evicted" if evicted else None,
            message=f"The node was low on resource: {evicted}. " if evicted else None,
            priority=priority, priority_class=priority_class, qos_class="Burstable",
        )
        self.reader.pods.append(made)
        return made

    def warn(self, pod: PodSnapshot, reason: str, message: str, at: datetime, count: int = 1) -> None:
        self.reader.events.append(event(pod.name, reason, message, namespace=self.namespace, at=at, count=count))

    def summary(self, node_name: str, *, nodefs: tuple[int, int], imagefs: tuple[int, int] | None = None,
                pods: tuple[Any, ...] | None = None) -> None:
        """(capacity, available) bytes; `imagefs=None` means images live on nodefs (reported twice)."""
        fs = FsStats(nodefs[0], nodefs[1], nodefs[0] - nodefs[1])
        image = FsStats(imagefs[0], imagefs[1], imagefs[0] - imagefs[1]) if imagefs else fs
        self.reader.summaries[node_name] = NodeFsSummary(node_name, nodefs=fs, imagefs=image, pods=pods)

    def diagnose(self, *, node_proxy: bool = False) -> Diagnosis:
        return diagnose(self.name, cluster=self.reader, playbook=PLAYBOOK, namespace=self.namespace,
                        node_proxy_enabled=node_proxy, clock=Clock())

