"""nodes: node-not-ready, node-pressure, node-cordoned.

Nodes hosting the service's pods are reported first, one finding each; beyond `max_nodes` the rest of
the cluster is summed up in one finding per rule, so 2,000 nodes never make 2,000 lines.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from bot.checks import facts
from bot.cluster.snapshots import Condition, NodeSnapshot
from bot.domain import Finding, Severity
from bot.ports import ClusterReadError
from bot.checks.context import CheckContext

RULES = ("node-not-ready", "node-pressure", "node-cordoned")
PRESSURES = ("DiskPressure", "MemoryPressure", "PIDPressure")


class NodesParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_nodes: int = Field(default=10, ge=1, description="Individual findings per rule before summing up.")
    scope: str = Field(default="cluster", pattern="^(cluster|service)$", description="All nodes, or only the service's.")


def run(ctx: CheckContext, params: NodesParams) -> list[Finding]:
    all_nodes = facts.nodes(ctx)
    mine = facts.readable_service_node_names(ctx)
    if params.scope == "service":
        all_nodes = [n for n in all_nodes if n.name in mine]
    # The service's nodes first, then by name: the ones that matter to this incident lead.
    ordered = sorted(all_nodes, key=lambda n: (n.name not in mine, n.name))
    not_ready = [(n, _ready_finding(ctx, n, n.name in mine)) for n in ordered if not n.ready]
    pressure = [
        (n, _pressure_finding(ctx, n, c, n.name in mine))
        for n in ordered
        for c in n.conditions
        if c.type in PRESSURES and c.status == "True"
    ]
    cordoned_at = _cordoned_at(ctx) if any(n.unschedulable for n in ordered) else {}
    cordoned = [(n, _cordon_finding(n, n.name in mine, cordoned_at.get(n.name))) for n in ordered if n.unschedulable]
    out: list[Finding] = []
    for rule, hits in (("node-not-ready", not_ready), ("node-pressure", pressure), ("node-cordoned", cordoned)):
        out.extend(f for _, f in hits[: params.max_nodes])
        rest = hits[params.max_nodes :]
        if rest:
            out.append(_rest_finding(rule, rest, len(all_nodes)))
    return out


def _since(ctx: CheckContext, cond: Condition | None) -> tuple[str, dict[str, object]]:
    if cond is None or cond.last_transition is None:
        return "", {}
    age = (ctx.now - cond.last_transition).total_seconds()
    text = f" since {cond.last_transition:%Y-%m-%d %H:%M:%S}"
    if 0 <= age < 7 * 86400:  # older than a week, the date says enough
        text += f" ({facts.human_duration(age)})"
    return text, {"since": cond.last_transition.isoformat()}


def _ready_finding(ctx: CheckContext, node: NodeSnapshot, hosts_service: bool) -> Finding:
    cond = node.condition("Ready")
    since, evidence = _since(ctx, cond)
    status = cond.status if cond else "missing"
    reason = (cond.reason or "") if cond else "no Ready condition"
    detail = f": {reason}" if reason else ""
    if cond and cond.message:
        detail += f" ({cond.message})"
    return Finding(
        rule="node-not-ready",
        severity=Severity.CRITICAL if hosts_service else Severity.HIGH,
        title=f"Node {node.name} is NotReady{since}{detail}",
        evidence={
            "node": node.name,
            "ready": status,
            "reason": reason,
            "message": cond.message if cond else None,
            "hosts_service": hosts_service,
            **evidence,
        },
        remediation="Check the kubelet and container runtime on the node; pods there are not being served.",
    )


def _pressure_finding(ctx: CheckContext, node: NodeSnapshot, cond: Condition, hosts_service: bool) -> Finding:
    since, evidence = _since(ctx, cond)
    reason = f": {cond.reason}" if cond.reason else ""
    severity = Severity.HIGH if hosts_service or cond.type == "DiskPressure" else Severity.MEDIUM
    return Finding(
        rule="node-pressure",
        severity=severity,
        title=f"Node {node.name} has {cond.type}{since}{reason}",
        evidence={
            "node": node.name,
            "condition": cond.type,
            "reason": cond.reason,
            "message": cond.message,
            "hosts_service": hosts_service,
            **evidence,
        },
        # Which filesystem is full and who uses the memory are node-disk-high's and noisy-neighbour's to say:
        # a node condition alone does not tell whether images are the cause or which workload is.
        remediation={
            "DiskPressure": "The kubelet reclaims disk and evicts pods: see node-disk-high for which filesystem "
            "is full and what fills it before removing anything.",
            "MemoryPressure": "The kubelet evicts pods using more than their requests, lowest priority first: see "
            "noisy-neighbour and blast-radius for who uses the memory.",
            "PIDPressure": "A process is forking without bound: find the pod with the most processes.",
        }.get(cond.type),
    )


def _cordon_finding(node: NodeSnapshot, hosts_service: bool, since: datetime | None) -> Finding:
    at = f" since {since:%Y-%m-%d %H:%M}" if since else ""
    return Finding(
        rule="node-cordoned",
        severity=Severity.LOW,
        title=f"Node {node.name} is cordoned (unschedulable){at}",
        evidence={"node": node.name, "hosts_service": hosts_service, "taints": [dict(t) for t in node.taints]}
        | ({"since": since.isoformat()} if since else {}),
    )


def _cordoned_at(ctx: CheckContext) -> dict[str, datetime]:
    """Node -> when it was last cordoned: the kubelet's NodeNotSchedulable event (the Node object keeps no
    date for spec.unschedulable). Whether a cordon came before a rollout or during it decides which of the
    two the cause blames. Events expire (an hour by default) and may be unreadable: then no date."""
    try:
        events = facts.node_events(ctx)
    except ClusterReadError:
        return {}
    out: dict[str, datetime] = {}
    for ev in events:
        at = ev.last_at or ev.first_at
        if ev.reason == "NodeNotSchedulable" and at is not None and (ev.involved_name not in out or at > out[ev.involved_name]):
            out[ev.involved_name] = at
    return out


_WHAT = {"node-not-ready": "are NotReady", "node-pressure": "report pressure", "node-cordoned": "are cordoned"}


def _rest_finding(rule: str, rest: list[tuple[NodeSnapshot, Finding]], total: int) -> Finding:
    names = sorted({n.name for n, _ in rest})
    shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
    return Finding(
        rule=rule,
        severity=min((f.severity for _, f in rest), key=lambda s: s.rank),  # the worst of them
        title=f"{len(names)} more nodes (of {total}) {_WHAT[rule]}: {shown}",
        evidence={"count": len(rest), "nodes": names, "total_nodes": total},
    )
