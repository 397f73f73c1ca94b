"""Pod slots: when the scheduler says "Too many pods" for the service's Pending pods, the nodes are at their
maxPods (the kubelet's limit, the node's allocatable `pods`). Nothing is short of cpu or memory, so no
pressure condition names a culprit: who holds the slots is counted from the pod list, per node and by owning
workload, and a workload holding at least `dominant_share` of the full nodes' slots is the `noisy-neighbour`
(resource `pods`). Finished pods (Succeeded, Failed) hold no slot: the scheduler and the kubelet count only
the pods that still run or wait; so a CronJob's completed runs are no culprit, its runs that never finish are.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from bot.checks import consumers, facts
from bot.checks.consumers import Workload
from bot.checks.context import CheckContext
from bot.checks.workload import scheduler_says
from bot.cluster.snapshots import NodeSnapshot
from bot.domain import Finding, Severity
from bot.ports import ClusterForbidden, ClusterReadError
from bot.units import plural

TOO_MANY_PODS = re.compile(r"\b(\d+) Too many pods\b")
FINISHED = ("Succeeded", "Failed")
SOURCE = "pod list"


@dataclass(frozen=True)
class FullNode:
    node: NodeSnapshot
    slots: int  # allocatable pods
    held: Counter[Workload]  # running or waiting pods by owning workload


def noisy(ctx: CheckContext, *, max_nodes: int, dominant_share: float) -> list[Finding]:
    """The workload holding most slots on the nodes at maxPods, when the service's pods wait for a slot."""
    if not _waits_for_a_slot(ctx):
        return []
    try:
        full = _full_nodes(ctx, max_nodes)
    except ClusterForbidden as exc:
        ctx.forbidden("neighbours", exc)
        return []
    if not full:
        return []
    held: Counter[Workload] = Counter()
    for f in full:
        held.update(f.held)
    slots = sum(f.slots for f in full)
    workload, count = max(held.items(), key=lambda item: (item[1], item[0]))
    if count < dominant_share * slots:
        return []
    return [_finding(ctx, workload, count, slots, full, held)]


def _waits_for_a_slot(ctx: CheckContext) -> bool:
    try:
        pending = [p for p in facts.pods(ctx) if p.phase == "Pending" and not p.node_name]
    except ClusterReadError:
        return False
    if not pending:
        return False
    said = scheduler_says(pending, facts.readable_service_events(ctx, "neighbours")).get("scheduler_message", "")
    return TOO_MANY_PODS.search(str(said)) is not None


def _full_nodes(ctx: CheckContext, max_nodes: int) -> list[FullNode]:
    """Schedulable nodes whose running and waiting pods fill their allocatable `pods`."""
    out = []
    candidates = [n for n in facts.nodes(ctx) if n.ready and not n.unschedulable and _slots(n) is not None]
    for node in sorted(candidates, key=lambda n: n.name)[:max_nodes]:
        pods = [p for p in consumers.pods_on(ctx, node.name) if p.phase not in FINISHED]
        slots = _slots(node) or 0
        if len(pods) >= slots:
            out.append(FullNode(node, slots, Counter(consumers.owner(ctx, p) for p in pods)))
    return out


def _slots(node: NodeSnapshot) -> int | None:
    raw = node.allocatable.get("pods") or node.capacity.get("pods")
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def _finding(ctx: CheckContext, workload: Workload, count: int, slots: int, full: list[FullNode],
             held: Counter[Workload]) -> Finding:
    me = Workload(ctx.target.namespace, ctx.target.kind, ctx.target.name)
    per_node = {f.node.name: f.held[workload] for f in full if f.held[workload]}
    top = [{"workload": w.ref, "kind": w.kind, "pods": n} for w, n in held.most_common(4)]
    nodes = plural(len(full), "node")
    summary = f"{workload.label} holds {count} of the {slots} pod slots of {nodes} at maxPods"
    kind_advice = {
        "CronJob": "its runs do not finish: set concurrencyPolicy: Forbid and activeDeadlineSeconds on the CronJob, "
                   "and delete the hung Jobs",
        "Job": "set its parallelism lower, or an activeDeadlineSeconds, and delete what hangs",
        "DaemonSet": "every node runs one: fewer DaemonSets, or nodes with a higher maxPods",
    }.get(workload.kind, "scale it down or give it its own nodes")
    return Finding(
        rule="noisy-neighbour",
        severity=Severity.HIGH,
        title=(f"{workload.label} holds {count} of the {slots} pod slots on the {nodes} at maxPods "
               f"({', '.join(f'{n} on {name}' for name, n in sorted(per_node.items())[:3])}"
               f"{', ...' if len(per_node) > 3 else ''}): the scheduler has no slot for {me.ref}'s pods"),
        evidence={
            "workload": workload.ref, "namespace": workload.namespace, "kind": workload.kind, "name": workload.name,
            "resource": "pods", "nodes": sorted(per_node), "pods_held": count, "slots": slots,
            "share": round(count / slots, 3) if slots else None, "per_node": per_node, "top_holders": top,
            "is_service": workload == me, "source": SOURCE, "summary": summary,
        },
        remediation=(f"Free the slots {workload.label} holds: {kind_advice}. Raising the kubelet's maxPods helps "
                     "only where the node's IP addresses (the CNI) and resources allow it; rolling back the service "
                     "frees nothing."),
    )

