"""Facts about the diagnosed service, computed once per run and shared by the checks.

Everything goes through `ctx.memo`, so two checks asking for the service's pods at the same moment
cause one list call.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot import units
from bot.cluster.snapshots import (
    ContainerSnapshot,
    ControllerRevisionSnapshot,
    DeploymentSnapshot,
    EventSnapshot,
    NodeSnapshot,
    PodSnapshot,
    ReplicaSetSnapshot,
    ServiceWorkload,
    WorkloadSnapshot,
    selector_string,
)
from bot.checks.context import CheckContext, NotAssessed
from bot.deadline import Deadline, DeadlineExceeded
from bot.images.model import ImageManifest
from bot.ports import ClusterForbidden, ClusterReader, ClusterReadError, ImageReadError


def deployment(ctx: CheckContext) -> DeploymentSnapshot:
    """The service's Deployment; `NotAssessed` when the service is a StatefulSet or DaemonSet."""
    if ctx.target.kind != "Deployment":
        raise NotAssessed(ctx.target.kind, "this reads the Deployment and its ReplicaSets, which it does not have")
    return ctx.cluster.get_deployment(ctx.target.namespace, ctx.target.name)


def list_workloads(cluster: ClusterReader, kind: str, namespace: str | None) -> Sequence[ServiceWorkload]:
    """The reader's list of one kind a service may be (`namespace` None: all of them)."""
    if kind == "Deployment":
        return cluster.list_deployments(namespace)
    if kind == "StatefulSet":
        return cluster.list_statefulsets(namespace)
    if kind == "DaemonSet":
        return cluster.list_daemonsets(namespace)
    raise ValueError(f"not a service workload kind: {kind}")


def get_workload(cluster: ClusterReader, kind: str, namespace: str, name: str) -> ServiceWorkload:
    """One workload of a kind a service may be, by a GET of its name (never a list of the namespace, which
    may hold hundreds, and which RBAC may refuse where it grants `get`); `ClusterNotFound` when it does not
    exist."""
    if kind == "Deployment":
        return cluster.get_deployment(namespace, name)
    if kind == "StatefulSet":
        return cluster.get_statefulset(namespace, name)
    if kind == "DaemonSet":
        return cluster.get_daemonset(namespace, name)
    raise ValueError(f"not a service workload kind: {kind}")


def workload(ctx: CheckContext) -> ServiceWorkload:
    """The service's workload, whatever its kind: selector, desired pods, containers, pod template."""
    return get_workload(ctx.cluster, ctx.target.kind, ctx.target.namespace, ctx.target.name)


def pods(ctx: CheckContext) -> list[PodSnapshot]:
    """The workload's pods: its selector, narrowed to pods its ReplicaSets own (a Deployment's, when known)
    or that it owns itself (a StatefulSet's or DaemonSet's): another workload may share the labels."""

    def compute() -> list[PodSnapshot]:
        owner = workload(ctx)
        found = ctx.cluster.list_pods(ctx.target.namespace, label_selector=selector_string(owner.selector))
        if isinstance(owner, WorkloadSnapshot):
            return [p for p in found if not p.owners
                    or any(o.kind == owner.kind and o.name == owner.name for o in p.owners)]
        rs_names = _replicaset_names(ctx)
        if not rs_names:
            return found
        return [p for p in found if not p.owners or any(o.name in rs_names for o in p.owners)]

    return ctx.memo("pods", compute)


def replicasets(ctx: CheckContext) -> list[ReplicaSetSnapshot]:
    """The Deployment's ReplicaSets (its revisions), oldest revision first; `NotAssessed` for a
    StatefulSet or DaemonSet, whose revisions are ControllerRevisions."""

    def compute() -> list[ReplicaSetSnapshot]:
        dep = deployment(ctx)
        found = ctx.cluster.list_replicasets(ctx.target.namespace, label_selector=selector_string(dep.selector))
        owned = [
            rs for rs in found if any(o.kind == "Deployment" and o.name == dep.name for o in rs.owners)
        ]
        return sorted(owned, key=lambda rs: (rs.revision or 0, rs.created_at or datetime.min))

    return ctx.memo("replicasets", compute)


def controller_revisions(ctx: CheckContext) -> list[ControllerRevisionSnapshot]:
    """A StatefulSet's or DaemonSet's ControllerRevisions (its revisions), oldest revision first."""

    def compute() -> list[ControllerRevisionSnapshot]:
        owner = workload(ctx)
        found = ctx.cluster.list_controllerrevisions(ctx.target.namespace,
                                                     label_selector=selector_string(owner.selector))
        owned = [r for r in found if any(o.kind == owner.kind and o.name == owner.name for o in r.owners)]
        return sorted(owned, key=lambda r: (r.revision, r.created_at or datetime.min))

    return ctx.memo("controllerrevisions", compute)


def _replicaset_names(ctx: CheckContext) -> set[str]:
    """Without ReplicaSets (RBAC, or a kind that has none), pods and events are matched by selector and
    owner alone; rollout reports the gap."""
    try:
        return {rs.name for rs in replicasets(ctx)}
    except (ClusterForbidden, NotAssessed):
        return set()


def namespace_events(ctx: CheckContext) -> list[EventSnapshot]:
    return ctx.cluster.list_events(ctx.target.namespace)


def service_events(ctx: CheckContext) -> list[EventSnapshot]:
    """Events about the workload, its ReplicaSets, its pods (live or gone) and its HPA."""

    def compute() -> list[EventSnapshot]:
        rs_names = _replicaset_names(ctx)
        pod_names = {p.name for p in pods(ctx)}
        prefixes = tuple(f"{name}-" for name in rs_names)
        out = []
        for ev in namespace_events(ctx):
            kind, name = ev.involved_kind, ev.involved_name
            if (
                (kind == ctx.target.kind and name == ctx.target.name)
                or (kind == "ReplicaSet" and name in rs_names)
                or (kind == "Pod" and (name in pod_names or (prefixes and name.startswith(prefixes))))
                or (kind == "HorizontalPodAutoscaler" and name in hpa_names(ctx))
            ):
                out.append(ev)
        return out

    return ctx.memo("service-events", compute)


def readable_service_events(ctx: CheckContext, check: str) -> list[EventSnapshot]:
    """The service's events, or none when RBAC refuses them (the gap is reported, the check goes on)."""
    try:
        return service_events(ctx)
    except ClusterForbidden as exc:
        ctx.forbidden(check, exc)
        return []


def events_readable(ctx: CheckContext) -> bool:
    try:
        service_events(ctx)
        return True
    except ClusterReadError:
        return False


def hpa_names(ctx: CheckContext) -> set[str]:
    def compute() -> set[str]:
        try:
            return {
                h.name
                for h in ctx.cluster.list_hpas(ctx.target.namespace)
                if h.target_kind == ctx.target.kind and h.target_name == ctx.target.name
            }
        except ClusterReadError:
            return set()

    return ctx.memo("hpa-names", compute)


def pick_container(ctx: CheckContext, containers: Iterable[ContainerSnapshot]) -> ContainerSnapshot | None:
    """The catalog's container, else the first one."""
    containers = list(containers)
    if ctx.container:
        chosen = next((c for c in containers if c.name == ctx.container), None)
        if chosen is not None:
            return chosen
    return containers[0] if containers else None


def current_image(ctx: CheckContext) -> str | None:
    chosen = pick_container(ctx, workload(ctx).containers)
    return chosen.image if chosen else None


def nodes(ctx: CheckContext) -> list[NodeSnapshot]:
    return ctx.cluster.list_nodes()


def nodes_by_name(ctx: CheckContext) -> dict[str, NodeSnapshot]:
    return ctx.memo("nodes-by-name", lambda: {n.name: n for n in nodes(ctx)})


def nodes_if_readable(ctx: CheckContext) -> dict[str, NodeSnapshot]:
    """`nodes_by_name`, or none when the nodes cannot be read: for checks that only use nodes to tell a
    node-level failure from the pod's own, and still have an answer without them."""
    try:
        return nodes_by_name(ctx)
    except ClusterReadError:
        return {}


# Events about nodes, cluster-wide: the kubelet's NodeNotSchedulable, NodeNotReady, image GC...
NODE_EVENTS = "involvedObject.kind=Node"


def node_events(ctx: CheckContext) -> list[EventSnapshot]:
    """Raises `ClusterReadError` (RBAC, the API): callers that only date something go on without them."""
    return ctx.cluster.list_events(None, field_selector=NODE_EVENTS)


def service_node_names(ctx: CheckContext) -> set[str]:
    """Nodes where the service's pods are scheduled."""
    return ctx.memo("service-nodes", lambda: {p.node_name for p in pods(ctx) if p.node_name})


def readable_service_node_names(ctx: CheckContext) -> set[str]:
    """`service_node_names`, or none when the pods cannot be read: node checks still cover every node."""
    try:
        return service_node_names(ctx)
    except ClusterReadError:
        return set()


# --- image references and sizes ------------------------------------------------------------------


def normalize_ref(ref: str) -> str:
    """`nginx:1` -> `docker.io/library/nginx:1`; adds `:latest` when there is neither tag nor digest.
    With a digest the tag is dropped (`app:v2@sha256:...` -> `app@sha256:...`): the digest is what the
    runtime pulls, and the name a node lists for it."""
    name, digest = (ref.split("@", 1) + [""])[:2]
    if digest and ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    first = name.split("/", 1)[0]
    has_domain = "/" in name and ("." in first or ":" in first or first == "localhost")
    if not has_domain:
        name = f"docker.io/{name}" if "/" in name else f"docker.io/library/{name}"
    last = name.rsplit("/", 1)[-1]
    if not digest and ":" not in last:
        name += ":latest"
    return f"{name}@{digest}" if digest else name


def node_has_image_entry(names: Iterable[str], ref: str) -> bool:
    wanted = normalize_ref(ref)
    return any(normalize_ref(n) == wanted for n in names)


def node_has_image(node: NodeSnapshot, ref: str) -> bool:
    return any(node_has_image_entry(img.names, ref) for img in node.images)


# The source of a size that was never read: no node stores the image and no image reader is configured.
NO_IMAGE_READER = "no image reader"


@dataclass(frozen=True)
class ImageSize:
    bytes: int | None
    source: str  # "node status.images" | "registry manifest (compressed)" | "image reader" | "unknown" | NO_IMAGE_READER


@dataclass(frozen=True)
class ImageRead:
    """The image reader's manifest of one ref, or why there is none (no reader, or its error)."""

    manifest: ImageManifest | None
    error: str | None = None


def image_manifest(ctx: CheckContext, ref: str) -> ImageRead:
    """The manifest and config of `ref` through the run's image reader, read once per run.

    The checks that want it (an image's size for a rollout or a scale-up) have other things to report, so
    a registry that does not answer gets half the check's remaining time: then the size is unknown, and
    the check still reports the rest before its deadline."""

    def compute() -> ImageRead:
        if ctx.images is None:
            return ImageRead(None, NO_IMAGE_READER)
        deadline = Deadline(min(ctx.deadline.at, time.monotonic() + ctx.deadline.remaining() / 2))
        try:
            return ImageRead(ctx.images.manifest(ref, deadline=deadline))
        except ImageReadError as exc:
            return ImageRead(None, str(exc))
        except DeadlineExceeded as exc:
            if ctx.deadline.expired:
                raise
            return ImageRead(None, f"no answer in time while {exc.doing}")

    return ctx.memo(("image-manifest", ref), compute)


def image_size(ctx: CheckContext, ref: str) -> ImageSize:
    """From the nodes' `status.images` (what the runtime stores), else the image reader's manifest."""

    def compute() -> ImageSize:
        sizes = _node_image_sizes(ctx).get(normalize_ref(ref))
        if sizes:
            return ImageSize(max(sizes), "node status.images")
        manifest = image_manifest(ctx, ref).manifest
        if manifest is None:  # unknown when a read failed; unread, not unknown, when there is no reader
            return ImageSize(None, NO_IMAGE_READER if ctx.images is None else "unknown")
        compressed = any(layer.compressed for layer in manifest.layers)
        return ImageSize(manifest.size_bytes, "registry manifest (compressed)" if compressed else "image reader")

    return ctx.memo(("image-size", ref), compute)


def _node_image_sizes(ctx: CheckContext) -> dict[str, list[int]]:
    def compute() -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        try:
            all_nodes = nodes(ctx)
        except ClusterReadError:
            return out
        for node in all_nodes:
            for img in node.images:
                for name in img.names:
                    out.setdefault(normalize_ref(name), []).append(img.size_bytes)
        return out

    return ctx.memo("node-image-sizes", compute)


def human_bytes(n: int | float | None) -> str:
    """`bot.units.human_bytes`, saying so when a size is not known."""
    return "unknown size" if n is None else units.human_bytes(n)


def human_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} d"


def ts(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
