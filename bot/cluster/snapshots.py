"""Our own view of Kubernetes objects. Readers convert API objects into these; nothing else sees the SDK.

Timestamps are timezone-aware UTC datetimes. Sizes are bytes. Missing data is `None`, never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Condition:
    """A node, pod, deployment or HPA condition (`status.conditions[]`)."""

    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str | None = None
    message: str | None = None
    last_transition: datetime | None = None
    last_heartbeat: datetime | None = None


@dataclass(frozen=True)
class NodeImage:
    """One entry of `node.status.images` (largest first, at most 50 by default)."""

    names: tuple[str, ...]
    size_bytes: int


@dataclass(frozen=True)
class NodeSnapshot:
    name: str
    labels: Mapping[str, str]
    unschedulable: bool
    conditions: tuple[Condition, ...]
    images: tuple[NodeImage, ...]
    created_at: datetime | None = None
    capacity: Mapping[str, str] = field(default_factory=dict)
    allocatable: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Mapping[str, Any], ...] = ()
    platform: str | None = None  # "linux/arm64": status.nodeInfo's operatingSystem/architecture

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    @property
    def ready(self) -> bool:
        cond = self.condition("Ready")
        return cond is not None and cond.status == "True"


@dataclass(frozen=True)
class FsStats:
    """A kubelet summary filesystem block (`node.fs` or `node.runtime.imageFs`)."""

    capacity_bytes: int | None
    available_bytes: int | None
    used_bytes: int | None
    inodes: int | None = None
    inodes_free: int | None = None
    inodes_used: int | None = None

    @property
    def used_ratio(self) -> float | None:
        """(capacity - available) / capacity, as the kubelet computes pressure."""
        if not self.capacity_bytes or self.available_bytes is None:
            return None
        return (self.capacity_bytes - self.available_bytes) / self.capacity_bytes


@dataclass(frozen=True)
class ContainerStats:
    """One container of a kubelet summary's pod: memory working set, writable layer and logs (bytes)."""

    name: str
    memory_working_set_bytes: int | None = None
    rootfs_used_bytes: int | None = None  # the writable layer: on nodefs, or imagefs when the runtime keeps it there
    logs_used_bytes: int | None = None  # on nodefs (/var/log/pods)


@dataclass(frozen=True)
class VolumeStats:
    """A pod volume the kubelet measures (emptyDir, configMap, secret, ...), `usedBytes` on its filesystem."""

    name: str
    used_bytes: int | None


@dataclass(frozen=True)
class PodStats:
    """One `pods[]` entry of the kubelet summary. `ephemeral_storage_used_bytes` is the kubelet's own sum
    (rootfs + logs + local volumes), the figure eviction ranks pods by under DiskPressure."""

    name: str
    namespace: str
    uid: str | None = None
    memory_working_set_bytes: int | None = None
    ephemeral_storage_used_bytes: int | None = None
    containers: tuple[ContainerStats, ...] = ()
    volumes: tuple[VolumeStats, ...] = ()
    process_count: int | None = None  # `process_stats.process_count`: what PIDPressure evictions rank pods by

    @property
    def logs_used_bytes(self) -> int:
        return sum(c.logs_used_bytes or 0 for c in self.containers)

    @property
    def rootfs_used_bytes(self) -> int:
        return sum(c.rootfs_used_bytes or 0 for c in self.containers)

    @property
    def volumes_used_bytes(self) -> int:
        return sum(v.used_bytes or 0 for v in self.volumes)


@dataclass(frozen=True)
class NodeFsSummary:
    """`GET /api/v1/nodes/{name}/proxy/stats/summary`: the node's filesystems and, when asked for
    (`node_fs_summary(node, pods=True)`), its pods' stats. `pods` is None when they were not read.

    When the runtime has no separate image filesystem the kubelet reports nodefs twice (`imagefs` has the
    same figures as `nodefs`); `separate_imagefs` tells the two cases apart."""

    node: str
    nodefs: FsStats | None
    imagefs: FsStats | None
    container_fs: FsStats | None = None
    memory_working_set_bytes: int | None = None
    memory_available_bytes: int | None = None
    pods: tuple[PodStats, ...] | None = None
    processes: int | None = None  # `rlimit.curproc`: every process on the node, the pods' and its own
    max_pids: int | None = None  # `rlimit.maxpid`

    @property
    def separate_imagefs(self) -> bool | None:
        """False when imagefs is nodefs (same capacity and usage), None when either is unknown."""
        if self.nodefs is None or self.imagefs is None:
            return None
        return (self.nodefs.capacity_bytes, self.nodefs.available_bytes) != (
            self.imagefs.capacity_bytes, self.imagefs.available_bytes)


@dataclass(frozen=True)
class Probe:
    """A container probe reduced to its kind: `http`, `tcp`, `exec`, `grpc`."""

    kind: str
    detail: str = ""


@dataclass(frozen=True)
class ContainerSnapshot:
    """Spec and status of one container of a pod (status fields are None for templates)."""

    name: str
    image: str
    memory_limit: str | None = None
    memory_request: str | None = None
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    ready: bool | None = None
    restart_count: int | None = None
    state: str | None = None  # "running" | "waiting" | "terminated"
    state_reason: str | None = None  # e.g. CrashLoopBackOff, ImagePullBackOff, OOMKilled
    state_message: str | None = None
    last_terminated_reason: str | None = None
    image_id: str | None = None
    limits: Mapping[str, str] = field(default_factory=dict)  # resources.limits, quantities as written
    requests: Mapping[str, str] = field(default_factory=dict)  # resources.requests (defaulted from limits)
    last_terminated: TerminatedState | None = None  # lastState.terminated, with its own times
    kind: str = "container"  # "container" | "init" | "sidecar" (an init container with restartPolicy Always)


@dataclass(frozen=True)
class TerminatedState:
    """A container's `state.terminated` or `lastState.terminated`."""

    reason: str | None
    exit_code: int | None
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class OwnerRef:
    kind: str
    name: str
    uid: str | None = None
    controller: bool = False
    api_version: str | None = None


@dataclass(frozen=True)
class PodSnapshot:
    name: str
    namespace: str
    labels: Mapping[str, str]
    phase: str | None
    node_name: str | None
    containers: tuple[ContainerSnapshot, ...]
    conditions: tuple[Condition, ...] = ()
    owners: tuple[OwnerRef, ...] = ()
    created_at: datetime | None = None
    reason: str | None = None  # e.g. "Evicted"
    message: str | None = None
    uid: str | None = None
    priority: int | None = None  # spec.priority, resolved from the class at admission
    priority_class: str | None = None  # spec.priorityClassName
    qos_class: str | None = None  # status.qosClass: "Guaranteed" | "Burstable" | "BestEffort"
    init_containers: tuple[ContainerSnapshot, ...] = ()  # in spec order; sidecars have kind "sidecar"
    volumes: tuple[VolumeSnapshot, ...] = ()
    start_time: datetime | None = None

    @property
    def ready(self) -> bool:
        cond = next((c for c in self.conditions if c.type == "Ready"), None)
        return cond is not None and cond.status == "True"

    @property
    def controller(self) -> OwnerRef | None:
        """The owner reference with `controller: true` (the ReplicaSet, Job, DaemonSet, ...), else the first."""
        return next((o for o in self.owners if o.controller), self.owners[0] if self.owners else None)


@dataclass(frozen=True)
class VolumeSnapshot:
    """A pod volume: its source kind (`emptyDir`, `configMap`, `persistentVolumeClaim`, ...) and, for an
    emptyDir, its medium and sizeLimit."""

    name: str
    kind: str
    medium: str | None = None
    size_limit: str | None = None
    claim: str | None = None  # a persistentVolumeClaim's claimName


@dataclass(frozen=True)
class WorkloadSnapshot:
    """A Job, CronJob, DaemonSet or StatefulSet: enough to follow ownership up (a Job's CronJob) and to
    name a workload with its pod template's resources."""

    kind: str
    name: str
    namespace: str
    labels: Mapping[str, str]
    owners: tuple[OwnerRef, ...] = ()
    created_at: datetime | None = None
    uid: str | None = None
    containers: tuple[ContainerSnapshot, ...] = ()
    priority_class: str | None = None
    # For a StatefulSet or DaemonSet diagnosed as the service: what its pods are found by and how many it
    # wants (a DaemonSet's `desiredNumberScheduled`), and its pod template (compared with its revisions').
    selector: Mapping[str, str] = field(default_factory=dict)  # matchLabels
    replicas: int | None = None
    ready_replicas: int | None = None
    template: Mapping[str, Any] = field(default_factory=dict)
    update_revision: str | None = None  # a StatefulSet's status.updateRevision: the ControllerRevision it rolls to
    # The rolling update's state, from the controller's own status (neither kind has a Progressing
    # condition): a StatefulSet's currentRevision, updatedReplicas and updateStrategy (type, partition);
    # a DaemonSet's updatedNumberScheduled, numberUnavailable and rollingUpdate.maxUnavailable (an int or
    # a percentage of desiredNumberScheduled, as the API allows).
    current_revision: str | None = None
    updated_replicas: int | None = None
    update_strategy: str | None = None
    partition: int = 0
    unavailable: int = 0
    max_unavailable: int | str | None = None


@dataclass(frozen=True)
class EventSnapshot:
    """A core/v1 or events.k8s.io/v1 Event. Newer writers set `eventTime` and `series` instead of
    first/lastTimestamp and count: `first_at` is then `eventTime`, `last_at` the series' last observed
    time, and `count` the series count (1 without a series)."""

    namespace: str | None
    involved_kind: str
    involved_name: str
    reason: str
    message: str
    type: str  # "Normal" | "Warning"
    count: int
    first_at: datetime | None
    last_at: datetime | None
    source: str | None = None  # reporting component, e.g. "kubelet"
    uid: str | None = None


@dataclass(frozen=True)
class DeploymentSnapshot:
    name: str
    namespace: str
    labels: Mapping[str, str]
    selector: Mapping[str, str]  # matchLabels
    replicas: int | None
    ready_replicas: int | None
    updated_replicas: int | None
    available_replicas: int | None
    revision: int | None  # annotation deployment.kubernetes.io/revision
    paused: bool
    containers: tuple[ContainerSnapshot, ...]
    conditions: tuple[Condition, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    revision_history_limit: int | None = None
    created_at: datetime | None = None
    uid: str | None = None
    template: Mapping[str, Any] = field(default_factory=dict)  # raw pod template, compared with revisions'
    generation: int | None = None  # metadata.generation: bumped by the API server on spec changes
    observed_generation: int | None = None  # status.observedGeneration: what the controller has acted on
    status_replicas: int | None = None  # status.replicas: pods of every revision, old ones included

    @property
    def kind(self) -> str:
        return "Deployment"


@dataclass(frozen=True)
class ReplicaSetSnapshot:
    """One rollout revision. `template` is the raw pod template (dict) that `rollout undo` patches back."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    revision: int | None
    revision_history: tuple[int, ...]  # annotation deployment.kubernetes.io/revision-history
    replicas: int | None
    ready_replicas: int | None
    available_replicas: int | None
    containers: tuple[ContainerSnapshot, ...]
    owners: tuple[OwnerRef, ...]
    created_at: datetime | None
    annotations: Mapping[str, str] = field(default_factory=dict)
    template: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ControllerRevisionSnapshot:
    """apps/v1 ControllerRevision: one revision of a StatefulSet or DaemonSet. `template` is the pod
    template its `.data` holds (the patch `kubectl rollout undo` applies); `hash` its
    `controller-revision-hash` label, which a DaemonSet's pods carry (a StatefulSet's carry the name)."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    revision: int
    owners: tuple[OwnerRef, ...]
    created_at: datetime | None
    template: Mapping[str, Any] = field(default_factory=dict)
    containers: tuple[ContainerSnapshot, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str | None:
        return self.labels.get("controller-revision-hash")


# The workload a service resolves to: a Deployment, or a StatefulSet or DaemonSet (`WorkloadSnapshot`).
ServiceWorkload = DeploymentSnapshot | WorkloadSnapshot


@dataclass(frozen=True)
class HpaSnapshot:
    """autoscaling/v2 HorizontalPodAutoscaler."""

    name: str
    namespace: str
    target_kind: str
    target_name: str
    min_replicas: int | None
    max_replicas: int
    current_replicas: int | None
    desired_replicas: int | None
    last_scale_time: datetime | None
    conditions: tuple[Condition, ...] = ()
    current_metrics: tuple[Mapping[str, Any], ...] = ()


def selector_string(selector: Mapping[str, str]) -> str | None:
    """matchLabels as a label selector; None (everything) only when the selector is empty."""
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or None
