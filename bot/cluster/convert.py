"""Kubernetes API JSON -> our snapshot types. Pure functions over the wire format, no SDK.

The reader asks the official client for raw bodies (`_preload_content=False`) and converts them here:
the SDK's model deserialisation is the slowest part of a large list, and working on the documented JSON
keeps these conversions testable on real API responses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.cluster.snapshots import (
    Condition,
    ControllerRevisionSnapshot,
    ContainerSnapshot,
    ContainerStats,
    DeploymentSnapshot,
    EventSnapshot,
    FsStats,
    HpaSnapshot,
    NodeFsSummary,
    NodeImage,
    NodeSnapshot,
    OwnerRef,
    PodSnapshot,
    PodStats,
    Probe,
    ReplicaSetSnapshot,
    TerminatedState,
    VolumeSnapshot,
    VolumeStats,
    WorkloadSnapshot,
)

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"

Json = Mapping[str, Any]


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 (`2024-05-14T02:38:03Z`, with or without fractions/offset) -> aware UTC; None if absent."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _revision(annotations: Mapping[str, str]) -> int | None:
    return _int(annotations.get(REVISION))


def _revision_history(annotations: Mapping[str, str]) -> tuple[int, ...]:
    raw = annotations.get(REVISION_HISTORY) or ""
    return tuple(n for n in (_int(part.strip()) for part in raw.split(",")) if n is not None)


def _meta(obj: Json) -> Json:
    return obj.get("metadata") or {}


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def condition(raw: Json) -> Condition:
    return Condition(
        type=str(raw.get("type", "")),
        status=str(raw.get("status", "Unknown")),
        reason=raw.get("reason") or None,
        message=raw.get("message") or None,
        last_transition=parse_time(raw.get("lastTransitionTime")),
        last_heartbeat=parse_time(raw.get("lastHeartbeatTime") or raw.get("lastUpdateTime")),
    )


def _conditions(status: Json) -> tuple[Condition, ...]:
    return tuple(condition(c) for c in status.get("conditions") or ())


def owner_refs(meta: Json) -> tuple[OwnerRef, ...]:
    return tuple(
        OwnerRef(kind=str(o.get("kind", "")), name=str(o.get("name", "")), uid=o.get("uid"),
                 controller=bool(o.get("controller", False)), api_version=o.get("apiVersion") or None)
        for o in meta.get("ownerReferences") or ()
    )


# ---------------------------------------------------------------- nodes


def node(obj: Json) -> NodeSnapshot:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    return NodeSnapshot(
        name=str(meta.get("name", "")),
        labels=_str_map(meta.get("labels")),
        unschedulable=bool(spec.get("unschedulable", False)),
        conditions=_conditions(status),
        images=tuple(
            NodeImage(names=tuple(i.get("names") or ()), size_bytes=_int(i.get("sizeBytes")) or 0)
            for i in status.get("images") or ()
        ),
        created_at=parse_time(meta.get("creationTimestamp")),
        capacity=_str_map(status.get("capacity")),
        allocatable=_str_map(status.get("allocatable")),
        taints=tuple(dict(t) for t in spec.get("taints") or ()),
        platform=_platform(status.get("nodeInfo") or {}, _str_map(meta.get("labels"))),
    )


def _platform(info: Json, labels: Mapping[str, str]) -> str | None:
    """The node's os/architecture, as the kubelet reports it, else as its well-known labels say."""
    os_name = info.get("operatingSystem") or labels.get("kubernetes.io/os")
    arch = info.get("architecture") or labels.get("kubernetes.io/arch")
    return f"{os_name}/{arch}" if isinstance(os_name, str) and isinstance(arch, str) and os_name and arch else None


def fs_stats(raw: Json | None) -> FsStats | None:
    if not raw:
        return None
    return FsStats(
        capacity_bytes=_int(raw.get("capacityBytes")),
        available_bytes=_int(raw.get("availableBytes")),
        used_bytes=_int(raw.get("usedBytes")),
        inodes=_int(raw.get("inodes")),
        inodes_free=_int(raw.get("inodesFree")),
        inodes_used=_int(raw.get("inodesUsed")),
    )


def _used(raw: Any) -> int | None:
    return _int(raw.get("usedBytes")) if isinstance(raw, dict) else None


def container_stats(raw: Json) -> ContainerStats:
    memory = raw.get("memory") or {}
    return ContainerStats(
        name=str(raw.get("name", "")),
        memory_working_set_bytes=_int(memory.get("workingSetBytes")),
        rootfs_used_bytes=_used(raw.get("rootfs")),
        logs_used_bytes=_used(raw.get("logs")),
    )


def pod_stats(raw: Json) -> PodStats:
    """One `pods[]` entry of the Summary (kubelet's `statsapi.PodStats`)."""
    ref = raw.get("podRef") or {}
    memory = raw.get("memory") or {}
    return PodStats(
        name=str(ref.get("name", "")),
        namespace=str(ref.get("namespace", "")),
        uid=ref.get("uid") or None,
        memory_working_set_bytes=_int(memory.get("workingSetBytes")),
        ephemeral_storage_used_bytes=_used(raw.get("ephemeral-storage")),
        containers=tuple(container_stats(c) for c in raw.get("containers") or () if isinstance(c, dict)),
        volumes=tuple(VolumeStats(name=str(v.get("name", "")), used_bytes=_int(v.get("usedBytes")))
                      for v in raw.get("volume") or () if isinstance(v, dict)),
        process_count=_int(process.get("process_count")) if isinstance(process := raw.get("process_stats"), dict)
        else None,
    )


def node_fs_summary(name: str, summary: Json, *, pods: bool = False) -> NodeFsSummary:
    """The kubelet Summary (`/stats/summary`): nodefs = node.fs, imagefs = node.runtime.imageFs; with
    `pods`, the per-pod stats too (an absent `pods` list is an empty one: a node running nothing)."""
    node_part = summary.get("node") or {}
    runtime = node_part.get("runtime") or {}
    memory = node_part.get("memory") or {}
    rlimit = node_part.get("rlimit") or {}
    return NodeFsSummary(
        node=str(node_part.get("nodeName") or name),
        nodefs=fs_stats(node_part.get("fs")),
        imagefs=fs_stats(runtime.get("imageFs")),
        container_fs=fs_stats(runtime.get("containerFs")),
        memory_working_set_bytes=_int(memory.get("workingSetBytes")),
        memory_available_bytes=_int(memory.get("availableBytes")),
        pods=tuple(pod_stats(p) for p in summary.get("pods") or () if isinstance(p, dict)) if pods else None,
        processes=_int(rlimit.get("curproc")),
        max_pids=_int(rlimit.get("maxpid")),
    )


# The kubelet encodes `node` first (Summary's field order), compact or indented.
_SUMMARY_HEAD = re.compile(r'\s*\{\s*"node"\s*:\s*')
_DECODER = json.JSONDecoder()


def node_fs_summary_body(name: str, body: bytes | str, *, pods: bool = False) -> NodeFsSummary:
    """The kubelet Summary from its raw body. Without `pods`, only the `node` object is parsed when it
    comes first: the per-pod stats after it, most of the body on a busy node, are never read. Anything
    else is parsed whole. Raises ValueError when the body is not a JSON object (or its `node` is not one,
    or its `pods` not a list)."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    head = None if pods else _SUMMARY_HEAD.match(text)
    if head is not None:
        node_part, _ = _DECODER.raw_decode(text, head.end())
        summary: Any = {"node": node_part}
    else:
        summary = json.loads(text)
    if not isinstance(summary, dict) or not isinstance(summary.get("node") or {}, dict):
        raise ValueError("a kubelet summary is a JSON object with a `node` object")
    if pods and not isinstance(summary.get("pods") or [], list):
        raise ValueError("a kubelet summary's `pods` is a list")
    return node_fs_summary(name, summary, pods=pods)


# ---------------------------------------------------------------- containers and pods


def probe(raw: Json | None) -> Probe | None:
    """A probe reduced to its kind: what a weak-probe check needs, without the SDK's shapes."""
    if not raw:
        return None
    if http := raw.get("httpGet"):
        return Probe(kind="http", detail=f"{http.get('scheme', 'HTTP').lower()} :{http.get('port', '')}"
                                         f"{http.get('path', '/')}")
    if tcp := raw.get("tcpSocket"):
        return Probe(kind="tcp", detail=f":{tcp.get('port', '')}")
    if exec_ := raw.get("exec"):
        return Probe(kind="exec", detail=" ".join(str(a) for a in exec_.get("command") or ()))
    if grpc := raw.get("grpc"):
        return Probe(kind="grpc", detail=f":{grpc.get('port', '')}")
    return Probe(kind="unknown")


def terminated(raw: Json | None) -> TerminatedState | None:
    """`state.terminated` / `lastState.terminated`, or None when the container is not in that state."""
    detail = (raw or {}).get("terminated")
    if not isinstance(detail, dict):
        return None
    return TerminatedState(
        reason=detail.get("reason") or None,
        exit_code=_int(detail.get("exitCode")),
        message=detail.get("message") or None,
        started_at=parse_time(detail.get("startedAt")),
        finished_at=parse_time(detail.get("finishedAt")),
    )


def _state(raw: Json | None) -> tuple[str | None, str | None, str | None]:
    """(state, reason, message) of a containerStatus `state` or `lastState`."""
    for name in ("waiting", "terminated", "running"):
        detail = (raw or {}).get(name)
        if detail is not None:
            return name, detail.get("reason") or None, detail.get("message") or None
    return None, None, None


def container(spec: Json, status: Json | None = None, *, kind: str = "container") -> ContainerSnapshot:
    """A container spec with its status; `kind` "init" becomes "sidecar" for `restartPolicy: Always`."""
    resources = spec.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    if kind == "init" and spec.get("restartPolicy") == "Always":
        kind = "sidecar"
    state, reason, message = _state(status.get("state")) if status else (None, None, None)
    last_state, last_reason, _ = _state(status.get("lastState")) if status else (None, None, None)
    return ContainerSnapshot(
        name=str(spec.get("name", "")),
        image=str(spec.get("image", "")),
        memory_limit=str(limits["memory"]) if limits.get("memory") is not None else None,
        memory_request=str(requests["memory"]) if requests.get("memory") is not None else None,
        readiness_probe=probe(spec.get("readinessProbe")),
        liveness_probe=probe(spec.get("livenessProbe")),
        ready=bool(status.get("ready")) if status else None,
        restart_count=_int(status.get("restartCount")) if status else None,
        state=state,
        state_reason=reason,
        state_message=message,
        last_terminated_reason=last_reason if last_state == "terminated" else None,
        image_id=(status.get("imageID") or None) if status else None,
        limits=_str_map(limits),
        requests=_str_map(requests),
        last_terminated=terminated(status.get("lastState")) if status else None,
        kind=kind,
    )


def _containers(spec: Json, statuses: list[Json] | None = None, *, key: str = "containers",
                kind: str = "container") -> tuple[ContainerSnapshot, ...]:
    by_name = {s.get("name"): s for s in statuses or ()}
    return tuple(container(c, by_name.get(c.get("name")), kind=kind) for c in spec.get(key) or ())


_VOLUME_SOURCES = ("emptyDir", "configMap", "secret", "persistentVolumeClaim", "hostPath", "projected",
                   "downwardAPI", "ephemeral", "csi", "nfs")


def volume(raw: Json) -> VolumeSnapshot:
    kind = next((k for k in _VOLUME_SOURCES if k in raw), None) or next(
        (k for k in raw if k != "name"), "unknown")
    source = raw.get("emptyDir")
    empty_dir: Json = source if isinstance(source, dict) else {}
    claim = raw.get("persistentVolumeClaim")
    return VolumeSnapshot(
        name=str(raw.get("name", "")),
        kind=kind,
        medium=empty_dir.get("medium") or None,
        size_limit=str(empty_dir["sizeLimit"]) if empty_dir.get("sizeLimit") is not None else None,
        claim=str(claim.get("claimName")) if isinstance(claim, dict) and claim.get("claimName") else None,
    )


def pod(obj: Json) -> PodSnapshot:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    return PodSnapshot(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        labels=_str_map(meta.get("labels")),
        phase=status.get("phase"),
        node_name=spec.get("nodeName") or None,
        containers=_containers(spec, status.get("containerStatuses")),
        conditions=_conditions(status),
        owners=owner_refs(meta),
        created_at=parse_time(meta.get("creationTimestamp")),
        reason=status.get("reason") or None,
        message=status.get("message") or None,
        uid=meta.get("uid") or None,
        priority=_int(spec.get("priority")),
        priority_class=spec.get("priorityClassName") or None,
        qos_class=status.get("qosClass") or None,
        init_containers=_containers(spec, status.get("initContainerStatuses"), key="initContainers", kind="init"),
        volumes=tuple(volume(v) for v in spec.get("volumes") or () if isinstance(v, dict)),
        start_time=parse_time(status.get("startTime")),
    )


# ---------------------------------------------------------------- events


_CORE_EVENT_FIELDS = {f: f for f in ("involvedObject", "message", "firstTimestamp", "lastTimestamp", "count",
                                      "source")}
# events.k8s.io/v1 names of the same core/v1 fields (the API server converts one into the other).
_EVENTS_V1_FIELDS = {"involvedObject": "regarding", "message": "note", "firstTimestamp": "deprecatedFirstTimestamp",
                     "lastTimestamp": "deprecatedLastTimestamp", "count": "deprecatedCount",
                     "source": "deprecatedSource"}


def event(obj: Json) -> EventSnapshot:
    """A core/v1 Event, or an events.k8s.io/v1 one (`regarding`, `note`, `deprecated*`). Newer writers
    leave firstTimestamp/lastTimestamp and count empty and set eventTime/series: the series count is then
    the number of occurrences, and its lastObservedTime the last one."""
    meta = _meta(obj)
    new_form = "regarding" in obj or "note" in obj
    names = _EVENTS_V1_FIELDS if new_form else _CORE_EVENT_FIELDS
    involved = obj.get(names["involvedObject"]) or {}
    series = obj.get("series") or {}
    event_time = parse_time(obj.get("eventTime"))
    first = parse_time(obj.get(names["firstTimestamp"])) or event_time
    last = (parse_time(obj.get(names["lastTimestamp"])) or parse_time(series.get("lastObservedTime"))
            or event_time or first)
    count = _int(obj.get(names["count"])) or _int(series.get("count")) or 1
    source = ((obj.get(names["source"]) or {}).get("component") or obj.get("reportingComponent")
              or obj.get("reportingController") or None)
    return EventSnapshot(
        namespace=meta.get("namespace") or involved.get("namespace") or None,
        involved_kind=str(involved.get("kind", "")),
        involved_name=str(involved.get("name", "")),
        reason=str(obj.get("reason") or ""),
        message=str(obj.get(names["message"]) or ""),
        type=str(obj.get("type") or "Normal"),
        count=count,
        first_at=first,
        last_at=last,
        source=source,
        uid=meta.get("uid"),
    )


# ---------------------------------------------------------------- workloads


def deployment(obj: Json) -> DeploymentSnapshot:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    annotations = _str_map(meta.get("annotations"))
    template_spec = (spec.get("template") or {}).get("spec") or {}
    return DeploymentSnapshot(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        labels=_str_map(meta.get("labels")),
        selector=_str_map((spec.get("selector") or {}).get("matchLabels")),
        replicas=_int(spec.get("replicas")),
        ready_replicas=_int(status.get("readyReplicas")) or 0,
        updated_replicas=_int(status.get("updatedReplicas")) or 0,
        available_replicas=_int(status.get("availableReplicas")) or 0,
        revision=_revision(annotations),
        paused=bool(spec.get("paused", False)),
        containers=_containers(template_spec),
        conditions=_conditions(status),
        annotations=annotations,
        revision_history_limit=_int(spec.get("revisionHistoryLimit")),
        created_at=parse_time(meta.get("creationTimestamp")),
        uid=meta.get("uid"),
        template=spec.get("template") or {},
        generation=_int(meta.get("generation")),
        observed_generation=_int(status.get("observedGeneration")),
        status_replicas=_int(status.get("replicas")) or 0,
    )


def replicaset(obj: Json) -> ReplicaSetSnapshot:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    annotations = _str_map(meta.get("annotations"))
    template = spec.get("template") or {}
    return ReplicaSetSnapshot(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        labels=_str_map(meta.get("labels")),
        revision=_revision(annotations),
        revision_history=_revision_history(annotations),
        replicas=_int(spec.get("replicas")),
        ready_replicas=_int(status.get("readyReplicas")) or 0,
        available_replicas=_int(status.get("availableReplicas")) or 0,
        containers=_containers(template.get("spec") or {}),
        owners=owner_refs(meta),
        created_at=parse_time(meta.get("creationTimestamp")),
        annotations=annotations,
        template=template,
    )


def hpa(obj: Json) -> HpaSnapshot:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    target = spec.get("scaleTargetRef") or {}
    return HpaSnapshot(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        target_kind=str(target.get("kind", "")),
        target_name=str(target.get("name", "")),
        min_replicas=_int(spec.get("minReplicas")),
        max_replicas=_int(spec.get("maxReplicas")) or 0,
        current_replicas=_int(status.get("currentReplicas")),
        desired_replicas=_int(status.get("desiredReplicas")),
        last_scale_time=parse_time(status.get("lastScaleTime")),
        conditions=_conditions(status),
        current_metrics=tuple(dict(m) for m in status.get("currentMetrics") or ()),
    )


def workload(obj: Json, kind: str = "") -> WorkloadSnapshot:
    """A Job, CronJob, DaemonSet or StatefulSet (a CronJob's pod template is under its jobTemplate). List
    items carry no `kind`: the caller, who knows what it listed, passes it."""
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    template = spec.get("template") or ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    template_spec = template.get("spec") or {}
    kind = str(obj.get("kind") or kind)
    # A StatefulSet wants spec.replicas (1 when unset); a DaemonSet one pod per eligible node.
    wanted = spec.get("replicas", 1) if kind == "StatefulSet" else status.get("desiredNumberScheduled")
    strategy = spec.get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    return WorkloadSnapshot(
        kind=kind,
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        labels=_str_map(meta.get("labels")),
        owners=owner_refs(meta),
        created_at=parse_time(meta.get("creationTimestamp")),
        uid=meta.get("uid") or None,
        containers=_containers(template_spec),
        priority_class=template_spec.get("priorityClassName") or None,
        selector=_str_map((spec.get("selector") or {}).get("matchLabels")),
        replicas=_int(wanted) if kind in ("StatefulSet", "DaemonSet") else None,
        ready_replicas=_int(status.get("readyReplicas", status.get("numberReady"))),
        template=dict(template),
        update_revision=status.get("updateRevision") or None,
        current_revision=status.get("currentRevision") or None,
        updated_replicas=_int(status.get("updatedReplicas", status.get("updatedNumberScheduled"))),
        update_strategy=strategy.get("type") or None,
        partition=_int(rolling.get("partition")) or 0,
        unavailable=_int(status.get("numberUnavailable")) or 0,
        max_unavailable=_int_or_percent(rolling.get("maxUnavailable")),
    )


def _int_or_percent(value: Any) -> int | str | None:
    """An IntOrString as the API holds it: a number, or a percentage such as "25%"."""
    if isinstance(value, str) and value.endswith("%"):
        return value
    return _int(value)


def controller_revision(obj: Json) -> ControllerRevisionSnapshot:
    meta, data = _meta(obj), obj.get("data") or {}
    template = dict((data.get("spec") or {}).get("template") or {})
    template.pop("$patch", None)  # the strategic-merge directive, not part of the template
    return ControllerRevisionSnapshot(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        labels=_str_map(meta.get("labels")),
        revision=_int(obj.get("revision")) or 0,
        owners=owner_refs(meta),
        created_at=parse_time(meta.get("creationTimestamp")),
        template=template,
        containers=_containers(template.get("spec") or {}),
        data=dict(data),
    )
