"""What a rollout would do to the disks of the nodes that receive it: the cluster side of the gate.

`read_pressure` finds the replicas the workload can reach (the HPA's max, else its spec), the nodes its
pods can be scheduled on, and each node's imagefs figures: from the kubelet summary API when it answers
(`get nodes/proxy`, opt-in), else from `status.images` (the images' total against the node's
ephemeral-storage capacity: a lower bound, and the pressure says so).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bot.checks.facts import node_has_image
from bot.cluster.scheduling import can_schedule
from bot.cluster.snapshots import NodeFsSummary, NodeSnapshot
from bot.logs import carry_log_context
from bot.ports import ClusterForbidden, ClusterReader, ClusterReadError
from bot.units import QuantityError, quantity_bytes

SUMMARY = "summary"
STATUS_IMAGES = "status.images"
MAX_SUMMARY_REQUESTS = 16  # concurrent kubelet summary calls
KINDS = ("Deployment", "StatefulSet", "DaemonSet")
DEFAULT_PLATFORM = "linux/amd64"


@dataclass(frozen=True)
class NodeImageFs:
    """One node that could receive the pods, and its image filesystem now."""

    node: str
    capacity_bytes: int
    used_bytes: int
    has_image: bool  # the candidate is already stored there: its pods pull nothing
    source: str  # "summary" | "status.images"

    @property
    def free_bytes(self) -> int:
        return max(0, self.capacity_bytes - self.used_bytes)

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "capacity_bytes": self.capacity_bytes, "used_bytes": self.used_bytes,
                "free_bytes": self.free_bytes, "has_image": self.has_image, "source": self.source}


@dataclass(frozen=True)
class ClusterPressure:
    """The workload's reach (`max_replicas`) and the nodes its pods can land on."""

    workload: str  # "Deployment prod/api"
    max_replicas: int
    nodes: tuple[NodeImageFs, ...]
    source: str  # "summary" | "status.images" | "mixed"
    notes: tuple[str, ...] = ()
    image_bytes: int = 0  # the candidate's size as a node stores it (uncompressed), when the caller knows it
    platform: str | None = None  # the os/arch the receiving nodes run: the image of an index to judge

    def to_json(self) -> dict[str, Any]:
        return {"workload": self.workload, "max_replicas": self.max_replicas, "source": self.source,
                "image_bytes": self.image_bytes, "platform": self.platform,
                "nodes": [n.to_json() for n in self.nodes], "notes": list(self.notes)}


def read_pressure(cluster: ClusterReader, namespace: str, name: str, *, image_bytes: int,
                  kind: str = "Deployment", image: str | None = None, replicas: int | None = None,
                  template: Mapping[str, Any] | None = None, use_summary: bool = True,
                  default_platform: str = DEFAULT_PLATFORM) -> ClusterPressure:
    """Read the cluster for the gate. Raises `ClusterReadError` (and its `ClusterNotFound`,
    `ClusterForbidden`) when the workload, its autoscaler or the nodes cannot be read.

    `image`: the candidate's reference, to tell the nodes that already hold it (none do, for an image
    just built). Without a `template`, a Deployment is fetched; for a StatefulSet or a DaemonSet the caller
    passes `replicas` and the pod `template` (the admission webhook from the object under review,
    `coroner gate --deployed` from the workload it read).
    `use_summary=False` skips the kubelet summary API (one request per node) for `status.images`, when
    time is short. `platform` is what the receiving nodes run (`default_platform` among equals), so that
    the caller reads the image of a multi-arch index those nodes would pull.
    """
    if kind not in KINDS:
        raise ClusterReadError(f"the gate reads {', '.join(KINDS)}, not {kind}")
    notes: list[str] = []
    if kind == "Deployment" and template is None:
        deployment = cluster.get_deployment(namespace, name)
        template = deployment.template
        replicas = deployment.replicas if replicas is None else replicas
    spec: Mapping[str, Any] = (template or {}).get("spec") or {}
    nodes = receiving_nodes(cluster.list_nodes(), spec, kind=kind)
    if len(nodes) == 0:
        notes.append("no node can receive the pods now (not ready, cordoned, tainted, or left out by the "
                     "nodeSelector or the required node affinity)")
    reach = _reach(cluster, namespace, name, kind, replicas, len(nodes), notes)
    figures = _figures(cluster, nodes, image, notes, use_summary=use_summary)
    sources = {f.source for f in figures}
    source = sources.pop() if len(sources) == 1 else ("mixed" if sources else SUMMARY)
    platform = nodes_platform(nodes, default_platform, notes)
    return ClusterPressure(workload=f"{kind} {namespace}/{name}", max_replicas=reach, nodes=tuple(figures),
                           source=source, notes=tuple(notes), image_bytes=image_bytes, platform=platform)


def receiving_nodes(nodes: Sequence[NodeSnapshot], pod_spec: Mapping[str, Any], *, kind: str) -> list[NodeSnapshot]:
    """The nodes a `kind`'s pods with this pod spec could be scheduled on now (`bot.cluster.scheduling`)."""
    return [n for n in nodes if can_schedule(n, pod_spec, daemon=kind == "DaemonSet")]


def nodes_platform(nodes: Sequence[NodeSnapshot], default: str, notes: list[str]) -> str | None:
    """The os/arch most of `nodes` run (`default` among equals): the image of a multi-arch index their
    pods pull. None when no node says."""
    counts = Counter(n.platform for n in nodes if n.platform)
    if not counts:
        return None
    most = max(counts.values())
    tied = sorted(p for p, c in counts.items() if c == most)
    platform = default if default in tied else tied[0]
    if len(counts) > 1:
        spread = ", ".join(f"{c} {p}" for p, c in counts.most_common())
        notes.append(f"the receiving nodes run several platforms ({spread}): a multi-arch image is judged "
                     f"as {platform}")
    return platform


def _reach(cluster: ClusterReader, namespace: str, name: str, kind: str, replicas: int | None, node_count: int,
           notes: list[str]) -> int:
    """Replicas at the HPA's max, or the spec's when more (the rollout makes those pods before the HPA
    scales down); without an HPA, the spec's replicas (one per node for a DaemonSet)."""
    if kind == "DaemonSet":
        return node_count
    hpas = [h for h in cluster.list_hpas(namespace) if h.target_kind == kind and h.target_name == name]
    hpa = max(hpas, key=lambda h: (h.max_replicas, h.name), default=None)
    if hpa is not None:
        notes.append(f"HorizontalPodAutoscaler {hpa.name} can scale {kind} {name} to {hpa.max_replicas} replicas")
        if replicas is not None and replicas > hpa.max_replicas:
            notes.append(f"{kind} {name} asks for {replicas} replicas, more than the HPA's max: the rollout "
                         f"starts {replicas} pods")
            return replicas
        return hpa.max_replicas
    notes.append(f"no HorizontalPodAutoscaler targets {kind} {name}: its {replicas or 0} replicas are the reach")
    return replicas or 0


def _figures(cluster: ClusterReader, nodes: list[NodeSnapshot], image: str | None, notes: list[str], *,
             use_summary: bool) -> list[NodeImageFs]:
    if use_summary:
        summaries, why_not = _summaries(cluster, [n.name for n in nodes])
    else:
        summaries, why_not = {}, "the summary API was not asked"
    figures: list[NodeImageFs] = []
    fallback: list[str] = []
    for node in nodes:
        has_image = image is not None and node_has_image(node, image)
        summary = summaries.get(node.name)
        fs = (summary.imagefs or summary.nodefs) if summary is not None else None
        if fs is not None and fs.capacity_bytes and fs.available_bytes is not None:
            # used as the kubelet computes its thresholds: capacity - available
            figures.append(NodeImageFs(node.name, fs.capacity_bytes, fs.capacity_bytes - fs.available_bytes,
                                       has_image, SUMMARY))
            continue
        capacity = _ephemeral_capacity(node)
        if capacity is None:
            notes.append(f"node {node.name}: no imagefs figures (no summary, no ephemeral-storage capacity): left out")
            continue
        fallback.append(node.name)
        figures.append(NodeImageFs(node.name, capacity, sum(i.size_bytes for i in node.images), has_image,
                                   STATUS_IMAGES))
    if fallback:
        notes.append(f"imagefs figures from status.images on {len(fallback)} of {len(nodes)} nodes ({why_not}): "
                     "used is the listed images' total against the node's ephemeral-storage, a lower bound")
    return figures


def _summaries(cluster: ClusterReader, names: list[str]) -> tuple[dict[str, NodeFsSummary], str]:
    """Each node's kubelet summary, when it answers. A first probe, so that without `get nodes/proxy`
    one request is refused rather than one per node. Returns the summaries and why some are missing."""
    if not names:
        return {}, ""
    found: dict[str, NodeFsSummary] = {}
    try:
        found[names[0]] = cluster.node_fs_summary(names[0])
    except ClusterForbidden:
        return {}, "the summary API is forbidden: no get nodes/proxy"
    except ClusterReadError:
        pass  # that kubelet is down; the others may answer

    def fetch(name: str) -> tuple[str, NodeFsSummary | None]:
        try:
            return name, cluster.node_fs_summary(name)
        except ClusterReadError:
            return name, None

    rest = names[1:]
    if rest:
        with ThreadPoolExecutor(max_workers=min(MAX_SUMMARY_REQUESTS, len(rest))) as pool:
            for name, summary in pool.map(carry_log_context(fetch), rest):
                if summary is not None:
                    found[name] = summary
    return found, "the summary API did not answer for them"


def _ephemeral_capacity(node: NodeSnapshot) -> int | None:
    text = node.capacity.get("ephemeral-storage")
    if not text:
        return None
    try:
        return quantity_bytes(text)
    except QuantityError:
        return None
