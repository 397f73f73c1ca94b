"""The scenario file format (YAML), validated with pydantic. `docs/scenarios.md` documents every field.

The file is compact on purpose: nodes, deployments with their revisions and pod groups, HPAs, events and
image evidence are shorthand that `bot.sim.expand` turns into full API objects. `raw:` takes any
Kubernetes object verbatim, for shapes the shorthand does not cover.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.sim.quantity import parse_bytes

Quantity = int | str


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("timestamps need a timezone (write 2024-05-14T02:40:00Z)")
    return value


class FsSpec(_Model):
    """A filesystem of the kubelet summary. `used` is bytes, a quantity or a percentage ("97%")."""

    capacity: Quantity
    used: Quantity
    inodes: int = 6_553_600
    inodes_used: int = 412_000

    @field_validator("capacity")
    @classmethod
    def _capacity(cls, value: Quantity) -> Quantity:
        parse_bytes(value)
        return value

    @field_validator("used")
    @classmethod
    def _used(cls, value: Quantity) -> Quantity:
        if isinstance(value, str) and value.strip().endswith("%"):
            percent = float(value.strip()[:-1])
            if not 0 <= percent <= 100:
                raise ValueError("a percentage between 0% and 100%")
            return value
        parse_bytes(value)
        return value

    def capacity_bytes(self) -> int:
        return parse_bytes(self.capacity)

    def used_bytes(self) -> int:
        if isinstance(self.used, str) and self.used.strip().endswith("%"):
            return int(self.capacity_bytes() * float(self.used.strip()[:-1]) / 100)
        return parse_bytes(self.used)


class PressureSpec(_Model):
    type: Literal["DiskPressure", "MemoryPressure", "PIDPressure"]
    since: datetime
    message: str | None = None

    _tz = field_validator("since")(_aware)


class NodeImageSpec(_Model):
    """`{ref: <image ref in images:>}` takes the size from the evidence; else give `names` and `size`."""

    ref: str | None = None
    names: list[str] = Field(default_factory=list)
    size: Quantity | None = None


class TaintSpec(_Model):
    key: str
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class NodeSpec(_Model):
    name: str
    count: int | None = Field(default=None, ge=1, description="Repeat; `{i}` in name is 1..count.")
    created: datetime
    labels: dict[str, str] = Field(default_factory=dict)
    ready: bool | Literal["Unknown"] = Field(
        default=True, description="Unknown: the kubelet stopped posting status (node lifecycle controller's "
                                  "NodeStatusUnknown, unreachable taints; its summary does not answer)")
    not_ready_since: datetime | None = None
    not_ready_message: str = "PLEG is not healthy: pleg was last seen active 3m12.4s ago; threshold is 3m0s"
    pressure: list[PressureSpec] = Field(default_factory=list)
    unschedulable: bool = False
    taints: list[TaintSpec] = Field(default_factory=list, description="Taints someone put on the node (a GPU pool's).")
    capacity: dict[str, str] = Field(
        default_factory=lambda: {"cpu": "8", "memory": "32Gi", "ephemeral-storage": "100Gi", "pods": "110"}
    )
    images: list[NodeImageSpec] = Field(default_factory=list)
    nodefs: FsSpec | None = None
    imagefs: FsSpec | None = None
    memory_used: Quantity | None = None
    internal_ip: str | None = None
    kubelet_version: str = "v1.29.3-eks-ae9a62a"
    summary_unavailable: bool = False
    max_pids: int = Field(default=4_194_304, ge=1, description="the summary's rlimit.maxpid (kernel.pid_max); "
                          "rlimit.curproc is the pods' processes plus the node's own")

    _tz = field_validator("created", "not_ready_since")(_aware)


class ProbeSpec(_Model):
    """Exactly one of http (a path), tcp, exec, grpc."""

    http: str | None = None
    tcp: bool | None = None
    exec: list[str] | None = None
    grpc: bool | None = None
    port: int = 8080
    initial_delay: int = 0
    period: int = 10
    timeout: int = 1
    failure_threshold: int = 3

    @model_validator(mode="after")
    def _one_kind(self) -> ProbeSpec:
        kinds = [k for k in ("http", "tcp", "exec", "grpc") if getattr(self, k) not in (None, False)]
        if len(kinds) != 1:
            raise ValueError(f"a probe needs exactly one of http, tcp, exec, grpc (got {kinds or 'none'})")
        return self


class SecretKeySpec(_Model):
    """An env var's `valueFrom.secretKeyRef`: one key of one Secret."""

    secret: str
    key: str


class ContainerSpec(_Model):
    name: str = "app"
    ports: list[int] = Field(default_factory=list)
    mounts: dict[str, str] = Field(default_factory=dict, description="volume name -> mount path")
    env: dict[str, str] = Field(default_factory=dict)
    env_secret_keys: dict[str, SecretKeySpec] = Field(
        default_factory=dict, description="env var name -> the Secret key it is read from (valueFrom.secretKeyRef)")
    env_from_configmaps: list[str] = Field(default_factory=list)
    command: list[str] | None = None
    args: list[str] | None = None
    readiness: ProbeSpec | None = None
    liveness: ProbeSpec | None = None
    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)


class ExtraContainerSpec(ContainerSpec):
    """An init container or a sidecar. `image` defaults to the pod's main image. An init container with
    `restart_policy: Always` is a native sidecar (Kubernetes 1.29+)."""

    image: str | None = None
    restart_policy: Literal["Always"] | None = None


class EmptyDirSpec(_Model):
    medium: Literal["", "Memory"] = ""
    size_limit: Quantity | None = None

    @field_validator("size_limit")
    @classmethod
    def _size(cls, value: Quantity | None) -> Quantity | None:
        if value is not None:
            parse_bytes(value)
        return value


class VolumeSpec(_Model):
    """Exactly one source: empty_dir, config_map, secret or pvc."""

    name: str
    empty_dir: EmptyDirSpec | None = None
    config_map: str | None = None
    secret: str | None = None
    pvc: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> VolumeSpec:
        sources = [k for k in ("empty_dir", "config_map", "secret", "pvc") if getattr(self, k) is not None]
        if len(sources) != 1:
            raise ValueError(f"volume {self.name}: needs exactly one of empty_dir, config_map, secret, pvc "
                             f"(got {sources or 'none'})")
        return self


class PodTemplateExtras(_Model):
    """What a pod template has besides its main container: shared by deployments and other workloads."""

    priority_class: str | None = Field(default=None, description="a name from priority_classes (or a built-in)")
    init_containers: list[ExtraContainerSpec] = Field(default_factory=list)
    sidecars: list[ExtraContainerSpec] = Field(default_factory=list, description="more regular containers")
    volumes: list[VolumeSpec] = Field(default_factory=list)
    node_selector: dict[str, str] = Field(default_factory=dict, description="the pod template's nodeSelector")
    tolerations: list[dict[str, Any]] = Field(default_factory=list, description="the pod template's tolerations, "
                                                                                "as in a manifest")


class ContainerOverride(_Model):
    """Per-revision changes to the deployment's container (only the fields given are replaced)."""

    env: dict[str, str] | None = None
    env_secret_keys: dict[str, SecretKeySpec] | None = None
    env_from_configmaps: list[str] | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    readiness: ProbeSpec | None = None
    liveness: ProbeSpec | None = None
    requests: dict[str, str] | None = None
    limits: dict[str, str] | None = None


class RevisionSpec(_Model):
    revision: int = Field(ge=1)
    image: str
    created: datetime
    replicas: int = 0
    ready: int | None = None
    revision_history: list[int] = Field(default_factory=list)
    change_cause: str | None = None
    pod_template_hash: str | None = Field(default=None, description="fixed hash, so events can name the RS")
    annotations: dict[str, str] = Field(
        default_factory=dict, description="the pod template's annotations (kubectl rollout restart sets "
                                          "kubectl.kubernetes.io/restartedAt)")
    container: ContainerOverride | None = None

    _tz = field_validator("created")(_aware)


EventApi = Literal["v1", "events.k8s.io/v1"]
EVENT_API_DESCRIPTION = ("who wrote it: v1 (the kubelet's and most controllers' recorder: first/lastTimestamp, "
                         "count) or events.k8s.io/v1 (the scheduler's: eventTime and series)")


class EventTemplate(_Model):
    """An event attached to every pod of a group. `{pod}`, `{node}`, `{image}`, `{namespace}`,
    `{container}` and `{ip}` are substituted in the message. Offsets count from the pod's creation."""

    reason: str
    message: str
    type: Literal["Normal", "Warning"] = "Normal"
    at: int = Field(default=0, description="seconds after the pod was created")
    last: int | None = Field(default=None, description="seconds after creation of the last occurrence")
    count: int = 1
    component: str = "kubelet"
    api: EventApi = Field(default="v1", description=EVENT_API_DESCRIPTION)


class TerminatedSpec(_Model):
    """A container's `lastState.terminated`, with its own times."""

    reason: str
    exit_code: int = 1
    message: str | None = None
    started: datetime
    finished: datetime

    _tz = field_validator("started", "finished")(_aware)

    @model_validator(mode="after")
    def _order(self) -> TerminatedSpec:
        if self.finished < self.started:
            raise ValueError("finished is before started")
        return self


class ContainerStatsSpec(_Model):
    """Kubelet summary figures for one container: memory working set, writable layer, logs."""

    memory: Quantity | None = None
    rootfs: Quantity | None = None
    logs: Quantity | None = None


class PodStatsSpec(ContainerStatsSpec):
    """What the kubelet summary reports for each pod of the group. `memory`, `rootfs` and `logs` are the
    main container's; `containers` gives other containers' (sidecars); `volumes` the bytes used on each
    volume. The pod's ephemeral-storage figure is derived as the kubelet does (rootfs + logs + local
    volumes)."""

    containers: dict[str, ContainerStatsSpec] = Field(default_factory=dict)
    volumes: dict[str, Quantity] = Field(default_factory=dict)
    processes: int | None = Field(default=None, ge=0, description="the pod's process count (the summary's "
                                  "process_stats.process_count, its cgroup's pids.current); default 4 per container")


class PodGroupBase(_Model):
    count: int = Field(default=1, ge=1)
    names: list[str] | None = None
    nodes: list[str] = Field(default_factory=list, description="round-robin; empty = unscheduled")
    phase: Literal["Running", "Pending", "Failed", "Succeeded"] = "Running"
    ready: bool = True
    waiting: str | None = Field(default=None, description="container waiting reason, e.g. ImagePullBackOff")
    waiting_message: str | None = None
    terminated: str | None = Field(default=None, description="container terminated reason")
    exit_code: int | None = None
    restarts: int = 0
    last_terminated: str | None = None
    last_exit_code: int | None = None
    last_state: TerminatedSpec | None = Field(default=None, description="lastState.terminated in full")
    stats: PodStatsSpec | None = Field(default=None, description="the kubelet summary's figures for these pods")
    pod_reason: str | None = None
    pod_message: str | None = None
    unschedulable_message: str | None = None
    created: datetime
    stagger: int = Field(default=0, description="seconds between the creation of consecutive pods")
    events: list[EventTemplate] = Field(default_factory=list)

    _tz = field_validator("created")(_aware)

    @model_validator(mode="after")
    def _names(self) -> PodGroupBase:
        if self.names is not None and len(self.names) != self.count:
            raise ValueError(f"names lists {len(self.names)} pods but count is {self.count}")
        if self.last_state is not None and (self.last_terminated or self.last_exit_code is not None):
            raise ValueError("give last_state, or last_terminated/last_exit_code, not both")
        return self


class PodGroupSpec(PodGroupBase):
    revision: int


class DeploymentSpec(PodTemplateExtras):
    name: str
    namespace: str = "default"
    created: datetime
    labels: dict[str, str] = Field(default_factory=dict)
    selector: dict[str, str] | None = None
    replicas: int = 1
    revision_history_limit: int = 10
    paused: bool = False
    paused_since: datetime | None = Field(default=None, description="when `kubectl rollout pause` ran (the "
                                          "Progressing condition's DeploymentPaused transition); default: the "
                                          "current revision's creation")
    progress_deadline_exceeded: bool = False
    container: ContainerSpec = Field(default_factory=ContainerSpec)
    revisions: list[RevisionSpec]
    pods: list[PodGroupSpec] = Field(default_factory=list)

    _tz = field_validator("created", "paused_since")(_aware)

    @model_validator(mode="after")
    def _revisions(self) -> DeploymentSpec:
        numbers = [r.revision for r in self.revisions]
        if not numbers:
            raise ValueError("a deployment needs at least one revision")
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"revision numbers repeat: {numbers}")
        for group in self.pods:
            if group.revision not in numbers:
                raise ValueError(f"pods refer to revision {group.revision}, which is not in revisions {numbers}")
        return self


class PriorityClassSpec(_Model):
    name: str
    value: int
    global_default: bool = False
    preemption_policy: Literal["PreemptLowerPriority", "Never"] = "PreemptLowerPriority"
    description: str = ""
    created: datetime | None = None

    _tz = field_validator("created")(_aware)


class WorkloadRevisionSpec(_Model):
    """One ControllerRevision of a StatefulSet or DaemonSet: its pod template is the workload's container
    with this revision's image and overrides. The highest revision is the one the workload's spec holds."""

    revision: int = Field(ge=1)
    image: str | None = Field(default=None, description="default: the workload's image")
    created: datetime
    container: ContainerOverride | None = None

    _tz = field_validator("created")(_aware)


class WorkloadPodGroupSpec(PodGroupBase):
    revision: int | None = Field(default=None, description="the ControllerRevision these pods run (default: "
                                                           "the newest)")


class WorkloadSpec(PodTemplateExtras):
    """A Job, CronJob, DaemonSet or StatefulSet with its pods. A CronJob's pod groups are its Jobs' runs:
    each group is one Job, named after the group's `created` minute as the CronJob controller names them."""

    kind: Literal["Job", "CronJob", "DaemonSet", "StatefulSet"]
    name: str
    namespace: str = "default"
    created: datetime
    labels: dict[str, str] = Field(default_factory=dict)
    image: str
    container: ContainerSpec = Field(default_factory=ContainerSpec)
    replicas: int | None = Field(default=None, description="StatefulSet replicas (default: its pods)")
    max_unavailable: int | str = Field(default=1, description="DaemonSet rollingUpdate.maxUnavailable (1, or a "
                                                              "percentage such as \"100%\")")
    partition: int = Field(default=0, ge=0, description="StatefulSet rollingUpdate.partition: ordinals below it "
                                                         "stay on the old revision")
    update_strategy: Literal["RollingUpdate", "OnDelete"] = Field(
        default="RollingUpdate", description="StatefulSet or DaemonSet updateStrategy.type")
    completions: int | None = None
    parallelism: int | None = None
    backoff_limit: int = 6
    restart_policy: Literal["OnFailure", "Never"] = Field(default="OnFailure", description="Jobs and CronJobs")
    schedule: str = "0 * * * *"
    revisions: list[WorkloadRevisionSpec] = Field(
        default_factory=list, description="StatefulSet and DaemonSet ControllerRevisions (default: one, revision 1, "
                                          "of `image` at `created`)")
    pods: list[WorkloadPodGroupSpec] = Field(default_factory=list)

    _tz = field_validator("created")(_aware)

    @model_validator(mode="after")
    def _revisions(self) -> WorkloadSpec:
        numbers = [r.revision for r in self.revisions]
        if self.partition and self.kind != "StatefulSet":
            raise ValueError(f"a {self.kind} has no partition: partition is a StatefulSet's rollingUpdate field")
        if self.update_strategy != "RollingUpdate" and self.kind not in ("StatefulSet", "DaemonSet"):
            raise ValueError(f"a {self.kind} has no updateStrategy: it is a StatefulSet's or DaemonSet's field")
        if numbers and self.kind not in ("StatefulSet", "DaemonSet"):
            raise ValueError(f"a {self.kind} has no ControllerRevisions: revisions are for StatefulSets and DaemonSets")
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"revision numbers repeat: {numbers}")
        for group in self.pods:
            if group.revision is not None and group.revision not in (numbers or [1]):
                raise ValueError(f"pods refer to revision {group.revision}, which is not in revisions {numbers or [1]}")
        return self


class HpaConditionSpec(_Model):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    since: datetime

    _tz = field_validator("since")(_aware)


class HpaSpec(_Model):
    name: str
    namespace: str = "default"
    target: str = Field(description="the scaled workload's name")
    target_kind: Literal["Deployment", "StatefulSet"] = "Deployment"
    created: datetime
    min_replicas: int = 1
    max_replicas: int
    current_replicas: int
    desired_replicas: int
    last_scale_time: datetime | None = None
    cpu_target_utilization: int = 70
    cpu_current_utilization: int | None = None
    conditions: list[HpaConditionSpec] = Field(default_factory=list)

    _tz = field_validator("created", "last_scale_time")(_aware)


class EventSpec(_Model):
    kind: str
    name: str
    namespace: str | None = Field(default=None, description="defaults to the object's namespace, 'default' for nodes")
    reason: str
    message: str
    type: Literal["Normal", "Warning"] = "Normal"
    first: datetime
    last: datetime | None = None
    count: int = 1
    component: str = "kubelet"
    host: str | None = None
    api: EventApi = Field(default="v1", description=EVENT_API_DESCRIPTION)

    _tz = field_validator("first", "last")(_aware)


class FileSpec(_Model):
    path: str
    size: Quantity = 0
    kind: Literal["file", "dir", "symlink", "hardlink", "other"] = "file"
    mode: int | None = None
    link_target: str | None = None


class LayerSpec(_Model):
    digest: str | None = None
    size: Quantity | None = Field(default=None, description="defaults to the sum of the files")
    files: list[FileSpec | tuple[str, Quantity]] = Field(default_factory=list)


class HistorySpec(_Model):
    created_by: str
    created: datetime | None = None
    empty_layer: bool = False
    comment: str | None = None


class ImageConfigSpec(_Model):
    user: str | None = None
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: list[str] = Field(default_factory=list)
    working_dir: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    healthcheck: list[str] | None = None
    exposed_ports: list[str] = Field(default_factory=list)


class ImageSpec(_Model):
    ref: str
    digest: str | None = None
    created: datetime | None = None
    architecture: str = "amd64"
    os: str = "linux"
    config: ImageConfigSpec = Field(default_factory=ImageConfigSpec)
    history: list[HistorySpec] = Field(default_factory=list)
    layers: list[LayerSpec] = Field(default_factory=list)
    dockerfile: str | None = None
    dockerignore: str | None = None
    layer_compression: Literal["none", "gzip"] = Field(
        default="none", description="how the sim's registry serves the layers: plain tar, or gzip'd tar "
                                    "(for images of gigabytes: far fewer bytes to send, far smaller sizes)")

    @model_validator(mode="after")
    def _history_matches_layers(self) -> ImageSpec:
        non_empty = sum(1 for h in self.history if not h.empty_layer)
        if self.history and non_empty != len(self.layers):
            raise ValueError(
                f"{non_empty} non-empty history entries but {len(self.layers)} layers: each layer needs one"
            )
        return self


class ForbiddenSpec(_Model):
    verb: Literal["get", "list", "watch", "patch"]
    resource: str = Field(description="e.g. nodes, nodes/proxy, events, deployments")
    namespace: str | None = None


class RbacSpec(_Model):
    user: str = "system:serviceaccount:coroner:coroner"
    forbidden: list[ForbiddenSpec] = Field(default_factory=list)


class IncidentSpec(_Model):
    """What PagerDuty said about the outage the scenario replays (for the demo and the timeline)."""

    service: str
    namespace: str | None = None
    title: str
    triggered_at: datetime
    resolved_at: datetime | None = None
    urgency: Literal["high", "low"] = "high"
    pagerduty_service_id: str | None = None
    incident_number: int | None = None

    _tz = field_validator("triggered_at", "resolved_at")(_aware)


class ScenarioFile(_Model):
    name: str
    description: str = ""
    now: datetime = Field(description="the instant the scenario is a snapshot of")
    extends: str | None = Field(default=None, description="another scenario whose content this one starts from")
    server_version: str = "v1.29.3-eks-adc7111"
    latency_ms: int = Field(default=0, ge=0)
    resource_version: str = "48213977"
    incident: IncidentSpec | None = None
    rbac: RbacSpec = Field(default_factory=RbacSpec)
    namespaces: list[str] = Field(default_factory=list)
    nodes: list[NodeSpec] = Field(default_factory=list)
    priority_classes: list[PriorityClassSpec] = Field(default_factory=list)
    deployments: list[DeploymentSpec] = Field(default_factory=list)
    workloads: list[WorkloadSpec] = Field(default_factory=list, description="Jobs, CronJobs, DaemonSets, "
                                                                            "StatefulSets")
    hpas: list[HpaSpec] = Field(default_factory=list)
    events: list[EventSpec] = Field(default_factory=list)
    images: list[ImageSpec] = Field(default_factory=list)
    raw: list[dict[str, Any]] = Field(default_factory=list)

    _tz = field_validator("now")(_aware)
