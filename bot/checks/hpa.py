"""hpa: hpa-scaling and pull-pressure.

pull-pressure is the amplification that takes a registry down: every pod scheduled on a node without
the image pulls all of it, and an autoscaler adding pods multiplies that. It is computed as
image size × pods that still have to pull it (pending, or on a node whose `status.images` lacks it),
plus the pods the HPA wants but has not created yet, and what scaling to max would add.

Pods that pull are not a pressure by themselves: a drained or lost node's pods are replaced and pull their
image once, which registries are built for. The finding is made only when the pulls are a pressure: a storm
(many concurrent pulls of a large image, or more bytes than `pull_pressure_high_bytes`), or pulls of this
image that already strain (failing, slow, or waiting for the node's pull slot, or the registry erroring).
"""

from __future__ import annotations

import statistics
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from bot.checks import facts
from bot.checks.container_state import pulling_fails
from bot.checks.pulls import SLOW_PULL_SECONDS, PullRecord, parse_pulled, registry_error_kind
from bot.cluster.snapshots import EventSnapshot, HpaSnapshot, PodSnapshot
from bot.domain import Finding, Severity
from bot.checks.context import CheckContext
from bot.ports import ClusterForbidden

RULES = ("hpa-scaling", "pull-pressure")


class HpaParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fast_window_minutes: float = Field(default=15, gt=0, description="Window in which rescales are counted.")
    fast_rescales: int = Field(default=3, ge=1, description="Rescales within the window that count as scaling fast.")
    fast_growth_ratio: float = Field(default=2.0, gt=1, description="desired / current that counts as scaling fast.")
    pull_pressure_medium_bytes: int = Field(default=1_000_000_000, ge=0)
    pull_pressure_high_bytes: int = Field(default=10_000_000_000, ge=0)
    storm_pods: int = Field(default=5, ge=1, description="Concurrent pulls of a large image that make a storm.")
    large_image_bytes: int = Field(default=1_000_000_000, ge=0, description="An image at least this big is large.")


def run(ctx: CheckContext, params: HpaParams) -> list[Finding]:
    out: list[Finding] = []
    try:
        hpas = [
            h
            for h in ctx.cluster.list_hpas(ctx.target.namespace)
            if h.target_kind == ctx.target.kind and h.target_name == ctx.target.name
        ]
    except ClusterForbidden as exc:
        ctx.forbidden("hpa", exc)
        hpas = []
    for hpa in hpas:
        finding = _scaling(ctx, hpa, params)
        if finding is not None:
            out.append(finding)
    pressure = _pull_pressure(ctx, hpas, params)
    if pressure is not None:
        out.append(pressure)
    return out


def _scaling(ctx: CheckContext, hpa: HpaSnapshot, params: HpaParams) -> Finding | None:
    current = hpa.current_replicas or 0
    desired = hpa.desired_replicas or current
    limited = next((c for c in hpa.conditions if c.type == "ScalingLimited" and c.status == "True"), None)
    at_max = current >= hpa.max_replicas or desired >= hpa.max_replicas or (
        limited is not None and limited.reason == "TooManyReplicas"
    )
    rescales = sorted(
        (e for e in facts.readable_service_events(ctx, "hpa") if e.involved_kind == "HorizontalPodAutoscaler"
         and e.involved_name == hpa.name and e.reason == "SuccessfulRescale"),
        key=lambda e: e.last_at or e.first_at or ctx.now,
    )
    recent = 0
    if rescales:
        # Counted back from the latest rescale, not from now: events are snapshots of the incident.
        latest = rescales[-1].last_at or rescales[-1].first_at
        if latest is not None:
            start = latest - timedelta(minutes=params.fast_window_minutes)
            recent = sum(e.count for e in rescales if (e.last_at or e.first_at or latest) >= start)
    fast = recent >= params.fast_rescales or (current > 0 and desired / current >= params.fast_growth_ratio)
    if not at_max and not fast:
        return None
    what = " and ".join(w for w, on in (("at its maximum", at_max), ("scaling fast", fast)) if on)
    return Finding(
        rule="hpa-scaling",
        severity=Severity.HIGH if at_max else Severity.MEDIUM,
        title=f"HPA {hpa.namespace}/{hpa.name} is {what}: {current} replicas, {desired} desired, "
        f"max {hpa.max_replicas}" + (f", {recent} rescales in {params.fast_window_minutes:g} min" if recent else ""),
        evidence={
            "hpa": hpa.name,
            "current_replicas": current,
            "desired_replicas": desired,
            "min_replicas": hpa.min_replicas,
            "max_replicas": hpa.max_replicas,
            "at_max": at_max,
            "scaling_fast": fast,
            "count": recent,
            "last_scale_time": facts.ts(hpa.last_scale_time),
            "scaling_limited": limited.reason if limited else None,
            "rescale_messages": [e.message for e in rescales[-3:]],
        },
        remediation="Each new replica pulls the image on a fresh node: cap maxReplicas until the image is "
        "small again (see pull-pressure).",
    )


def _pull_pressure(ctx: CheckContext, hpas: list[HpaSnapshot], params: HpaParams) -> Finding | None:
    image = facts.current_image(ctx)
    if not image:
        return None
    size = facts.image_size(ctx, image)
    if not size.bytes:
        return None
    nodes = facts.nodes_by_name(ctx)
    pulling = []
    for pod in facts.pods(ctx):
        if pod.phase in ("Succeeded", "Failed"):
            continue
        if not any(c.image == image for c in pod.containers):
            continue
        node = nodes.get(pod.node_name or "")
        if node is None or not facts.node_has_image(node, image):
            pulling.append(pod.name)
    live = sum(1 for p in facts.pods(ctx) if p.phase not in ("Succeeded", "Failed"))
    desired = max((h.desired_replicas or 0 for h in hpas), default=0)
    maximum = max((h.max_replicas for h in hpas), default=0)
    to_create = max(0, desired - live)
    to_max = max(0, maximum - max(desired, live))
    pods_now = len(pulling) + to_create
    pending_bytes = size.bytes * pods_now
    if pods_now == 0:
        return None
    severity = (
        Severity.CRITICAL if pending_bytes >= params.pull_pressure_high_bytes and (to_create or len(pulling) > 3)
        else Severity.HIGH if pending_bytes >= params.pull_pressure_high_bytes
        else Severity.MEDIUM if pending_bytes >= params.pull_pressure_medium_bytes
        else None
    )
    if severity is None:
        return None
    events = facts.readable_service_events(ctx, "hpa")
    pulls = [
        r for e in events if e.reason == "Pulled"
        for r in [parse_pulled(e.message)]
        if r and r.seconds and not r.cached and facts.normalize_ref(r.image) == facts.normalize_ref(image)
    ]
    storm = (pods_now >= params.storm_pods and size.bytes >= params.large_image_bytes) or (
        pending_bytes >= params.pull_pressure_high_bytes)
    strain = _strain(facts.pods(ctx), events, pulls, image)
    if not storm and not strain:
        return None  # pods that pull once, from a registry that serves them in time: no pressure
    egress = None
    if pulls:
        # The registry serves every puller at once: bytes pending over the typical pull time.
        typical = statistics.median(r.seconds for r in pulls if r.seconds)
        egress = pending_bytes / typical if typical else None
    title = (
        f"{pods_now} pods will pull {image} ({facts.human_bytes(size.bytes)}): {facts.human_bytes(pending_bytes)} "
        "from the registry"
    )
    if egress:
        title += f" (≈{facts.human_bytes(egress)}/s egress while they pull)"
    if to_max:
        title += f"; scaling to max adds {facts.human_bytes(size.bytes * to_max)}"
    return Finding(
        rule="pull-pressure",
        severity=severity,
        title=title,
        evidence={
            "bytes": pending_bytes,
            "image": image,
            "image_size_bytes": size.bytes,
            "image_size_source": size.source,
            "pods": pods_now,
            "pods_without_image": sorted(pulling)[:20],
            "pods_to_create": to_create,
            "pods_to_max": to_max,
            "bytes_if_max": size.bytes * (pods_now + to_max),
            "registry_egress_bytes_per_second": round(egress) if egress else None,
            "storm": storm,
            "strain": strain,
        },
        remediation="Stop the amplification first: pin the HPA (maxReplicas = current) and roll back to the "
        "smaller image, so new pods stop pulling gigabytes from the registry.",
    )


def _strain(pods: list[PodSnapshot], events: list[EventSnapshot], pulls: list[PullRecord], image: str) -> list[str]:
    """What says the pulls of `image` already strain: pods that cannot pull it, pulls slower than
    SLOW_PULL_SECONDS (waiting for the node's pull slot included), the registry answering pulls with errors."""
    wanted = facts.normalize_ref(image)
    out = []
    failing = sum(1 for p in pods for c in p.containers if pulling_fails(c) and facts.normalize_ref(c.image) == wanted)
    if failing:
        out.append(f"{failing} failing")
    slow = [r for r in pulls if max(r.seconds or 0, r.total_seconds or 0) >= SLOW_PULL_SECONDS]
    if slow:
        out.append(f"{len(slow)} slow (over {SLOW_PULL_SECONDS:g}s)")
    errors = sum(e.count for e in events if e.type == "Warning" and "pull" in e.message.lower()
                 and registry_error_kind(e.message))
    if errors:
        out.append(f"{errors} registry errors")
    return out

