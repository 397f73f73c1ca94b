"""Who uses a node: its pods grouped by the workload that owns them, with what each uses (issue 9, part 2).

Figures come from the kubelet summary API's per-pod stats (memory working set, ephemeral storage, logs,
writable layers, volumes, process counts) when it is on; otherwise only the pod specs can be read (limits, priority, QoS),
and the figures are None. Ownership is followed up to the workload an on-call would edit: a ReplicaSet's
pods to their Deployment (the ReplicaSet is named `<deployment>-<pod-template-hash>`), a Job's to its
CronJob (the Job's owner reference, when Jobs can be listed); DaemonSets and StatefulSets own their pods
directly; a pod without an owner is its own workload.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.cluster.snapshots import NodeSnapshot, PodSnapshot, PodStats
from bot.checks.context import CheckContext
from bot.ports import ClusterReadError
from bot.units import human_bytes, quantity_bytes


@dataclass(frozen=True, order=True)
class Workload:
    namespace: str
    kind: str
    name: str

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def label(self) -> str:
        return f"{self.ref} ({self.kind})"


@dataclass
class Consumer:
    """One workload's pods on one node, and what they use there (None: not measured)."""

    workload: Workload
    pods: list[str] = field(default_factory=list)
    memory_bytes: int | None = None
    ephemeral_bytes: int | None = None
    logs_bytes: int | None = None
    empty_dir_bytes: int | None = None
    rootfs_bytes: int | None = None
    processes: int | None = None
    no_memory_limit: bool = False
    no_storage_limit: bool = False  # no ephemeral-storage limit and an emptyDir without sizeLimit (or none)
    priority: int | None = None
    priority_class: str | None = None
    qos: str | None = None

    def uses(self, resource: str) -> int | None:
        """Bytes of memory or ephemeral storage; processes for `pids`."""
        if resource == "pids":
            return self.processes
        return self.memory_bytes if resource == "memory" else self.ephemeral_bytes

    def unlimited(self, resource: str) -> bool:
        if resource == "pids":
            # A pod spec has no pids limit: only the kubelet's podPidsLimit (node configuration, not
            # readable here) caps a pod, so no pod can be told apart from another by its spec.
            return True
        return self.no_memory_limit if resource == "memory" else self.no_storage_limit

    def to_json(self) -> dict[str, object]:
        return {
            "workload": self.workload.ref,
            "kind": self.workload.kind,
            "pods": len(self.pods),
            "memory_bytes": self.memory_bytes,
            "ephemeral_storage_bytes": self.ephemeral_bytes,
            "logs_bytes": self.logs_bytes,
            "empty_dir_bytes": self.empty_dir_bytes,
            "writable_layer_bytes": self.rootfs_bytes,
            "processes": self.processes,
            "no_memory_limit": self.no_memory_limit,
            "no_storage_limit": self.no_storage_limit,
            "priority": self.priority,
            "priority_class": self.priority_class,
            "qos": self.qos,
        }


def owner(ctx: CheckContext, pod: PodSnapshot) -> Workload:
    ref = pod.controller
    if ref is None:
        return Workload(pod.namespace, "Pod", pod.name)
    if ref.kind == "ReplicaSet":
        template_hash = pod.labels.get("pod-template-hash")
        if template_hash and ref.name.endswith(f"-{template_hash}"):
            return Workload(pod.namespace, "Deployment", ref.name[: -len(template_hash) - 1])
    if ref.kind == "Job":
        cronjob = _job_owners(ctx, pod.namespace).get(ref.name)
        if cronjob is not None:
            return Workload(pod.namespace, "CronJob", cronjob)
    return Workload(pod.namespace, ref.kind, ref.name)


def _job_owners(ctx: CheckContext, namespace: str) -> dict[str, str]:
    """Job name -> its CronJob's, in a namespace; empty when Jobs cannot be listed (the Job is named then)."""

    def compute() -> dict[str, str]:
        try:
            jobs = ctx.cluster.list_jobs(namespace)
        except ClusterReadError:
            return {}
        return {j.name: o.name for j in jobs for o in j.owners if o.kind == "CronJob"}

    return ctx.memo(("job-owners", namespace), compute)


def pods_on(ctx: CheckContext, node: str) -> list[PodSnapshot]:
    """Every pod bound to the node (all namespaces); raises ClusterReadError like any list."""
    return ctx.cluster.list_pods(None, field_selector=f"spec.nodeName={node}")


def consumers(ctx: CheckContext, pods: Iterable[PodSnapshot], stats: Iterable[PodStats] | None) -> list[Consumer]:
    """The node's pods grouped by workload, with their figures when `stats` (the summary's pods) is given."""
    by_pod = {(s.namespace, s.name): s for s in stats} if stats is not None else None
    grouped: dict[Workload, Consumer] = {}
    for pod in pods:
        if pod.phase in ("Succeeded", "Failed"):
            continue  # evicted or finished: it uses nothing now
        workload = owner(ctx, pod)
        c = grouped.setdefault(workload, Consumer(workload))
        c.pods.append(pod.name)
        containers = list(pod.containers) + [x for x in pod.init_containers if x.kind == "sidecar"]
        c.no_memory_limit |= any(not x.limits.get("memory") and not x.memory_limit for x in containers)
        empty_dirs = [v for v in pod.volumes if v.kind == "emptyDir" and v.medium != "Memory"]
        c.no_storage_limit |= not all(x.limits.get("ephemeral-storage") for x in containers) and (
            not empty_dirs or any(v.size_limit is None for v in empty_dirs))
        c.priority = pod.priority if c.priority is None else max(c.priority, pod.priority or 0)
        c.priority_class = c.priority_class or pod.priority_class
        c.qos = c.qos or pod.qos_class
        if by_pod is None:
            continue
        s = by_pod.get((pod.namespace, pod.name))
        if s is None:
            continue
        empty_dir_names = {v.name for v in empty_dirs}
        c.memory_bytes = (c.memory_bytes or 0) + (s.memory_working_set_bytes or 0)
        c.ephemeral_bytes = (c.ephemeral_bytes or 0) + (s.ephemeral_storage_used_bytes or 0)
        c.logs_bytes = (c.logs_bytes or 0) + s.logs_used_bytes
        c.rootfs_bytes = (c.rootfs_bytes or 0) + s.rootfs_used_bytes
        c.empty_dir_bytes = (c.empty_dir_bytes or 0) + sum(
            v.used_bytes or 0 for v in s.volumes if v.name in empty_dir_names)
        if s.process_count is not None:
            c.processes = (c.processes or 0) + s.process_count
    return list(grouped.values())


def ranked(found: Iterable[Consumer], resource: str) -> list[Consumer]:
    """Largest measured use first; unmeasured, those without a limit and with the higher priority first."""
    return sorted(found, key=lambda c: (-(c.uses(resource) or 0), not c.unlimited(resource), -(c.priority or 0),
                                        c.workload))


def figure(c: Consumer, resource: str, node: NodeSnapshot | None = None) -> str:
    """"29.4 GB of 32.0 GB memory", "28,400 processes", or "no memory limit" when unmeasured."""
    used = c.uses(resource)
    if resource == "pids":
        return f"{used:,} processes" if used is not None else "processes not measured"
    if used is None:
        return f"no {resource} limit" if c.unlimited(resource) else f"{resource} not measured"
    total = capacity(node, resource)
    of = f" of {human_bytes(total)}" if total else ""
    return f"{human_bytes(used)}{of} {'memory' if resource == 'memory' else 'ephemeral storage'}"


def capacity(node: NodeSnapshot | None, resource: str) -> int | None:
    key = "memory" if resource == "memory" else "ephemeral-storage"
    raw = (node.capacity if node is not None else {}).get(key)
    try:
        return quantity_bytes(raw) if raw else None
    except ValueError:
        return None

