"""Turns the compact scenario spec into the JSON objects a real API server returns.

Names, uids and IPs are derived from hashes of the scenario content, so the same file always serves the
same bytes (tests and timeline dedupe keys depend on it).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from bot.images.model import (
    FileEntry,
    HistoryEntry,
    ImageConfig,
    ImageManifest,
    LayerRef,
)
from bot.sim.objects import (
    API_VERSIONS,
    build_event,
    ip_for,
    object_meta,
    owner_reference,
    safe_hash,
    ts,
    uid_for,
)
from bot.sim.pods import (
    PodBuilder,
    PodOwner,
    Priorities,
    build_container,
    build_template,
    pod_ready,
    repository_of,
)
from bot.sim.quantity import format_binary, parse_bytes
from bot.sim.model import Forbidden, ImageEvidence, Scenario
from bot.sim.schema import (
    ContainerStatsSpec,
    DeploymentSpec,
    EventSpec,
    FileSpec,
    HpaSpec,
    ImageSpec,
    NodeSpec,
    PodStatsSpec,
    PressureSpec,
    PriorityClassSpec,
    ScenarioFile,
)
from bot.sim.workloads import WorkloadObjects, expand_workload

# ---------------------------------------------------------------- nodes


_CONDITION_TEXT = {
    "MemoryPressure": (
        ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
    ),
    "DiskPressure": (
        ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    ),
    "PIDPressure": (
        ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
    ),
}
_PRESSURE_TAINTS = {
    "DiskPressure": "node.kubernetes.io/disk-pressure",
    "MemoryPressure": "node.kubernetes.io/memory-pressure",
    "PIDPressure": "node.kubernetes.io/pid-pressure",
}


def _expand_node_specs(specs: list[NodeSpec]) -> list[NodeSpec]:
    out = []
    for spec in specs:
        if spec.count is None:
            out.append(spec)
            continue
        if "{i}" not in spec.name:
            raise ValueError(f"nodes: {spec.name!r} has count {spec.count} but no {{i}} in its name")
        out.extend(spec.model_copy(update={"name": spec.name.format(i=i), "count": None})
                   for i in range(1, spec.count + 1))
    return out


def build_node(spec: NodeSpec, *, now: datetime, image_sizes: dict[str, int],
               image_digests: dict[str, str]) -> dict[str, Any]:
    pressures: dict[str, PressureSpec] = {p.type: p for p in spec.pressure}
    unknown = spec.ready == "Unknown"
    ready = spec.ready is True
    since = spec.not_ready_since or now
    conditions = []
    for ctype, (ok, bad) in _CONDITION_TEXT.items():
        pressure = pressures.get(ctype)
        reason, message = bad if pressure else ok
        conditions.append({
            "type": ctype, "status": "True" if pressure else "False",
            "lastHeartbeatTime": ts(now), "lastTransitionTime": ts(pressure.since if pressure else spec.created),
            "reason": reason, "message": pressure.message if pressure and pressure.message else message,
        })
    conditions.append({
        "type": "Ready", "status": "True" if ready else "False",
        "lastHeartbeatTime": ts(now),
        "lastTransitionTime": ts(spec.not_ready_since if not ready and spec.not_ready_since else spec.created),
        "reason": "KubeletReady" if ready else "KubeletNotReady",
        "message": "kubelet is posting ready status" if ready else spec.not_ready_message,
    })
    if unknown:
        # The node lifecycle controller's view once the kubelet stops posting status: every condition
        # Unknown since then, the last heartbeat before it (the grace period is 40 s).
        last_heartbeat = ts(since - timedelta(seconds=40))
        for condition in conditions:
            condition.update({"status": "Unknown", "reason": "NodeStatusUnknown",
                              "message": "Kubelet stopped posting node status.", "lastHeartbeatTime": last_heartbeat,
                              "lastTransitionTime": ts(since)})
    taints: list[dict[str, Any]] = [{"key": t.key, "effect": t.effect} | ({"value": t.value} if t.value is not None else {})
                                    for t in spec.taints]
    if spec.unschedulable:
        taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": ts(now)})
    for ctype, pressure_spec in pressures.items():
        taints.append({"key": _PRESSURE_TAINTS[ctype], "effect": "NoSchedule", "timeAdded": ts(pressure_spec.since)})
    if not ready:
        key = "node.kubernetes.io/unreachable" if unknown else "node.kubernetes.io/not-ready"
        taints.append({"key": key, "effect": "NoSchedule", "timeAdded": ts(since)})
        taints.append({"key": key, "effect": "NoExecute", "timeAdded": ts(since)})
    images: list[dict[str, Any]] = []
    for image in spec.images:
        if image.ref is not None:
            if image.ref not in image_sizes:
                raise ValueError(f"nodes: {spec.name}: image ref {image.ref!r} is not in images:")
            names = image.names or [f"{repository_of(image.ref)}@{image_digests[image.ref]}", image.ref]
            images.append({"names": names, "sizeBytes": image_sizes[image.ref]})
        else:
            if image.size is None or not image.names:
                raise ValueError(f"nodes: {spec.name}: an image without ref needs names and size")
            images.append({"names": image.names, "sizeBytes": parse_bytes(image.size)})
    images.sort(key=lambda i: -i["sizeBytes"])
    ip = spec.internal_ip or ip_for(spec.name)
    capacity = dict(spec.capacity)
    allocatable = dict(capacity)
    if "memory" in capacity:
        allocatable["memory"] = format_binary(max(parse_bytes(capacity["memory"]) - 1024**3, 0))
    if "ephemeral-storage" in capacity:
        allocatable["ephemeral-storage"] = str(int(parse_bytes(capacity["ephemeral-storage"]) * 0.9))
    labels = {
        "kubernetes.io/hostname": spec.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        **spec.labels,
    }
    node_spec: dict[str, Any] = {"providerID": f"aws:///eu-west-1a/i-{hashlib.sha256(spec.name.encode()).hexdigest()[:17]}"}
    if spec.unschedulable:
        node_spec["unschedulable"] = True
    if taints:
        node_spec["taints"] = taints
    return {
        "kind": "Node", "apiVersion": "v1",
        "metadata": object_meta(spec.name, None, spec.created, "Node", labels=labels, annotations={
            "node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}),
        "spec": node_spec,
        "status": {
            "capacity": capacity, "allocatable": allocatable, "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": spec.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": hashlib.md5(spec.name.encode()).hexdigest(),  # an id, not security
                "systemUUID": uid_for("system", spec.name), "bootID": uid_for("boot", spec.name),
                "kernelVersion": "5.10.215-203.850.amzn2.x86_64", "osImage": "Amazon Linux 2",
                "containerRuntimeVersion": "containerd://1.7.11", "kubeletVersion": spec.kubelet_version,
                "kubeProxyVersion": spec.kubelet_version, "operatingSystem": labels["kubernetes.io/os"],
                "architecture": labels["kubernetes.io/arch"],  # a scenario's arm64 pool sets the label
            },
            "images": images,
        },
    }


def _fs_block(total: int, used: int, inodes: int, inodes_used: int, now: datetime) -> dict[str, Any]:
    return {
        "time": ts(now), "availableBytes": max(total - used, 0), "capacityBytes": total, "usedBytes": used,
        "inodesFree": inodes - inodes_used, "inodes": inodes, "inodesUsed": inodes_used,
    }


PROGRESS_DEADLINE_SECONDS = 600  # the Deployment default: a rollout without progress for this long has failed

DEFAULT_PROCESSES = 4  # per container, when a pod group gives no `processes`
NODE_PROCESSES = 180  # the node's own (systemd, kubelet, the runtime, kernel threads): curproc beyond the pods'
_DEFAULT_CONTAINER_STATS = ContainerStatsSpec(memory=268_435_456, rootfs=24_576, logs=1_048_576)


def _container_stats(name: str, started: str | None, figures: ContainerStatsSpec, node_fs: dict[str, Any],
                     now: datetime) -> dict[str, Any]:
    memory = parse_bytes(figures.memory if figures.memory is not None else _DEFAULT_CONTAINER_STATS.memory or 0)
    rootfs = parse_bytes(figures.rootfs if figures.rootfs is not None else _DEFAULT_CONTAINER_STATS.rootfs or 0)
    logs = parse_bytes(figures.logs if figures.logs is not None else _DEFAULT_CONTAINER_STATS.logs or 0)
    fs = {"time": ts(now), "availableBytes": node_fs["availableBytes"], "capacityBytes": node_fs["capacityBytes"]}
    return {
        "name": name, "startTime": started,
        "cpu": {"time": ts(now), "usageNanoCores": 180_000_000, "usageCoreNanoSeconds": 9_000_000_000_000},
        "memory": {"time": ts(now), "workingSetBytes": memory, "rssBytes": memory * 3 // 4},
        "rootfs": {**fs, "usedBytes": rootfs, "inodesUsed": 7},
        "logs": {**fs, "usedBytes": logs, "inodesUsed": 2},
    }


def _pod_summary(pod: dict[str, Any], figures: PodStatsSpec | None, node_fs: dict[str, Any],
                 now: datetime) -> dict[str, Any]:
    """One `pods[]` entry as the kubelet writes it (statsapi.PodStats). The pod's ephemeral-storage is the
    kubelet's sum: containers' rootfs and logs plus the local ephemeral volumes (emptyDir on disk,
    configMap)."""
    meta, spec = pod["metadata"], pod["spec"]
    figures = figures or PodStatsSpec()
    names = [c.get("name", "") for c in spec.get("containers") or ()]
    names += [c.get("name", "") for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    unknown = set(figures.containers) - set(names)
    if unknown:
        raise ValueError(f"pod {meta['name']}: stats name containers it does not have: {sorted(unknown)}")
    containers = []
    for index, name in enumerate(names):
        own = figures if index == 0 else figures.containers.get(name, ContainerStatsSpec())
        if index == 0 and name in figures.containers:
            raise ValueError(f"pod {meta['name']}: give the main container's stats as memory/rootfs/logs")
        containers.append(_container_stats(name, meta.get("creationTimestamp"), own, node_fs, now))
    volumes_by_name = {v["name"]: v for v in spec.get("volumes") or ()}
    unknown = set(figures.volumes) - set(volumes_by_name)
    if unknown:
        raise ValueError(f"pod {meta['name']}: stats name volumes it does not have: {sorted(unknown)}")
    fs = {"time": ts(now), "availableBytes": node_fs["availableBytes"], "capacityBytes": node_fs["capacityBytes"]}
    volumes, local_volumes = [], 0
    for name, volume in volumes_by_name.items():
        if "persistentVolumeClaim" in volume and name not in figures.volumes:
            continue  # measured by its CSI driver, not on the node's filesystem
        used = parse_bytes(figures.volumes.get(name, 4096))
        volumes.append({**fs, "usedBytes": used, "inodesFree": 6_000_000, "inodes": 6_553_600, "inodesUsed": 12,
                        "name": name})
        empty_dir = volume.get("emptyDir")
        if (empty_dir is not None and empty_dir.get("medium") != "Memory") or "configMap" in volume:
            local_volumes += used
    memory = sum(c["memory"]["workingSetBytes"] for c in containers)
    ephemeral = sum(c["rootfs"]["usedBytes"] + c["logs"]["usedBytes"] for c in containers) + local_volumes
    entry: dict[str, Any] = {
        "podRef": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta.get("uid", "")},
        "startTime": meta.get("creationTimestamp"), "containers": containers,
        "cpu": {"time": ts(now), "usageNanoCores": 180_000_000 * len(containers)},
        "memory": {"time": ts(now), "workingSetBytes": memory, "usageBytes": memory},
    }
    if volumes:
        entry["volume"] = volumes
    entry["ephemeral-storage"] = {**fs, "usedBytes": ephemeral, "inodesUsed": 9}
    processes = figures.processes if figures.processes is not None else DEFAULT_PROCESSES * len(containers)
    entry["process_stats"] = {"process_count": processes}
    return entry


def build_summary(spec: NodeSpec, node_pods: list[dict[str, Any]], *, now: datetime,
                  stats: dict[tuple[str, str], PodStatsSpec] | None = None) -> dict[str, Any]:
    """The kubelet's `/stats/summary` for one node, with the fields clients read; per-pod figures from
    the scenario's pod groups (`stats:`), defaults for the rest."""
    storage = parse_bytes(spec.capacity.get("ephemeral-storage", "100Gi"))
    nodefs = spec.nodefs
    node_fs = (
        _fs_block(nodefs.capacity_bytes(), nodefs.used_bytes(), nodefs.inodes, nodefs.inodes_used, now)
        if nodefs else _fs_block(storage, storage * 45 // 100, 6_553_600, 412_000, now)
    )
    imagefs = spec.imagefs
    image_fs = (
        _fs_block(imagefs.capacity_bytes(), imagefs.used_bytes(), imagefs.inodes, imagefs.inodes_used, now)
        if imagefs else dict(node_fs)  # one shared filesystem: the kubelet reports it twice
    )
    memory = parse_bytes(spec.capacity.get("memory", "32Gi"))
    memory_used = parse_bytes(spec.memory_used) if spec.memory_used is not None else memory * 55 // 100
    started = ts(spec.created)
    stats = stats or {}
    pods = [_pod_summary(p, stats.get((p["metadata"]["namespace"], p["metadata"]["name"])), node_fs, now)
            for p in node_pods]
    return {
        "node": {
            "nodeName": spec.name,
            "systemContainers": [
                {"name": "kubelet", "startTime": started,
                 "memory": {"time": ts(now), "workingSetBytes": 98_435_072}},
                {"name": "runtime", "startTime": started,
                 "memory": {"time": ts(now), "workingSetBytes": 154_238_976}},
            ],
            "startTime": started,
            "cpu": {"time": ts(now), "usageNanoCores": 1_250_000_000, "usageCoreNanoSeconds": 91_234_000_000_000},
            "memory": {"time": ts(now), "availableBytes": max(memory - memory_used, 0),
                       "usageBytes": memory_used, "workingSetBytes": memory_used, "rssBytes": memory_used * 4 // 5,
                       "pageFaults": 0, "majorPageFaults": 0},
            "network": {"time": ts(now), "name": "eth0", "rxBytes": 91_234_567_890, "txBytes": 12_345_678_901},
            "fs": node_fs,
            "runtime": {"imageFs": image_fs},
            "rlimit": {"time": ts(now), "maxpid": spec.max_pids,
                       "curproc": NODE_PROCESSES + sum(p["process_stats"]["process_count"] for p in pods)},
        },
        "pods": pods,
    }


# ---------------------------------------------------------------- workloads


class _Workload:
    """Builds one Deployment with its ReplicaSets, pods and pod events."""

    def __init__(self, dep: DeploymentSpec, now: datetime, builder: PodBuilder) -> None:
        self.dep = dep
        self.builder = builder
        self.now = now
        self.selector = dep.selector or dict(dep.labels) or {"app": dep.name}
        self.pod_labels = {**dep.labels, **self.selector}
        self.current = max(dep.revisions, key=lambda r: r.revision)
        self.rs_names: dict[int, str] = {}
        self.hashes: dict[int, str] = {}
        self.templates: dict[int, dict[str, Any]] = {}
        for revision in dep.revisions:
            main = build_container(dep.container, revision.image, revision.container)
            template = build_template(main, dep, self.pod_labels, service_account=dep.name)
            pod_hash = revision.pod_template_hash or safe_hash(
                f"{dep.namespace}/{dep.name}/{revision.image}/{revision.revision}", 10)
            self.hashes[revision.revision] = pod_hash
            self.rs_names[revision.revision] = f"{dep.name}-{pod_hash}"
            template["metadata"]["labels"]["pod-template-hash"] = pod_hash
            if revision.annotations:
                template["metadata"]["annotations"] = dict(revision.annotations)
            self.templates[revision.revision] = template

    def replicasets(self, pods_by_revision: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        dep = self.dep
        out = []
        max_surge = max(1, -(-dep.replicas * 25 // 100))
        for revision in dep.revisions:
            pods = pods_by_revision.get(revision.revision, [])
            live = [p for p in pods if p["status"]["phase"] in ("Running", "Pending")]
            ready = revision.ready if revision.ready is not None else sum(1 for p in live if pod_ready(p))
            annotations = {
                "deployment.kubernetes.io/desired-replicas": str(dep.replicas),
                "deployment.kubernetes.io/max-replicas": str(dep.replicas + max_surge),
                "deployment.kubernetes.io/revision": str(revision.revision),
            }
            if revision.revision_history:
                annotations["deployment.kubernetes.io/revision-history"] = ",".join(
                    str(r) for r in revision.revision_history)
            if revision.change_cause:
                annotations["kubernetes.io/change-cause"] = revision.change_cause
            labels = dict(self.templates[revision.revision]["metadata"]["labels"])
            name = self.rs_names[revision.revision]
            meta = object_meta(name, dep.namespace, revision.created, "ReplicaSet", labels=labels, annotations=annotations)
            meta["generation"] = 2 if revision.replicas == 0 else 1
            meta["ownerReferences"] = [self._owner("apps/v1", "Deployment", dep.name)]
            status: dict[str, Any] = {"replicas": revision.replicas, "observedGeneration": meta["generation"]}
            if revision.replicas:
                status.update({"fullyLabeledReplicas": revision.replicas, "readyReplicas": ready,
                               "availableReplicas": ready})
            out.append({
                "kind": "ReplicaSet", "apiVersion": "apps/v1", "metadata": meta,
                "spec": {"replicas": revision.replicas,
                         "selector": {"matchLabels": {**self.selector,
                                                      "pod-template-hash": self.hashes[revision.revision]}},
                         "template": self.templates[revision.revision]},
                "status": status,
            })
        return out

    def _owner(self, api_version: str, kind: str, name: str) -> dict[str, Any]:
        return owner_reference(api_version, kind, name, uid_for(kind, self.dep.namespace, name))

    def pods(self) -> tuple[dict[int, list[dict[str, Any]]], list[dict[str, Any]]]:
        by_revision: dict[int, list[dict[str, Any]]] = defaultdict(list)
        events: list[dict[str, Any]] = []
        for group_index, group in enumerate(self.dep.pods):
            rs_name = self.rs_names[group.revision]
            owner = PodOwner(self.dep.namespace, self.templates[group.revision],
                             self._owner("apps/v1", "ReplicaSet", rs_name), f"{rs_name}-",
                             f"deployments: {self.dep.name}")
            for i in range(group.count):
                name = group.names[i] if group.names else f"{rs_name}-{safe_hash(f'{rs_name}/{group_index}/{i}', 5)}"
                pod, pod_events = self.builder.pod(owner, group, name, i)
                by_revision[group.revision].append(pod)
                events.extend(pod_events)
        return by_revision, events

    def deployment(self, pods_by_revision: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
        dep = self.dep
        current = self.current
        current_pods = [p for p in pods_by_revision.get(current.revision, [])
                        if p["status"]["phase"] in ("Running", "Pending")]
        all_live = [p for pods in pods_by_revision.values() for p in pods
                    if p["status"]["phase"] in ("Running", "Pending")]
        ready = sum(1 for p in all_live if pod_ready(p))
        updated = len(current_pods)
        unavailable = max(dep.replicas - ready, 0)
        max_unavailable = dep.replicas * 25 // 100
        available = unavailable <= max_unavailable
        rs_name = self.rs_names[current.revision]
        annotations = {"deployment.kubernetes.io/revision": str(current.revision)}
        if current.change_cause:
            annotations["kubernetes.io/change-cause"] = current.change_cause
        meta = object_meta(dep.name, dep.namespace, dep.created, "Deployment", labels=dict(dep.labels),
                     annotations=annotations)
        meta["generation"] = current.revision + 3
        # The controller's Progressing condition: Unknown/DeploymentPaused from the pause on (the deadline
        # is not checked while paused), False/ProgressDeadlineExceeded once progressDeadlineSeconds passed
        # without progress (from the rollout's start here: its new pods never became available).
        since = current.created
        if dep.paused:
            since = dep.paused_since or current.created
            progressing: dict[str, Any] = {"type": "Progressing", "status": "Unknown", "reason": "DeploymentPaused",
                                           "message": "Deployment is paused"}
        elif dep.progress_deadline_exceeded:
            since = min(current.created + timedelta(seconds=PROGRESS_DEADLINE_SECONDS), self.now)
            progressing = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                           "message": f'ReplicaSet "{rs_name}" has timed out progressing.'}
        else:
            progressing = {"type": "Progressing", "status": "True",
                           "reason": "NewReplicaSetAvailable" if updated and ready >= dep.replicas else "ReplicaSetUpdated",
                           "message": (f'ReplicaSet "{rs_name}" has successfully progressed.' if ready >= dep.replicas
                                       else f'ReplicaSet "{rs_name}" is progressing.')}
        progressing.update({"lastUpdateTime": ts(self.now), "lastTransitionTime": ts(since)})
        status: dict[str, Any] = {
            "observedGeneration": meta["generation"], "replicas": len(all_live), "updatedReplicas": updated,
            "readyReplicas": ready, "availableReplicas": ready,
            "conditions": [
                {"type": "Available", "status": "True" if available else "False",
                 "lastUpdateTime": ts(self.now), "lastTransitionTime": ts(current.created),
                 "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                 "message": "Deployment has minimum availability." if available
                 else "Deployment does not have minimum availability."},
                progressing,
            ],
        }
        if unavailable:
            status["unavailableReplicas"] = unavailable
        spec: dict[str, Any] = {
            "replicas": dep.replicas, "selector": {"matchLabels": dict(self.selector)},
            "template": {**self.templates[current.revision],
                         "metadata": {"creationTimestamp": None, "labels": dict(self.pod_labels)}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": dep.revision_history_limit, "progressDeadlineSeconds": PROGRESS_DEADLINE_SECONDS,
        }
        if dep.paused:
            spec["paused"] = True
        return {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": meta, "spec": spec, "status": status}


def build_hpa(spec: HpaSpec, now: datetime) -> dict[str, Any]:
    conditions = [
        {"type": c.type, "status": c.status, "lastTransitionTime": ts(c.since), "reason": c.reason,
         "message": c.message}
        for c in spec.conditions
    ]
    if not conditions:
        at_max = spec.desired_replicas >= spec.max_replicas
        conditions = [
            {"type": "AbleToScale", "status": "True", "lastTransitionTime": ts(spec.created),
             "reason": "ReadyForNewScale", "message": "recommended size matches current size"},
            {"type": "ScalingActive", "status": "True", "lastTransitionTime": ts(spec.created),
             "reason": "ValidMetricFound",
             "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization "
                        "(percentage of request)"},
            {"type": "ScalingLimited", "status": "True" if at_max else "False",
             "lastTransitionTime": ts(spec.last_scale_time or spec.created),
             "reason": "TooManyReplicas" if at_max else "DesiredWithinRange",
             "message": "the desired replica count is more than the maximum replica count" if at_max
             else "the desired count is within the acceptable range"},
        ]
    metrics = []
    if spec.cpu_current_utilization is not None:
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageUtilization": spec.cpu_current_utilization,
            "averageValue": f"{spec.cpu_current_utilization * 5}m"}}})
    status: dict[str, Any] = {
        "observedGeneration": 1, "currentReplicas": spec.current_replicas,
        "desiredReplicas": spec.desired_replicas, "currentMetrics": metrics, "conditions": conditions,
    }
    if spec.last_scale_time:
        status["lastScaleTime"] = ts(spec.last_scale_time)
    return {
        "kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v2",
        "metadata": object_meta(spec.name, spec.namespace, spec.created, "HorizontalPodAutoscaler") | {"generation": 1},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": spec.target_kind, "name": spec.target},
            "minReplicas": spec.min_replicas, "maxReplicas": spec.max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": spec.cpu_target_utilization}}}],
            "behavior": {
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]},
                "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max", "policies": [
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]},
            },
        },
        "status": status,
    }


def _event_from_spec(spec: EventSpec, objects: dict[tuple[str, str | None, str], dict[str, Any]]) -> dict[str, Any]:
    namespace = spec.namespace
    if namespace is None and spec.kind not in ("Node", "Namespace"):
        candidates = [key for key in objects if key[0] == spec.kind and key[2] == spec.name]
        namespace = candidates[0][1] if candidates else "default"
    target = objects.get((spec.kind, namespace if spec.kind != "Node" else None, spec.name))
    uid = target["metadata"]["uid"] if target else None
    return build_event(kind=spec.kind, name=spec.name, namespace=namespace, reason=spec.reason,
                       message=spec.message, type_=spec.type, first=spec.first, last=spec.last, count=spec.count,
                       component=spec.component, host=spec.host, involved_uid=uid, api=spec.api)


# ---------------------------------------------------------------- images


def _file_entry(spec: FileSpec | tuple[str, Any]) -> FileEntry:
    if isinstance(spec, tuple):
        path, size = spec
        return FileEntry(path=path.strip("/").removeprefix("./"), size_bytes=parse_bytes(size))
    default_mode = 0o755 if spec.kind == "dir" else 0o644
    return FileEntry(path=spec.path.strip("/").removeprefix("./"), size_bytes=parse_bytes(spec.size),
                     kind=spec.kind, mode=spec.mode if spec.mode is not None else default_mode,
                     link_target=spec.link_target)


def _with_parent_dirs(files: list[FileEntry]) -> tuple[FileEntry, ...]:
    """Tar order: each directory once, before the first entry below it, as `docker save` writes layers."""
    out: list[FileEntry] = []
    seen: set[str] = set()
    for entry in files:
        parts = entry.path.split("/")
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            if directory not in seen:
                seen.add(directory)
                out.append(FileEntry(path=directory, size_bytes=0, kind="dir", mode=0o755))
        if entry.kind == "dir":
            if entry.path in seen:
                continue
            seen.add(entry.path)
        out.append(entry)
    return tuple(out)


def build_image(spec: ImageSpec) -> ImageEvidence:
    layers, layer_files = [], {}
    for index, layer in enumerate(spec.layers):
        files = [_file_entry(f) for f in layer.files]
        file_total = sum(f.size_bytes for f in files)
        size = parse_bytes(layer.size) if layer.size is not None else file_total
        if file_total > size:
            raise ValueError(f"images: {spec.ref}: layer {index}: files add up to {file_total} bytes, "
                             f"more than the layer's size {size}")
        digest = layer.digest or "sha256:" + hashlib.sha256(f"{spec.ref}/layer/{index}".encode()).hexdigest()
        layers.append(LayerRef(index=index, digest=digest, size_bytes=size, compressed=False, diff_id=digest,
                               partial_listing=file_total < size))
        layer_files[digest] = _with_parent_dirs(files)
    config = spec.config
    manifest = ImageManifest(
        ref=spec.ref,
        digest=spec.digest or "sha256:" + hashlib.sha256(f"{spec.ref}/manifest".encode()).hexdigest(),
        config=ImageConfig(
            user=config.user, entrypoint=tuple(config.entrypoint) if config.entrypoint is not None else None,
            cmd=tuple(config.cmd) if config.cmd is not None else None, env=tuple(config.env),
            working_dir=config.working_dir, labels=dict(config.labels),
            healthcheck=tuple(config.healthcheck) if config.healthcheck is not None else None,
            exposed_ports=tuple(config.exposed_ports),
        ),
        history=tuple(HistoryEntry(created_by=h.created_by, created=h.created, empty_layer=h.empty_layer,
                                   comment=h.comment) for h in spec.history),
        layers=tuple(layers), architecture=spec.architecture, os=spec.os, created=spec.created,
    )
    return ImageEvidence(ref=spec.ref, manifest=manifest, layer_files=layer_files, dockerfile=spec.dockerfile,
                         dockerignore=spec.dockerignore, layer_compression=spec.layer_compression)


# ---------------------------------------------------------------- the whole scenario


def _namespace(name: str, created: datetime) -> dict[str, Any]:
    meta = object_meta(name, None, created, "Namespace", labels={"kubernetes.io/metadata.name": name})
    return {"kind": "Namespace", "apiVersion": "v1", "metadata": meta,
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


_RAW_TARGETS = {"Node": "nodes", "Namespace": "namespaces", "Pod": "pods", "Event": "events",
                "Deployment": "deployments", "ReplicaSet": "replicasets", "HorizontalPodAutoscaler": "hpas",
                "Job": "jobs", "CronJob": "cronjobs", "DaemonSet": "daemonsets", "StatefulSet": "statefulsets",
                "ControllerRevision": "controllerrevisions", "PriorityClass": "priorityclasses"}


def expand(spec: ScenarioFile) -> Scenario:
    now = spec.now
    images = {}
    for image in spec.images:
        if image.ref in images:
            raise ValueError(f"images: {image.ref} is listed twice")
        images[image.ref] = build_image(image)
    image_sizes = {ref: ev.manifest.size_bytes for ref, ev in images.items()}

    node_specs = _expand_node_specs(spec.nodes)
    names = [n.name for n in node_specs]
    if len(set(names)) != len(names):
        raise ValueError("nodes: node names repeat")
    image_digests = {ref: ev.manifest.digest or "" for ref, ev in images.items()}
    nodes = [build_node(n, now=now, image_sizes=image_sizes, image_digests=image_digests) for n in node_specs]

    scenario = Scenario(
        name=spec.name, description=spec.description, now=now, server_version=spec.server_version,
        resource_version=spec.resource_version, latency_ms=spec.latency_ms, user=spec.rbac.user,
        forbidden=tuple(Forbidden(f.verb, f.resource, f.namespace) for f in spec.rbac.forbidden),
        incident=spec.incident, nodes=nodes, images=images,
        unavailable_summaries=frozenset(n.name for n in node_specs if n.summary_unavailable or n.ready == "Unknown"),
    )
    earliest = min([n.created for n in node_specs] + [d.created for d in spec.deployments] + [now])
    known_nodes = set(names)
    builder = PodBuilder(now=now, image_digests=image_digests, priorities=Priorities(spec.priority_classes))
    scenario.priorityclasses.extend(_priority_class(p, earliest) for p in spec.priority_classes)
    for dep in spec.deployments:
        workload = _Workload(dep, now, builder)
        by_revision, pod_events = workload.pods()
        for pods in by_revision.values():
            for pod in pods:
                node = pod["spec"].get("nodeName")
                if node and node not in known_nodes:
                    raise ValueError(f"deployments: {dep.name}: a pod is placed on unknown node {node!r}")
                scenario.pods.append(pod)
        scenario.replicasets.extend(workload.replicasets(by_revision))
        scenario.deployments.append(workload.deployment(by_revision))
        scenario.events.extend(pod_events)
    scenario.hpas.extend(build_hpa(h, now) for h in spec.hpas)
    workloads = WorkloadObjects()
    for workload_spec in spec.workloads:
        expand_workload(workload_spec, builder, workloads)
    for pod in workloads.pods:
        node = pod["spec"].get("nodeName")
        if node and node not in known_nodes:
            raise ValueError(f"workloads: pod {pod['metadata']['name']} is placed on unknown node {node!r}")
    scenario.pods.extend(workloads.pods)
    scenario.events.extend(workloads.events)
    scenario.jobs.extend(workloads.jobs)
    scenario.cronjobs.extend(workloads.cronjobs)
    scenario.daemonsets.extend(workloads.daemonsets)
    scenario.statefulsets.extend(workloads.statefulsets)
    scenario.controllerrevisions.extend(workloads.controllerrevisions)

    for index, raw in enumerate(spec.raw):
        kind = raw.get("kind")
        if kind not in _RAW_TARGETS:
            raise ValueError(f"raw.{index}: kind {kind!r} is not served (one of {', '.join(_RAW_TARGETS)})")
        meta = raw.get("metadata")
        if not isinstance(meta, dict) or not meta.get("name"):
            raise ValueError(f"raw.{index}: a {kind} needs metadata.name")
        if kind not in ("Node", "Namespace", "PriorityClass") and not meta.get("namespace"):
            raise ValueError(f"raw.{index}: a {kind} needs metadata.namespace")
        obj = dict(raw)
        obj.setdefault("apiVersion", API_VERSIONS[kind])
        if kind in ("Pod", "Node"):
            obj.setdefault("spec", {})
            obj.setdefault("status", {})
        getattr(scenario, _RAW_TARGETS[kind]).append(obj)

    objects = {}
    for collection in (scenario.nodes, scenario.pods, scenario.deployments, scenario.replicasets, scenario.hpas,
                       scenario.jobs, scenario.cronjobs, scenario.daemonsets, scenario.statefulsets):
        for obj in collection:
            meta = obj["metadata"]
            objects[(obj["kind"], meta.get("namespace"), meta["name"])] = obj
    scenario.events.extend(_event_from_spec(e, objects) for e in spec.events)
    scenario.events.sort(key=lambda e: (_last_seen(e), e["metadata"]["name"]))

    namespaces = set(spec.namespaces) | {"default", "kube-system"}
    for collection in (scenario.pods, scenario.deployments, scenario.replicasets, scenario.hpas, scenario.events,
                       scenario.jobs, scenario.cronjobs, scenario.daemonsets, scenario.statefulsets):
        namespaces.update(o["metadata"]["namespace"] for o in collection if o["metadata"].get("namespace"))
    existing = {n["metadata"]["name"] for n in scenario.namespaces}
    scenario.namespaces.extend(_namespace(n, earliest) for n in sorted(namespaces - existing))

    pods_by_node: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pod in scenario.pods:
        if pod["spec"].get("nodeName") and pod["status"].get("phase") in ("Running", "Pending"):
            pods_by_node[pod["spec"]["nodeName"]].append(pod)
    for node_spec in node_specs:
        scenario.summaries[node_spec.name] = build_summary(node_spec, pods_by_node.get(node_spec.name, []), now=now,
                                                           stats=builder.stats)
    return scenario


def _last_seen(event: dict[str, Any]) -> str:
    """When an event was last seen, in one sortable form for both of the recorders' shapes."""
    if event.get("lastTimestamp"):
        return str(event["lastTimestamp"])
    seen = (event.get("series") or {}).get("lastObservedTime") or event.get("eventTime") or ""
    return str(seen)[:19] + "Z" if seen else ""


def _priority_class(spec: PriorityClassSpec, created: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "PriorityClass", "apiVersion": "scheduling.k8s.io/v1",
        "metadata": object_meta(spec.name, None, spec.created or created, "PriorityClass", generation=1),
        "value": spec.value, "preemptionPolicy": spec.preemption_policy,
    }
    if spec.global_default:
        out["globalDefault"] = True
    if spec.description:
        out["description"] = spec.description
    return out
