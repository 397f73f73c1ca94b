"""workload, for the service's pods: pods-not-ready, crashloop, image-pull-failing, image-pull-slow,
evictions, registry-errors, no-memory-limit, weak-probe.

Pod findings are grouped (one finding for "7 pods crash-looping", with the pods in the evidence), so
a 200-replica Deployment gives a readable report.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from bot.checks import facts, platform
from bot.checks.container_state import PULL_FAILURES, RESTART_THRESHOLD, crash_looping
from bot.checks.pulls import SLOW_PULL_SECONDS, parse_pulled, platform_missing, registry_error_kind, registry_host
from bot.cluster.snapshots import ContainerSnapshot, EventSnapshot, PodSnapshot
from bot.domain import Finding, Severity
from bot.units import plural
from bot.checks.context import CheckContext

RULES = (
    "pods-not-ready",
    "crashloop",
    "image-pull-failing",
    "image-pull-slow",
    "evictions",
    "registry-errors",
    "no-memory-limit",
    "weak-probe",
)
MAX_LISTED = 20


class WorkloadParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    restart_threshold: int = Field(
        default=RESTART_THRESHOLD, ge=1,
        description="Restarts that count as a crash loop without CrashLoopBackOff (the rollback decision counts "
        "with the default: keep it unless the finding should list more or fewer pods than the decision).")
    slow_pull_seconds: float = Field(default=SLOW_PULL_SECONDS, gt=0, description="A pull slower than this is slow.")
    tcp_probe_is_weak: bool = Field(default=True, description="Report readiness probes that only open a TCP socket.")


def run(ctx: CheckContext, params: WorkloadParams) -> list[Finding]:
    dep = facts.workload(ctx)
    pods = facts.pods(ctx)
    events = facts.readable_service_events(ctx, "workload")
    where = f"{ctx.target.namespace}/{ctx.target.name}"
    out: list[Finding] = []
    out += _not_ready(where, dep.replicas, pods, events)
    out += _crashloop(ctx, where, pods, events, params)
    out += _pull_failing(ctx, where, pods, events)
    out += _pull_slow(where, events, params)
    out += _evictions(where, pods, events)
    out += _registry_errors(where, pods, events)
    out += _memory_limits(where, dep.containers)
    out += _probes(where, dep.containers, params)
    return out


# At most this share of the wanted pods not ready is a small shortfall (1 of 6: LOW; 1 of 4: MEDIUM).
SMALL_SHORTFALL = 0.2


def _waiting(pod: PodSnapshot) -> list[ContainerSnapshot]:
    return [c for c in pod.containers if c.state == "waiting" and c.state_reason]


def _not_ready(where: str, desired: int | None, pods: list[PodSnapshot], events: list[EventSnapshot]) -> list[Finding]:
    live = [p for p in pods if p.phase not in ("Succeeded", "Failed")]
    bad = [p for p in live if not p.ready]
    if not bad:
        return []
    reasons: Counter[str] = Counter()
    for pod in bad:
        waiting = _waiting(pod)
        if waiting:
            reasons[waiting[0].state_reason] += 1  # type: ignore[index]
        else:
            reasons["Running but not ready" if pod.phase == "Running" else (pod.phase or "Unknown")] += 1
    ready = len(live) - len(bad)
    wanted = desired or len(live)
    if ready == 0:
        severity = Severity.CRITICAL
    elif ready * 2 < wanted:
        severity = Severity.HIGH
    elif (wanted - ready) <= wanted * SMALL_SHORTFALL:
        severity = Severity.LOW  # one pod of many short: capacity is mostly there, worth a look, not a page
    else:
        severity = Severity.MEDIUM
    why = ", ".join(f"{n} {r}" for r, n in reasons.most_common())
    # Why the kubelet cannot start the containers, in its words ("couldn't find key ... in Secret ...").
    said = next((c.state_message for p in bad for c in _waiting(p)
                 if c.state_reason == reasons.most_common(1)[0][0] and c.state_message), None)
    return [
        Finding(
            rule="pods-not-ready",
            severity=severity,
            title=f"{len(bad)} of {len(live)} pods of {where} are not ready ({why})",
            evidence={
                "count": len(bad),
                "pods_total": len(live),
                "ready": ready,
                "desired": desired,
                "reasons": dict(reasons),
                "pods": sorted(p.name for p in bad)[:MAX_LISTED],
                **({"waiting_message": " ".join(said.split())[:300]} if said else {}),
                **scheduler_says(bad, events),
                **_kubelet_says(bad, events),
            },
        )
    ]


# The scheduler's words when a pod's volumes, not the nodes' room, keep it from a node: a zonal disk whose
# zone has no node left ("volume node affinity conflict"), or a claim with no volume to bind.
VOLUME_BOUND = ("volume node affinity conflict", "unbound immediate persistentvolumeclaims",
                "didn't find available persistent volumes to bind", "persistentvolumeclaim")


def scheduler_says(bad: list[PodSnapshot], events: list[EventSnapshot]) -> dict[str, object]:
    """Why Pending pods are not placed, in the scheduler's own words (its latest FailedScheduling event for
    one of them): "0/6 nodes are available: ... untolerated taint {gpu: }" names the taint or the shortage."""
    pending = {p.name for p in bad if p.phase == "Pending"}
    said = [e for e in events if e.reason == "FailedScheduling" and e.involved_kind == "Pod" and e.involved_name in pending]
    if not said:
        # The events expire after an hour (or cannot be read); the pod's PodScheduled condition keeps the
        # scheduler's last word for as long as the pod waits.
        conditions = [c for p in bad if p.phase == "Pending" for c in p.conditions
                      if c.type == "PodScheduled" and c.status == "False" and c.message]
        if not conditions:
            return {}
        latest_condition = max(conditions, key=lambda c: c.last_transition or datetime.min.replace(tzinfo=UTC))
        return _with_claims(" ".join((latest_condition.message or "").split())[:300], bad)
    latest = max(said, key=lambda e: e.last_at or e.first_at or datetime.min.replace(tzinfo=UTC))
    return _with_claims(" ".join(latest.message.split())[:300], bad)


def _with_claims(message: str, bad: list[PodSnapshot]) -> dict[str, object]:
    """The scheduler's message, and when it blames volumes, the Pending pods' PersistentVolumeClaims (a
    StatefulSet's `<template>-<pod>`): the disk that pins the pod, which the message does not name."""
    out: dict[str, object] = {"scheduler_message": message}
    if any(words in message.lower() for words in VOLUME_BOUND):
        claims = sorted({v.claim for p in bad if p.phase == "Pending" for v in p.volumes if v.claim})
        if claims:
            out["claims"] = claims
    return out


def _liveness_kills(pod_names: set[str], events: list[EventSnapshot]) -> dict[str, object]:
    """How often the kubelet killed these pods' containers for failing their liveness probe, and the probe's
    last failure in its words ("...: context deadline exceeded"): a restart the kubelet chose, not a crash."""
    mine = [e for e in events if e.involved_kind == "Pod" and e.involved_name in pod_names]
    kills = sum(e.count for e in mine if e.reason == "Killing" and "liveness probe" in e.message.lower())
    if not kills:
        return {}
    failed = [e for e in mine if e.reason == "Unhealthy" and e.message.lower().startswith("liveness probe")]
    latest = max(failed, key=lambda e: e.last_at or e.first_at or datetime.min.replace(tzinfo=UTC), default=None)
    return {"liveness_kills": kills} | ({"liveness_message": " ".join(latest.message.split())[:300]} if latest else {})


# What the kubelet reports when it cannot start a placed pod at all (no container of it has run).
POD_START_FAILURES = ("FailedCreatePodSandBox", "FailedMount", "FailedAttachVolume")


def _kubelet_says(bad: list[PodSnapshot], events: list[EventSnapshot]) -> dict[str, object]:
    """Why placed pods never start, in the kubelet's words (its latest such Warning for one of them), with
    the nodes it happens on: "failed to setup network for sandbox ... failed to assign an IP address"."""
    placed = {p.name: p.node_name for p in bad if p.phase == "Pending" and p.node_name}
    said = [e for e in events if e.reason in POD_START_FAILURES and e.involved_kind == "Pod" and e.involved_name in placed]
    if not said:
        return {}
    latest = max(said, key=lambda e: e.last_at or e.first_at or datetime.min.replace(tzinfo=UTC))
    nodes = sorted({str(placed[e.involved_name]) for e in said if e.reason == latest.reason})
    return {"kubelet_reason": latest.reason, "kubelet_message": " ".join(latest.message.split())[:300],
            "kubelet_nodes": nodes}


def _crashloop(ctx: CheckContext, where: str, pods: list[PodSnapshot], events: list[EventSnapshot],
               params: WorkloadParams) -> list[Finding]:
    looping: list[tuple[PodSnapshot, ContainerSnapshot]] = [
        (p, c)
        for p in pods
        for c in p.containers
        if crash_looping(c, restart_threshold=params.restart_threshold)
    ]
    if not looping:
        return []
    restarts = max(c.restart_count or 0 for _, c in looping)
    last = Counter(c.last_terminated_reason for _, c in looping if c.last_terminated_reason)
    message = next((c.state_message for _, c in looping if c.state_message), None)
    # The container's own last words (terminationMessagePath), when it left any: why it exits.
    exit_message = next((c.last_terminated.message.strip() for _, c in looping
                         if c.last_terminated is not None and c.last_terminated.message), None)
    exit_codes = Counter(c.last_terminated.exit_code for _, c in looping
                         if c.last_terminated is not None and c.last_terminated.exit_code is not None)
    containers = sorted({c.name for _, c in looping})
    exit_reason = f"; last exit {last.most_common(1)[0][0]}" if last else ""
    oom = "OOMKilled" in last
    kills = _liveness_kills({p.name for p, _ in looping}, events)
    looping_pods = {p.name: p for p, _ in looping}
    # Every pod down at once is an outage; a slow leak's pods serve between their kills.
    outage = len(looping_pods) == len(pods) and not any(p.ready for p in looping_pods.values())
    # Without CrashLoopBackOff the containers run long between exits (a slow leak): they restart, not loop.
    how = "crash-looping" if any(c.state_reason == "CrashLoopBackOff" for _, c in looping) else "restarting again and again"
    # Killed for memory or by the kubelet's probe, the binary ran: only other exits may be one that cannot run.
    arch = platform.of_crash_loop(ctx, looping, events) if not oom and not kills else None
    arch_evidence = arch.evidence() if arch is not None else {}
    return [
        Finding(
            rule="crashloop",
            severity=Severity.CRITICAL if outage else Severity.HIGH,
            title=f"{plural(len(looping_pods), 'pod')} of {where} {'is' if len(looping_pods) == 1 else 'are'} {how} (container "
            f"{', '.join(containers)}, up to {restarts} restarts{exit_reason})",
            evidence={
                "pods": sorted({p.name for p, _ in looping})[:MAX_LISTED],
                "containers": containers,
                "restarts": restarts,
                "last_terminated_reasons": dict(last),
                "last_exit_codes": {str(code): n for code, n in exit_codes.items()},
                "exit_message": exit_message,
                "message": message,
                **kills,
                **arch_evidence,
            },
            remediation=(
                _platform_advice(arch)
                if arch is not None and arch_evidence
                else "The container is killed for memory: raise its limit or fix the leak."
                if oom
                else "The kubelet restarts containers that fail their liveness probe: compare the probe's "
                "timeoutSeconds and failureThreshold with how long the endpoint takes under load."
                if kills
                else "Read the previous container's logs (kubectl logs --previous); a bad config or a missing "
                "secret shows there. If it started with the last rollout, roll back."
            ),
        )
    ]


def _platform_advice(arch: platform.Platforms) -> str:
    nodes = arch.nodes_text
    target = arch.node_platforms[0] if len(arch.node_platforms) == 1 else "the nodes' platform"
    rebuild = (f"rebuild it for {target} (docker buildx build --platform {target}) or publish a multi-arch image "
               "that includes it; roll back meanwhile.")
    if arch.image_platform:
        return f"The image is built for {arch.image_platform} and the nodes run {nodes}: {rebuild}"
    # "exec format error" without the image's platform: another architecture, or a script the kernel cannot
    # run (no #! line) — the image's config says which.
    return (f"The kernel refuses to run the entrypoint (exec format error): a binary built for another CPU "
            f"architecture than the nodes' ({nodes}), or a script without a #! line. Check the image's "
            f"platform (docker image inspect --format '{{{{.Os}}}}/{{{{.Architecture}}}}'), then {rebuild}")


def _pull_failing(ctx: CheckContext, where: str, pods: list[PodSnapshot], events: list[EventSnapshot]) -> list[Finding]:
    failing = [(p, c) for p in pods for c in _waiting(p) if c.state_reason in PULL_FAILURES]
    failed_events = [e for e in events if e.reason in ("Failed", "ErrImagePull") and "pull" in e.message.lower()]
    if not failing and not failed_events:
        return []
    reasons = Counter(c.state_reason for _, c in failing)
    # The failed pull's event says why ("not found", "unauthorized", a 503); "Back-off pulling image" does not.
    waiting = next((c.state_message for _, c in failing if c.state_message), None)
    sample = failed_events[-1].message if failed_events and (waiting is None or waiting.startswith("Back-off")) \
        else waiting
    images = sorted({c.image for _, c in failing})
    pods_named = sorted({p.name for p, _ in failing} | {e.involved_name for e in failed_events if e.involved_kind == "Pod"})
    why = ", ".join(f"{n} {r}" for r, n in reasons.most_common()) or "pull failures in events"
    evidence: dict[str, object] = {
        "pods": pods_named[:MAX_LISTED],
        "count": len(pods_named),
        "reasons": dict(reasons),
        "images": images,
        "failed_events": sum(e.count for e in failed_events),
        "message": sample,
    }
    title = f"{plural(len(pods_named), 'pod')} of {where} cannot pull {'its' if len(pods_named) == 1 else 'their'} image ({why})"
    remediation = None
    missing = _platform_missing(ctx, failing, [sample or ""] + [e.message for e in failed_events])
    if missing is not None:
        # The tag exists and answers: its index lists other platforms only. The image, not the registry.
        evidence["missing_platform"] = missing
        title += f": the image has no {missing} variant"
        image = images[0] if len(images) == 1 else "the image"
        remediation = (f"{image} is an index without a {missing} image (its platforms: docker buildx imagetools "
                       f"inspect {image}): publish it for {missing} (docker buildx build --platform {missing},...), "
                       "or roll back to a revision whose image has one.")
    return [Finding(rule="image-pull-failing", severity=Severity.HIGH, title=title, evidence=evidence,
                    remediation=remediation)]


def _platform_missing(ctx: CheckContext, failing: list[tuple[PodSnapshot, ContainerSnapshot]],
                      messages: list[str]) -> str | None:
    """The platform the image lacks: as the runtime names it (Docker, CRI-O), else (containerd says only
    "no match for platform") the platform of the nodes the pulls failed on."""
    found = next((m for message in messages if (m := platform_missing(message)) is not None), None)
    if found is None:
        return None
    if found.platform:
        return found.platform
    nodes = platform.nodes_platforms(ctx, {p.node_name for p, _ in failing if p.node_name})
    return "/".join(nodes) if nodes else "the nodes' platform"


def _pull_slow(where: str, events: list[EventSnapshot], params: WorkloadParams) -> list[Finding]:
    pulls = [r for e in events if e.reason == "Pulled" for r in [parse_pulled(e.message)] if r and not r.cached]
    durations = [r.seconds for r in pulls if r.seconds is not None]
    slow = [r for r in pulls if r.seconds is not None and r.seconds >= params.slow_pull_seconds]
    if not slow:
        return []
    sizes = [r.size_bytes for r in slow if r.size_bytes]
    worst = max(slow, key=lambda r: r.seconds or 0)
    throughput = None
    if worst.size_bytes and worst.seconds:
        throughput = worst.size_bytes / worst.seconds
    size_text = f" of {facts.human_bytes(max(sizes))}" if sizes else ""
    return [
        Finding(
            rule="image-pull-slow",
            severity=Severity.MEDIUM,
            title=f"{len(slow)} of {len(durations)} image pulls for {where} took over {params.slow_pull_seconds:g}s "
            f"(slowest {facts.human_duration(worst.seconds or 0)}{size_text}, median "
            f"{facts.human_duration(statistics.median(durations))})",
            evidence={
                "count": len(slow),
                "pulls": len(durations),
                "slowest_seconds": worst.seconds,
                "median_seconds": statistics.median(durations),
                "image": worst.image,
                "size_bytes": max(sizes) if sizes else None,
                "throughput_bytes_per_second": round(throughput) if throughput else None,
                "threshold_seconds": params.slow_pull_seconds,
            },
            remediation="Shrink the image, or pre-pull it on the nodes; every new pod waits this long.",
        )
    ]


def _evictions(where: str, pods: list[PodSnapshot], events: list[EventSnapshot]) -> list[Finding]:
    evicted_pods = {p.name: p for p in pods if p.reason == "Evicted"}
    evicted_events = [e for e in events if e.reason == "Evicted"]
    names = sorted(set(evicted_pods) | {e.involved_name for e in evicted_events})
    if not names:
        return []
    by_node: Counter[str] = Counter(p.node_name or "?" for p in evicted_pods.values())
    messages = Counter(
        [p.message for p in evicted_pods.values() if p.message] + [e.message for e in evicted_events]
    )
    resource = next((m.strip() for m, _ in messages.most_common()), None)
    return [
        Finding(
            rule="evictions",
            severity=Severity.HIGH,
            title=f"{plural(len(names), 'pod')} of {where} {'was' if len(names) == 1 else 'were'} evicted"
            + (f": {resource}" if resource else ""),
            evidence={
                "count": len(names),
                "pods": names[:MAX_LISTED],
                "nodes": dict(by_node),
                "messages": dict(messages.most_common(3)),
            },
        )
    ]


def _registry_errors(where: str, pods: list[PodSnapshot], events: list[EventSnapshot]) -> list[Finding]:
    messages: list[tuple[str, int]] = [
        (c.state_message, 1) for p in pods for c in _waiting(p) if c.state_reason in PULL_FAILURES and c.state_message
    ]
    messages += [(e.message, e.count) for e in events if e.type == "Warning" and "pull" in e.message.lower()]
    kinds: Counter[str] = Counter()
    hosts: Counter[str] = Counter()
    samples: dict[str, str] = {}
    for message, count in messages:
        kind = registry_error_kind(message)
        if kind is None:
            continue
        kinds[kind] += count
        host = registry_host(message)
        if host:
            hosts[host] += count
        samples.setdefault(kind, message)
    if not kinds:
        return []
    total = sum(kinds.values())
    host_text = f" {', '.join(hosts)}" if hosts else ""
    per_kind = ", ".join(f"{n}× {k}" for k, n in kinds.most_common())
    return [
        Finding(
            rule="registry-errors",
            severity=Severity.CRITICAL if total >= 20 else Severity.HIGH,
            title=f"The registry{host_text} is failing pulls for {where}: {per_kind}",
            evidence={"count": total, "errors": dict(kinds), "registries": dict(hosts), "samples": samples},
            # Down for everyone or overloaded by this service's own pulls: which one, blast-radius and
            # pull-pressure say; the advice for each lives with them.
            remediation="Restore the registry, or point the nodes at a mirror; if this service's own pulls "
            "overload it (pull-pressure), stop them first.",
        )
    ]


def _memory_limits(where: str, containers: tuple[ContainerSnapshot, ...]) -> list[Finding]:
    return [
        Finding(
            rule="no-memory-limit",
            severity=Severity.MEDIUM,
            title=f"Container {c.name} of {where} has no memory limit",
            evidence={"container": c.name, "memory_request": c.memory_request, "image": c.image},
            remediation="Set resources.limits.memory: under cgroups v2 a runtime without a limit sizes itself "
            "from the host's memory, gets OOM-killed and crash-loops.",
        )
        for c in containers
        if not c.memory_limit
    ]


def _probes(where: str, containers: tuple[ContainerSnapshot, ...], params: WorkloadParams) -> list[Finding]:
    out = []
    for c in containers:
        probe = c.readiness_probe
        if probe is None:
            title, kind = f"Container {c.name} of {where} has no readiness probe", None
        elif probe.kind == "tcp" and params.tcp_probe_is_weak:
            title, kind = f"Container {c.name} of {where} has only a TCP readiness probe", "tcp"
        else:
            continue
        out.append(
            Finding(
                rule="weak-probe",
                severity=Severity.LOW,
                title=title,
                evidence={
                    "container": c.name,
                    "readiness_probe": kind,
                    "detail": probe.detail if probe else None,
                    "liveness_probe": c.liveness_probe.kind if c.liveness_probe else None,
                },
                remediation="Use an HTTP (or exec/gRPC) readiness probe that exercises the app: a TCP check "
                "passes while the process inside is stuck.",
            )
        )
    return out
