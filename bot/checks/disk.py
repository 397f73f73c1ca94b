"""disk: node-disk-high.

With the kubelet summary API (opt-in: `get nodes/proxy` is not read-only), nodefs and imagefs use is
measured against the kubelet's own thresholds (REFERENCE §3.3): image GC starts at 85 % and stops at
80 %; pods are evicted when nodefs has < 10 % or imagefs < 15 % available, or < 5 % inodes free.
Without it, nodes reporting DiskPressure are described from their conditions and `status.images`.
Either way each finding names the largest images on the node: the disk is usually full of images.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.checks import facts
from bot.cluster.snapshots import FsStats, NodeFsSummary, NodeSnapshot
from bot.domain import Finding, Severity
from bot.checks.context import CheckContext
from bot.logs import carry_log_context
from bot.ports import ClusterForbidden, ClusterReadError

RULES = ("node-disk-high",)


class DiskParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: Literal["auto", "on", "off"] = Field(
        default="auto", description="Kubelet summary API: auto follows CORONER_NODE_PROXY_ENABLED."
    )
    scope: Literal["cluster", "service"] = "cluster"
    max_workers: int = Field(default=32, ge=1, le=256, description="Concurrent summary requests.")
    max_nodes: int = Field(default=10, ge=1, description="Individual findings before summing up.")
    largest_images: int = Field(default=3, ge=0, le=50)
    gc_high_percent: float = Field(default=85, gt=0, le=100)
    gc_low_percent: float = Field(default=80, gt=0, le=100)
    nodefs_eviction_available_percent: float = Field(default=10, ge=0, le=100)
    imagefs_eviction_available_percent: float = Field(default=15, ge=0, le=100)
    inodes_free_percent: float = Field(default=5, ge=0, le=100)


def run(ctx: CheckContext, params: DiskParams) -> list[Finding]:
    nodes = facts.nodes(ctx)
    mine = facts.readable_service_node_names(ctx)
    if params.scope == "service":
        nodes = [n for n in nodes if n.name in mine]
    use_summary = params.summary == "on" or (params.summary == "auto" and ctx.node_proxy_enabled)
    out: list[Finding] = []
    summaries: dict[str, NodeFsSummary] = {}
    if use_summary:
        summaries, forbidden, unreachable = _fetch_summaries(ctx, nodes, params.max_workers)
        if forbidden is not None:
            ctx.forbidden("disk", forbidden)
        if unreachable:
            names = sorted(unreachable)
            out.append(
                Finding(
                    rule="node-disk-high",
                    severity=Severity.INFO,
                    title=f"Kubelet summary unavailable on {len(names)} nodes: {', '.join(names[:10])}"
                    + (", ..." if len(names) > 10 else ""),
                    evidence={"nodes": names, "errors": dict(sorted(unreachable.items())[:10])},
                )
            )
    hits: list[tuple[bool, Finding]] = []
    for node in nodes:
        summary = summaries.get(node.name)
        finding = (
            _measured(ctx, node, summary, params)
            if summary is not None
            else _from_conditions(ctx, node, params, summary_on=use_summary)
        )
        if finding is not None:
            hits.append((node.name in mine, finding))
    hits.sort(key=lambda h: (not h[0], h[1].severity.rank, -float(h[1].evidence.get("used_percent") or 0)))
    out.extend(f for _, f in hits[: params.max_nodes])
    rest = [f for _, f in hits[params.max_nodes :]]
    if rest:
        names = [str(f.evidence["node"]) for f in rest]
        out.append(
            Finding(
                rule="node-disk-high",
                severity=min((f.severity for f in rest), key=lambda s: s.rank),
                title=f"{len(rest)} more nodes (of {len(nodes)}) have high disk use: {', '.join(names[:20])}"
                + (", ..." if len(names) > 20 else ""),
                evidence={"count": len(rest), "nodes": names},
            )
        )
    return out


def _fetch_summaries(
    ctx: CheckContext, nodes: list[NodeSnapshot], max_workers: int
) -> tuple[dict[str, NodeFsSummary], ClusterForbidden | None, dict[str, str]]:
    """Every node's summary, concurrently through a bounded pool. A 403 stops the lot: RBAC is not per node."""
    summaries: dict[str, NodeFsSummary] = {}
    unreachable: dict[str, str] = {}
    forbidden: ClusterForbidden | None = None
    if not nodes:
        return summaries, None, unreachable
    # One probe first: without the permission, 2,000 requests would all be refused.
    first, rest = nodes[0], nodes[1:]
    try:
        summaries[first.name] = ctx.cluster.node_fs_summary(first.name)
    except ClusterForbidden as exc:
        return summaries, exc, unreachable
    except ClusterReadError as exc:
        unreachable[first.name] = str(exc)

    def fetch(name: str) -> tuple[str, NodeFsSummary | Exception]:
        try:
            return name, ctx.cluster.node_fs_summary(name)
        except ClusterReadError as exc:
            return name, exc

    with ThreadPoolExecutor(max_workers=min(max_workers, max(1, len(rest)))) as pool:
        for name, result in pool.map(carry_log_context(fetch), [n.name for n in rest]):
            if isinstance(result, ClusterForbidden):
                forbidden = forbidden or result
            elif isinstance(result, Exception):
                unreachable[name] = str(result)
            else:
                summaries[name] = result
    return summaries, forbidden, unreachable


def _largest(node: NodeSnapshot, count: int) -> list[dict[str, object]]:
    images = sorted(node.images, key=lambda i: -i.size_bytes)[:count]
    return [{"image": _display_name(i.names), "size_bytes": i.size_bytes} for i in images]


def _display_name(names: tuple[str, ...]) -> str:
    tagged = [n for n in names if "@" not in n]
    return (tagged or list(names) or ["<untagged>"])[0]


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _measured(ctx: CheckContext, node: NodeSnapshot, summary: NodeFsSummary, params: DiskParams) -> Finding | None:
    # imagefs falls back to nodefs when the runtime keeps images on the root filesystem.
    imagefs = summary.imagefs or summary.nodefs
    candidates: list[tuple[Severity, str, str, FsStats]] = []
    for label, fs, eviction in (
        ("nodefs", summary.nodefs, params.nodefs_eviction_available_percent),
        ("imagefs", imagefs if summary.imagefs else None, params.imagefs_eviction_available_percent),
    ):
        if fs is None or fs.used_ratio is None:
            continue
        used = fs.used_ratio * 100
        available = 100 - used
        gc_applies = label == "imagefs" or summary.imagefs is None
        if available < eviction:
            candidates.append((Severity.CRITICAL, label, f"below the eviction threshold ({label}.available<{eviction:g}%)", fs))
        elif fs.inodes and fs.inodes_free is not None and fs.inodes_free / fs.inodes * 100 < params.inodes_free_percent:
            candidates.append((Severity.CRITICAL, label, f"inodes below the eviction threshold ({label}.inodesFree<{params.inodes_free_percent:g}%)", fs))
        elif gc_applies and used >= params.gc_high_percent:
            candidates.append((Severity.HIGH, label, f"above the image-GC high threshold ({params.gc_high_percent:g}%): the kubelet is deleting images", fs))
        elif used >= params.gc_low_percent:
            candidates.append((Severity.MEDIUM, label, f"above the image-GC low threshold ({params.gc_low_percent:g}%)", fs))
    if not candidates:
        return None
    severity, label, why, fs = min(candidates, key=lambda c: (c[0].rank, -(c[3].used_ratio or 0)))
    largest = _largest(node, params.largest_images)
    service_image = facts.current_image(ctx) if _deployment_readable(ctx) else None
    service_on_node = None
    if service_image:
        service_on_node = next(
            (i.size_bytes for i in node.images if facts.node_has_image_entry(i.names, service_image)), None
        )
    used_pct = _pct(fs.used_ratio)
    title = (
        f"Node {node.name} {label} {used_pct:g}% used ({facts.human_bytes(fs.available_bytes)} free of "
        f"{facts.human_bytes(fs.capacity_bytes)}): {why}"
    )
    if largest:
        title += f"; largest image {largest[0]['image']} ({facts.human_bytes(largest[0]['size_bytes'])})"  # type: ignore[arg-type]
    return Finding(
        rule="node-disk-high",
        severity=severity,
        title=title,
        evidence={
            "node": node.name,
            "filesystem": label,
            "used_percent": used_pct,
            "capacity_bytes": fs.capacity_bytes,
            "available_bytes": fs.available_bytes,
            "used_bytes": fs.used_bytes,
            "inodes_free": fs.inodes_free,
            "source": "kubelet summary API",
            "thresholds": _thresholds(params),
            "largest_images": largest,
            "service_image": service_image,
            "service_image_bytes_on_node": service_on_node,
            "images_total_bytes": sum(i.size_bytes for i in node.images),
        },
        remediation="Remove unused images (crictl rmi --prune) or roll back to a smaller image; the kubelet "
        "evicts pods when GC cannot keep up.",
    )


def _from_conditions(ctx: CheckContext, node: NodeSnapshot, params: DiskParams, *, summary_on: bool) -> Finding | None:
    cond = node.condition("DiskPressure")
    if cond is None or cond.status != "True":
        return None
    largest = _largest(node, params.largest_images)
    total = sum(i.size_bytes for i in node.images)
    service_image = facts.current_image(ctx) if _deployment_readable(ctx) else None
    service_on_node = None
    if service_image:
        service_on_node = next(
            (i.size_bytes for i in node.images if facts.node_has_image_entry(i.names, service_image)), None
        )
    title = f"Node {node.name} reports DiskPressure; its {len(node.images)} listed images take {facts.human_bytes(total)}"
    if largest:
        title += f", largest {largest[0]['image']} ({facts.human_bytes(largest[0]['size_bytes'])})"  # type: ignore[arg-type]
    return Finding(
        rule="node-disk-high",
        severity=Severity.HIGH,
        title=title,
        evidence={
            "node": node.name,
            "source": "node conditions and status.images",
            "used_percent": None,
            "summary_api": "unreachable" if summary_on else "off (set CORONER_NODE_PROXY_ENABLED and bind nodes/proxy)",
            "condition_reason": cond.reason,
            "condition_message": cond.message,
            "since": cond.last_transition.isoformat() if cond.last_transition else None,
            "largest_images": largest,
            "images_total_bytes": total,
            "service_image": service_image,
            "service_image_bytes_on_node": service_on_node,
        },
        remediation="Remove unused images or roll back to a smaller image; enable the summary API for exact usage.",
    )


def _thresholds(params: DiskParams) -> dict[str, float]:
    return {
        "image_gc_high_percent": params.gc_high_percent,
        "image_gc_low_percent": params.gc_low_percent,
        "nodefs_available_eviction_percent": params.nodefs_eviction_available_percent,
        "imagefs_available_eviction_percent": params.imagefs_eviction_available_percent,
        "inodes_free_eviction_percent": params.inodes_free_percent,
    }


def _deployment_readable(ctx: CheckContext) -> bool:
    """Whether the Deployment can be read: disk findings stand on their own without it."""
    try:
        facts.deployment(ctx)
        return True
    except ClusterReadError:
        return False
