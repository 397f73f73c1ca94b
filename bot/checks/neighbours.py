"""neighbours: blast-radius and noisy-neighbour, for every node under MemoryPressure, DiskPressure or
PIDPressure, where the service's pods were evicted, or NotReady with the service's pods on it (issue 9,
part 2); and for a registry that fails the service's pulls on its side (`registry_radius`).

On each such node: who uses it (`consumers`: the pods grouped by owning workload, with the summary API's
per-pod figures when it is on, else what the pod specs say), and which pods of *other* workloads its
trouble hit (evicted, OOM-killed by the node, on a NotReady node). A workload without a limit on the
pressured resource that takes most of what the node's pods use is a `noisy-neighbour`: the advice points
at that workload, not at the service. Without per-pod figures a workload is named only under memory
pressure, when it is the one workload on those nodes without a memory limit, and the finding says it is
suspected from the specs.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.checks import consumers, facts, pod_slots, registry_radius, revision_health
from bot.checks.consumers import Consumer, Workload
from bot.cluster.snapshots import NodeFsSummary, NodeSnapshot, PodSnapshot
from bot.domain import Finding, Severity
from bot.checks.context import CheckContext
from bot.ports import ClusterForbidden, ClusterReadError
from bot.units import human_bytes, plural

RULES = ("noisy-neighbour", "blast-radius")
RESOURCE = {"MemoryPressure": "memory", "DiskPressure": "ephemeral-storage", "PIDPressure": "pids"}
SUMMARY_SOURCE = "kubelet summary API"
SPEC_SOURCE = "pod specs"
NOT_READY = "NotReady"  # a condition a node view can carry that no resource explains
LOW_ON = re.compile(r"low on resource: ([a-z-]+)")


class NeighboursParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: Literal["auto", "on", "off"] = Field(
        default="auto", description="Per-pod figures from the kubelet summary API: auto follows CORONER_NODE_PROXY_ENABLED."
    )
    max_nodes: int = Field(default=10, ge=1, description="Troubled nodes examined (the service's first).")
    top: int = Field(default=3, ge=1, le=20, description="Consumers listed per node.")
    dominant_share: float = Field(
        default=0.5, gt=0, le=1, description="Share of what the node's pods use that makes one workload dominant."
    )


@dataclass
class NodeView:
    node: NodeSnapshot
    pressures: list[str]
    consumers: list[Consumer]
    hit: list[tuple[PodSnapshot, str, Workload]]  # other workloads' pods the node's trouble hit: how, whose
    measured: bool
    evicted_for: str | None  # the resource the kubelet named when it evicted pods here
    summary: NodeFsSummary | None = None

    def in_use(self, resource: str) -> int:
        """What the node uses of `resource`, as the kubelet measures it: the larger of the node's own figure
        and the sum of its pods' (pods the summary does not list still use the node)."""
        pods = sum(c.uses(resource) or 0 for c in self.consumers)
        if self.summary is None:
            return pods
        if resource == "memory":
            return max(pods, self.summary.memory_working_set_bytes or 0)
        if resource == "pids":
            return max(pods, self.summary.processes or 0)
        nodefs = self.summary.nodefs
        return max(pods, nodefs.used_bytes or 0) if nodefs is not None else pods


def run(ctx: CheckContext, params: NeighboursParams) -> list[Finding]:
    registry = registry_radius.blast_radius(ctx)
    slots = pod_slots.noisy(ctx, max_nodes=params.max_nodes, dominant_share=params.dominant_share)
    return ([registry] if registry is not None else []) + _nodes_radius(ctx, params) + slots


def _nodes_radius(ctx: CheckContext, params: NeighboursParams) -> list[Finding]:
    troubled = _troubled_nodes(ctx)[: params.max_nodes]
    if not troubled:
        return []
    use_summary = params.summary == "on" or (params.summary == "auto" and ctx.node_proxy_enabled)
    mine = {p.name for p in _service_pods(ctx)}
    nodes_by_name = facts.nodes_by_name(ctx)
    views = []
    for node, pressures in troubled:
        try:
            pods = consumers.pods_on(ctx, node.name)
        except ClusterForbidden as exc:
            ctx.forbidden("neighbours", exc)
            return []
        summary: NodeFsSummary | None = None
        if use_summary:
            try:
                summary = ctx.cluster.node_fs_summary(node.name, pods=True)
            except ClusterForbidden as exc:
                ctx.forbidden("neighbours", exc)
                use_summary = False  # RBAC is not per node: ask no other kubelet
            except ClusterReadError:
                pass  # this kubelet does not answer: its figures stay unseen
        stats = summary.pods if summary is not None else None
        hit = [(p, kind, consumers.owner(ctx, p)) for p in pods if p.name not in mine
               for kind in [revision_health.pod_failure(p, nodes_by_name)]
               if kind in revision_health.NODE_LEVEL_FAILURES]
        views.append(NodeView(node, pressures, consumers.consumers(ctx, pods, stats), hit, stats is not None,
                              _evicted_for(pods), summary))
    me = Workload(ctx.target.namespace, ctx.target.kind, ctx.target.name)
    out = [_blast_radius(views, me, params, use_summary)]
    out += _noisy(views, me, params)
    return out


def _service_pods(ctx: CheckContext) -> list[PodSnapshot]:
    try:
        return facts.pods(ctx)
    except ClusterReadError:
        return []


def _troubled_nodes(ctx: CheckContext) -> list[tuple[NodeSnapshot, list[str]]]:
    """Nodes with a pressure condition, where the service's pods were evicted, or NotReady under the
    service's pods (a lost node takes every workload's pods with it); the service's first."""
    evicted_on = {p.node_name for p in _service_pods(ctx) if p.reason == "Evicted" and p.node_name}
    mine = facts.readable_service_node_names(ctx)
    out = []
    for node in facts.nodes(ctx):
        pressures = [c.type for c in node.conditions if c.type in RESOURCE and c.status == "True"]
        if not node.ready and node.name in mine:
            pressures.append(NOT_READY)
        if pressures or node.name in evicted_on:
            out.append((node, pressures))
    return sorted(out, key=lambda item: (item[0].name not in mine, item[0].name))


def _evicted_for(pods: list[PodSnapshot]) -> str | None:
    """"The node was low on resource: memory." -> memory: the kubelet names what it reclaimed."""
    found = Counter(m.group(1) for p in pods if p.reason == "Evicted" and p.message
                    for m in [LOW_ON.search(p.message)] if m)
    return found.most_common(1)[0][0] if found else None


def _resource(view: NodeView) -> str:
    """The resource the node is short of: its pressure condition, else what its evictions were for; none
    for a NotReady node without either (nothing was short: the node is gone)."""
    short = [RESOURCE[p] for p in view.pressures if p in RESOURCE]
    if short:
        return short[0]
    return view.evicted_for or ("none" if NOT_READY in view.pressures else "memory")


def _blast_radius(views: list[NodeView], me: Workload, params: NeighboursParams, use_summary: bool) -> Finding:
    hit_workloads: Counter[str] = Counter()
    how: Counter[str] = Counter()
    for view in views:
        for _, kind, workload in view.hit:
            hit_workloads[workload.ref] += 1
            how[kind] += 1
    other_pods = sum(hit_workloads.values())
    nodes = []
    for view in views:
        resource = _resource(view)
        top = consumers.ranked(view.consumers, resource)[: params.top]
        nodes.append({
            "node": view.node.name,
            "conditions": view.pressures,
            "resource": resource,
            "consumers": [c.to_json() for c in top],
            "hit": sorted(f"{p.namespace}/{p.name}" for p, _, _ in view.hit)[:20],
        })
    measured = any(v.measured for v in views)
    leader = _leader(views)
    names = [v.node.name for v in views]
    conditions = sorted({c for v in views for c in v.pressures}) or ["evictions"]
    title = f"{'/'.join(conditions)} on {len(views)} node(s) ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
    title += (f" also hit {plural(other_pods, 'pod')} of {plural(len(hit_workloads), 'other workload')} "
              f"({', '.join(list(hit_workloads)[:4])})" if other_pods else ": no other workload's pods were hit")
    if leader is not None:
        title += f"; top consumer {leader}"
    evidence: dict[str, object] = {
        "scope": "nodes",
        "nodes": nodes,
        "other_pods": other_pods,
        "other_workloads": len(hit_workloads),
        "workloads_hit": dict(hit_workloads),
        "how": dict(how),
        "source": SUMMARY_SOURCE if measured else SPEC_SOURCE,
    }
    if not measured:
        resources = {_resource(v) for v in views}
        # Under PIDPressure the pod specs say nothing either: no pod-level field limits processes.
        unseen = (["how many processes each pod runs, which no pod spec limits"] if "pids" in resources else []) + (
            ["how much memory and disk each pod uses"] if resources - {"pids"} else [])
        evidence["unseen"] = (
            " and ".join(unseen) + " (the kubelet summary API is "
            + ("unreachable" if use_summary else "off: set CORONER_NODE_PROXY_ENABLED and bind get on nodes/proxy")
            + ")"
        )
    return Finding(
        rule="blast-radius",
        severity=Severity.MEDIUM if other_pods else Severity.INFO,
        title=title,
        evidence=evidence,
    )


def _leader(views: list[NodeView]) -> str | None:
    best: tuple[int, str] | None = None
    for view in views:
        resource = _resource(view)
        top = consumers.ranked(view.consumers, resource)
        # A leader that uses a sliver of the node leads nothing.
        if top and (used := top[0].uses(resource)) and used * 10 >= view.in_use(resource):
            text = f"{top[0].workload.label} {consumers.figure(top[0], resource, view.node)} on {view.node.name}"
            if best is None or used > best[0]:
                best = (used, text)
    return best[1] if best else None


def _noisy(views: list[NodeView], me: Workload, params: NeighboursParams) -> list[Finding]:
    """One finding per workload without a limit that dominates troubled nodes."""
    found: dict[Workload, list[tuple[NodeView, Consumer, float | None]]] = {}
    for view in views:
        resource = _resource(view)
        if resource == "none":
            continue  # a lost node has no figures: nothing to weigh
        measured = sum(c.uses(resource) or 0 for c in view.consumers)
        if view.measured and measured * 2 >= view.in_use(resource):
            total = view.in_use(resource)
            top = consumers.ranked(view.consumers, resource)
            if top and total and top[0].unlimited(resource):
                share = (top[0].uses(resource) or 0) / total
                if share >= params.dominant_share:
                    found.setdefault(top[0].workload, []).append((view, top[0], share))
        elif resource == "memory":
            # (Never for pids: no pod spec limits processes, so without counts nobody stands out.)
            # Unmeasured, or the pods' figures do not account for most of what the node uses. Services set
            # memory limits as a rule, so the one workload without is a real suspect; almost nothing sets
            # ephemeral-storage limits, so lacking one singles out no one.
            unlimited = [c for c in view.consumers if c.unlimited(resource)]
            if len(unlimited) == 1:
                found.setdefault(unlimited[0].workload, []).append((view, unlimited[0], None))
    return [_noisy_finding(workload, hits, me) for workload, hits in sorted(found.items())]


# What to change depends on what the workload fills nodefs with: logs are capped by the kubelet's log
# rotation and the workload's verbosity, emptyDir volumes by their sizeLimit, writes to the container's own
# filesystem by a volume. The ephemeral-storage limit covers all three (the kubelet evicts the writer).
FILL_ADVICE = {
    "logs": " (it counts the container logs) and cap the logs: make it log less, and rotate them with the "
            "kubelet's containerLogMaxSize/containerLogMaxFiles",
    "emptyDir": " and a sizeLimit on its emptyDir volumes",
    "writable layers": " and have it write to a volume with a sizeLimit, not into its container's filesystem",
}


def _fills(hits: list[Consumer]) -> str | None:
    """The largest of the workload's logs, emptyDir volumes and writable layers on the nodes it troubles, or
    None when the summary API gave no per-pod breakdown."""
    totals = {"logs": sum(c.logs_bytes or 0 for c in hits), "emptyDir": sum(c.empty_dir_bytes or 0 for c in hits),
              "writable layers": sum(c.rootfs_bytes or 0 for c in hits)}
    largest = max(totals, key=lambda k: totals[k])
    return largest if totals[largest] > 0 else None


def _noisy_finding(workload: Workload, hits: list[tuple[NodeView, Consumer, float | None]], me: Workload) -> Finding:
    view, first, share = hits[0]
    resource = _resource(view)
    measured = share is not None
    nodes = [v.node.name for v, _, _ in hits]
    used = sum(c.uses(resource) or 0 for _, c, _ in hits)
    itself = " (the service itself)" if workload == me else ""
    priority = f", priority {first.priority} ({first.priority_class})" if first.priority_class else ""
    hit = sum(len(v.hit) for v, _, _ in hits)
    if resource == "pids":
        title, advice, summary = _pids_texts(workload, hits, used, itself, priority)
    else:
        title, advice, summary = _bytes_texts(workload, hits, used, itself, priority, is_me=workload == me)
    return Finding(
        rule="noisy-neighbour",
        severity=Severity.HIGH if hit or workload != me else Severity.MEDIUM,
        title=title,
        evidence={
            "workload": workload.ref,
            "namespace": workload.namespace,
            "kind": workload.kind,
            "name": workload.name,
            "resource": resource,
            "nodes": nodes,
            "used_bytes": used if measured and resource != "pids" else None,
            "processes": used if resource == "pids" else None,
            "share": round(share, 3) if share is not None else None,
            "pods": sorted({p for _, c, _ in hits for p in c.pods})[:20],
            "priority": first.priority,
            "priority_class": first.priority_class,
            "qos": first.qos,
            "is_service": workload == me,
            "other_pods_hit": hit,
            "source": SUMMARY_SOURCE if measured else SPEC_SOURCE,
            "summary": summary,
            "fills": _fills([c for _, c, _ in hits]) if resource not in ("memory", "pids") else None,
        },
        remediation=advice,
    )


def _bytes_texts(workload: Workload, hits: list[tuple[NodeView, Consumer, float | None]], used: int, itself: str,
                 priority: str, *, is_me: bool) -> tuple[str, str, str]:
    """Title, advice and summary for memory or disk: a limit the workload lacks, and what it takes."""
    view, first, share = hits[0]
    resource = _resource(view)
    nodes = [v.node.name for v, _, _ in hits]
    limit = "memory limit" if resource == "memory" else "ephemeral-storage limit or emptyDir sizeLimit"
    if share is not None:
        what = f"takes {consumers.figure(first, resource, view.node)} on {view.node.name}"
        if len(hits) > 1:
            what += f" ({human_bytes(used)} on {len(hits)} nodes)"
        how = f"{share:.0%} of what the node uses"
    else:
        what = f"is the only workload without one on {', '.join(nodes[:3])}"
        how = "suspected from the pod specs: " + (
            "the pods' measured figures do not account for what the node uses" if view.measured
            else "per-pod figures need the kubelet summary API")
    title = f"{workload.label}{itself} has no {limit} and {what}: {how}{priority}"
    fills = _fills([c for _, c, _ in hits]) if resource != "memory" else None  # also in the evidence
    advice = f"Set resources.limits.{'memory' if resource == 'memory' else 'ephemeral-storage'} on {workload.label}"
    advice += FILL_ADVICE.get(fills or "", " (and a sizeLimit on its emptyDir volumes)" if resource != "memory" else "")
    if first.priority_class:
        advice += f"; its PriorityClass {first.priority_class} ({first.priority}) lets it outrank the pods it crowds out"
    if is_me:  # the service itself is not a neighbour to stop: its own pod template is what changes
        advice += "; a rollback does not add a limit."
    else:  # a DaemonSet runs on every node: moving it frees none of them
        advice += ("; until then, undo its last change or restart its pods" if workload.kind == "DaemonSet"
                   else "; until then, stop or move it")
        advice += ". Rolling back other services frees nothing."
    summary = f"{workload.label}, no {resource} limit" + (
        f", {human_bytes(used)} {'memory' if resource == 'memory' else 'ephemeral storage'} on "
        f"{nodes[0] if len(hits) == 1 else plural(len(hits), 'node')}"
        if share is not None else "")
    return title, advice, summary


def _pids_texts(workload: Workload, hits: list[tuple[NodeView, Consumer, float | None]], used: int, itself: str,
                priority: str) -> tuple[str, str, str]:
    """Title, advice and summary under PIDPressure: the processes counted, and no spec limit to blame (a pod
    spec has none; the kubelet's podPidsLimit is node configuration)."""
    view, first, share = hits[0]
    what = f"runs {consumers.figure(first, 'pids')} on {view.node.name}"
    if len(hits) > 1:
        what += f" ({used:,} on {len(hits)} nodes)"
    title = f"{workload.label}{itself} {what}: {share or 0:.0%} of the node's processes{priority}"
    advice = (f"Find what {workload.label} leaks (`ps` in one of its pods: children never reaped, threads per "
              "request) and restart it or undo its last change; set the kubelet's podPidsLimit so one pod cannot "
              "take the node's PIDs. Rolling back other services frees nothing.")
    summary = f"{workload.label}, {used:,} processes on {plural(len(hits), 'node')}"
    return title, advice, summary


