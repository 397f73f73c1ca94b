"""disk: node-disk-high.

With the kubelet summary API (opt-in: `get nodes/proxy` is not read-only), nodefs and imagefs use is
measured against the kubelet's own thresholds (REFERENCE §3.3): image GC starts at 85 % and stops at
80 %; pods are evicted when nodefs has < 10 % or imagefs < 15 % available, or < 5 % inodes free.
Each finding says what fills the filesystem, as the kubelet lays it out (`attribute`): nodefs holds the
pods' logs, emptyDir volumes and writable layers, imagefs the images, and nodefs the images too when there
is no separate imagefs. Images are blamed (and image GC / `crictl rmi` advised) only where they are on the
full filesystem and fill it; logs and volumes come from the summary's per-pod stats, with the workload
writing most. Without the summary API, nodes reporting DiskPressure are described from their conditions,
saying what cannot be seen rather than guessing images.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.checks import consumers, facts
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
            hosts = node.name in mine
            hits.append((hosts, dataclasses.replace(finding, evidence={**finding.evidence, "hosts_service": hosts})))
    hits.sort(key=lambda h: (not h[0], h[1].severity.rank, -float(h[1].evidence.get("used_percent") or 0)))
    # Per-pod figures cost a request and a pod list per node: only for the nodes shown one by one.
    out.extend(_with_pod_figures(ctx, f, summaries, params) for _, f in hits[: params.max_nodes])
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


def _with_pod_figures(
    ctx: CheckContext, finding: Finding, summaries: dict[str, NodeFsSummary], params: DiskParams
) -> Finding:
    """A nodefs finding that images do not explain, measured again with the node's per-pod figures."""
    ev = finding.evidence
    summary = summaries.get(str(ev.get("node")))
    if summary is None or ev.get("filesystem") != "nodefs" or ev.get("attribution") is not None:
        return finding
    node = facts.nodes_by_name(ctx)[str(ev["node"])]
    again = _measured(ctx, node, summary, params, pod_figures=True)
    return dataclasses.replace(again, evidence={**again.evidence, "hosts_service": ev.get("hosts_service")}) \
        if again is not None else finding


def _measured(
    ctx: CheckContext, node: NodeSnapshot, summary: NodeFsSummary, params: DiskParams, *, pod_figures: bool = False
) -> Finding | None:
    # Without a separate image filesystem the kubelet reports nodefs twice: images then live on nodefs.
    separate = summary.imagefs is not None and summary.separate_imagefs is not False
    candidates: list[tuple[Severity, str, str, FsStats]] = []
    for label, fs, eviction in (
        ("nodefs", summary.nodefs, params.nodefs_eviction_available_percent),
        ("imagefs", summary.imagefs if separate else None, params.imagefs_eviction_available_percent),
    ):
        if fs is None or fs.used_ratio is None:
            continue
        used = fs.used_ratio * 100
        available = 100 - used
        gc_applies = label == "imagefs" or not separate
        if available < eviction:
            candidates.append((Severity.CRITICAL, label, f"below the eviction threshold ({label}.available<{eviction:g}%)", fs))
        elif fs.inodes and fs.inodes_free is not None and fs.inodes_free / fs.inodes * 100 < params.inodes_free_percent:
            candidates.append((Severity.CRITICAL, label, f"inodes below the eviction threshold ({label}.inodesFree<{params.inodes_free_percent:g}%)", fs))
        elif gc_applies and used >= params.gc_high_percent:
            candidates.append((Severity.HIGH, label, f"above the image-GC high threshold ({params.gc_high_percent:g}%): the kubelet is deleting images", fs))
        elif used >= params.gc_low_percent:
            candidates.append((Severity.MEDIUM, label, f"above the image-GC low threshold ({params.gc_low_percent:g}%)" if gc_applies else f"{params.gc_low_percent:g}% used or more", fs))
    if not candidates:
        return None
    severity, label, why, fs = min(candidates, key=lambda c: (c[0].rank, -(c[3].used_ratio or 0)))
    largest = _largest(node, params.largest_images)
    service_image = facts.current_image(ctx) if _workload_readable(ctx) else None
    service_on_node = None
    if service_image:
        service_on_node = next(
            (i.size_bytes for i in node.images if facts.node_has_image_entry(i.names, service_image)), None
        )
    pods = _pod_consumers(ctx, node.name) if pod_figures and label == "nodefs" else None
    fill = attribute(node, fs, images_here=label == "imagefs" or not separate, is_nodefs=label == "nodefs", pods=pods)
    used_pct = _pct(fs.used_ratio)
    title = (
        f"Node {node.name} {label} {used_pct:g}% used ({facts.human_bytes(fs.available_bytes)} free of "
        f"{facts.human_bytes(fs.capacity_bytes)}): {why}; {fill.sentence(largest)}"
    )
    return Finding(
        rule="node-disk-high",
        severity=severity,
        title=title,
        evidence={
            "node": node.name,
            "filesystem": label,
            "separate_imagefs": separate,
            "used_percent": used_pct,
            "capacity_bytes": fs.capacity_bytes,
            "available_bytes": fs.available_bytes,
            "used_bytes": fs.used_bytes,
            "inodes_free": fs.inodes_free,
            "source": "kubelet summary API",
            "thresholds": _thresholds(params),
            "attribution": fill.attribution,
            "breakdown_bytes": fill.breakdown,  # bytes per category: `images`, `logs`, `empty_dir`, …
            "top_consumers": fill.top,
            **({"unseen": fill.unseen} if fill.unseen else {}),
            "largest_images": largest,
            "service_image": service_image,
            "service_image_bytes_on_node": service_on_node,
            "images_total_bytes": sum(i.size_bytes for i in node.images),
        },
        remediation=fill.remedy(),
    )


@dataclass(frozen=True)
class Fill:
    """What fills a filesystem, as the kubelet lays it out: nodefs holds the pods' logs, emptyDir volumes and
    writable layers (and the images when there is no separate imagefs); imagefs holds the images."""

    attribution: str | None  # images | logs | emptyDir | writable layers | None (cannot be seen)
    breakdown: dict[str, int | None]
    top: list[dict[str, object]]
    unseen: str | None = None

    def sentence(self, largest: list[dict[str, object]]) -> str:
        if self.attribution == "images":
            text = "images fill it"
            if largest:
                text += f": the largest is {largest[0]['image']} ({facts.human_bytes(largest[0]['size_bytes'])})"  # type: ignore[arg-type]
            return text
        if self.attribution is not None:
            text = f"{FILL_WORDS[self.attribution]} take {facts.human_bytes(self.breakdown.get(self.attribution))}"
            if self.top:
                text += f", most by {self.top[0]['workload']} ({self.top[0]['kind']}) {facts.human_bytes(self.top[0]['bytes'])}"  # type: ignore[arg-type]
            return text
        return f"what fills it cannot be seen: {self.unseen}"

    def remedy(self) -> str:
        who = f"{self.top[0]['workload']} ({self.top[0]['kind']})" if self.top else "the pods listed in the evidence"
        return {
            "images": "Images fill it: remove unused images (crictl rmi --prune), or roll back to a smaller image; "
            "the kubelet evicts pods when image GC cannot keep up.",
            "logs": f"Container logs fill nodefs, most from {who}: make it log less, or lower the kubelet's "
            "containerLogMaxSize/containerLogMaxFiles. Removing images frees nothing here.",
            "emptyDir": f"emptyDir volumes fill nodefs, most {who}'s: give them a sizeLimit (or the pods an "
            "ephemeral-storage limit) so the kubelet evicts the writer, not its neighbours. Removing images frees "
            "nothing here.",
            "writable layers": f"Containers write into their writable layers, most {who}: have it write to a "
            "volume with a sizeLimit. Removing images frees nothing here.",
        }.get(self.attribution or "", "Enable per-pod figures (the kubelet summary API) to see what fills it; on "
              "the node, compare /var/log/pods, /var/lib/kubelet/pods (emptyDir) and the image store.")


FILL_WORDS = {"logs": "container logs", "emptyDir": "emptyDir volumes", "writable layers": "writable layers"}


def attribute(node: NodeSnapshot, fs: FsStats, *, images_here: bool, is_nodefs: bool,
              pods: list[consumers.Consumer] | None) -> Fill:
    """Which of the kubelet's categories fills `fs`: the node's images (status.images) when they are on it,
    and on nodefs the pods' logs, emptyDir volumes and writable layers (`pods`: the summary's per-pod
    figures, None when not had). Images are blamed when they take at least half of the use, or more than
    everything measured beside them; nodefs without per-pod figures is otherwise not guessed at."""
    used = fs.used_bytes if fs.used_bytes is not None else (
        fs.capacity_bytes - fs.available_bytes if fs.capacity_bytes and fs.available_bytes is not None else None)
    images = sum(i.size_bytes for i in node.images) if images_here else None
    breakdown: dict[str, int | None] = {"images": images} if images_here else {}
    if images and used and images * 2 >= used:
        return Fill("images", breakdown, [])
    if is_nodefs and pods is None:
        return Fill(None, breakdown, [], unseen="the pods' logs, emptyDir volumes and writable layers (the "
                    "kubelet summary gave no per-pod figures)")
    figures = {"logs": "logs_bytes", "emptyDir": "empty_dir_bytes", "writable layers": "rootfs_bytes"}
    for category, attr in figures.items():
        if pods is not None:
            breakdown[category] = sum(getattr(c, attr) or 0 for c in pods)
    known = {k: v for k, v in breakdown.items() if v}
    if not known:
        return Fill(None, breakdown, [], unseen="nothing measured on it accounts for its use")
    blamed = max(known, key=lambda k: known[k] or 0)
    top: list[dict[str, object]] = []
    if blamed != "images" and pods is not None:
        attr = figures[blamed]
        ranked = sorted(pods, key=lambda c: -(getattr(c, attr) or 0))
        top = [{"workload": c.workload.ref, "kind": c.workload.kind, "bytes": getattr(c, attr), "pods": len(c.pods)}
               for c in ranked[:3] if getattr(c, attr)]
    return Fill(blamed, breakdown, top)


def _pod_consumers(ctx: CheckContext, node: str) -> list[consumers.Consumer] | None:
    """The node's workloads with the summary's per-pod figures, or None when those cannot be had."""
    try:
        stats = ctx.cluster.node_fs_summary(node, pods=True).pods
        if stats is None:
            return None
        return consumers.consumers(ctx, consumers.pods_on(ctx, node), stats)
    except ClusterReadError:
        return None


def _from_conditions(ctx: CheckContext, node: NodeSnapshot, params: DiskParams, *, summary_on: bool) -> Finding | None:
    cond = node.condition("DiskPressure")
    if cond is None or cond.status != "True":
        return None
    largest = _largest(node, params.largest_images)
    total = sum(i.size_bytes for i in node.images)
    service_image = facts.current_image(ctx) if _workload_readable(ctx) else None
    service_on_node = None
    if service_image:
        service_on_node = next(
            (i.size_bytes for i in node.images if facts.node_has_image_entry(i.names, service_image)), None
        )
    how = "unreachable" if summary_on else "off (set CORONER_NODE_PROXY_ENABLED and bind nodes/proxy)"
    # Images are not guessed: status.images says what is stored, not which filesystem is full.
    title = (f"Node {node.name} reports DiskPressure; which filesystem is full and what fills it cannot be seen "
             f"without the kubelet summary API ({how.split(' ', 1)[0]})")
    return Finding(
        rule="node-disk-high",
        severity=Severity.HIGH,
        title=title,
        evidence={
            "node": node.name,
            "source": "node conditions and status.images",
            "used_percent": None,
            "summary_api": how,
            "attribution": None,
            "unseen": "which filesystem (nodefs or imagefs) is full and whether logs, emptyDir volumes, writable "
            "layers or images fill it",
            "condition_reason": cond.reason,
            "condition_message": cond.message,
            "since": cond.last_transition.isoformat() if cond.last_transition else None,
            "largest_images": largest,
            "images_total_bytes": total,
            "service_image": service_image,
            "service_image_bytes_on_node": service_on_node,
        },
        remediation="Enable the kubelet summary API (CORONER_NODE_PROXY_ENABLED=true, get on nodes/proxy) to see "
        "what fills the disk; on the node, compare /var/log/pods, /var/lib/kubelet/pods (emptyDir) and the "
        "image store before removing anything.",
    )


def _thresholds(params: DiskParams) -> dict[str, float]:
    return {
        "image_gc_high_percent": params.gc_high_percent,
        "image_gc_low_percent": params.gc_low_percent,
        "nodefs_available_eviction_percent": params.nodefs_eviction_available_percent,
        "imagefs_available_eviction_percent": params.imagefs_eviction_available_percent,
        "inodes_free_eviction_percent": params.inodes_free_percent,
    }


def _workload_readable(ctx: CheckContext) -> bool:
    """Whether the service's workload can be read: disk findings stand on their own without it."""
    try:
        facts.workload(ctx)
        return True
    except ClusterReadError:
        return False
