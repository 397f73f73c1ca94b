"""Builds timeline entries from what the cluster remembers: Kubernetes events, rollout revisions,
node-condition transitions, and from Coroner's own findings.

Every entry has a stable `key`, so gathering the same fact twice (a PagerDuty retry, a second
`/diagnose`) never makes a second line. `merge` deduplicates and orders.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime

from bot.cluster.snapshots import ControllerRevisionSnapshot, EventSnapshot, NodeSnapshot, ReplicaSetSnapshot
from bot.domain import Finding, TimelineEntry
from bot.render.order import order_timeline

BAD_CONDITIONS = {"DiskPressure": "True", "MemoryPressure": "True", "PIDPressure": "True", "NetworkUnavailable": "True"}


# Normal events that only narrate a pod's life; the report keeps warnings and the ones that explain.
ROUTINE_REASONS = frozenset({"Scheduled", "Pulling", "Created", "Started", "SuccessfulCreate", "SuccessfulDelete", "Killing"})
_IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")


def _shape(ev: EventSnapshot) -> str:
    """The message with the object's own name and IPs blanked, so the same failure on 12 pods is one line."""
    return _IP.sub("<ip>", ev.message.strip().replace(ev.involved_name, "{name}"))


def event_entries(events: Iterable[EventSnapshot], *, routine: bool = False, group_seconds: int = 60) -> list[TimelineEntry]:
    """Events as timeline lines, at their first occurrence, repeats counted.

    The same reason and message on several objects of one kind within `group_seconds` is one line
    naming them ("3 pods: Failed: ..."); routine Normal events (Scheduled, Pulling, Created, ...) are
    left out unless `routine`.
    """
    groups: dict[tuple[str, str, str, int], list[EventSnapshot]] = {}
    for ev in events:
        at = ev.first_at or ev.last_at
        if at is None or (not routine and ev.type == "Normal" and ev.reason in ROUTINE_REASONS):
            continue
        bucket = int(at.timestamp()) // group_seconds
        groups.setdefault((ev.involved_kind, ev.reason, _shape(ev), bucket), []).append(ev)
    out = []
    for (kind, reason, shape, _), members in groups.items():
        members.sort(key=lambda e: (e.first_at or e.last_at, e.involved_name))
        first = members[0]
        at = first.first_at or first.last_at
        assert at is not None
        count = sum(e.count for e in members)
        last = max((e.last_at for e in members if e.last_at), default=None)
        repeats = ""
        if count > len(members):
            repeats = f" (×{count}"
            repeats += f", last {last:%H:%M:%S})" if last and last != at else ")"
        if len(members) == 1:
            subject = f"{kind} {first.involved_name}"
            message = first.message.strip()
        else:
            names = sorted({e.involved_name for e in members})
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            subject = f"{len(names)} {_plural(kind)} ({shown})"
            message = shape.replace("{name}", "<" + kind.lower() + ">")
        out.append(
            TimelineEntry(
                at=at,
                source="kubernetes",
                text=f"{subject}: {reason}: {message}{repeats}",
                key=(
                    f"k8s-event:{first.uid}"
                    if len(members) == 1 and first.uid
                    else f"k8s-event:{first.namespace}/{kind}/{reason}/{hashlib.sha1(shape.encode()).hexdigest()[:12]}/{at.isoformat()}"
                    + ("" if len(members) == 1 else "/group")
                ),
            )
        )
    return out


def _plural(kind: str) -> str:
    return {"Pod": "pods", "Node": "nodes", "ReplicaSet": "replicasets"}.get(kind, kind.lower() + "s")


# Node events that only restate a condition transition; `condition_entries` already tells it, with the reason.
CONDITION_EVENTS = {
    "NodeNotReady": "Ready",
    "NodeHasDiskPressure": "DiskPressure",
    "NodeHasInsufficientMemory": "MemoryPressure",
    "NodeHasInsufficientPID": "PIDPressure",
}


def node_event_entries(events: Iterable[EventSnapshot], nodes: Iterable[NodeSnapshot]) -> list[TimelineEntry]:
    """Events of these nodes, minus those a current bad condition of the node already records."""
    by_name = {n.name: n for n in nodes}
    kept = []
    for ev in events:
        node = by_name.get(ev.involved_name)
        if node is None:
            continue
        cond_type = CONDITION_EVENTS.get(ev.reason)
        cond = node.condition(cond_type) if cond_type else None
        if cond is not None and condition_entries([NodeSnapshot(node.name, {}, False, (cond,), ())]):
            continue
        kept.append(ev)
    return event_entries(kept)


def revision_entries(
    namespace: str, deployment: str, replicasets: Iterable[ReplicaSetSnapshot | ControllerRevisionSnapshot], *,
    container: str | None = None, kind: str = "Deployment",
) -> list[TimelineEntry]:
    """When each revision rolled out: a Deployment's ReplicaSets, a StatefulSet's or DaemonSet's
    ControllerRevisions (`kind` names the workload)."""
    out = []
    for rs in replicasets:
        stored = "ReplicaSet" if isinstance(rs, ReplicaSetSnapshot) else "ControllerRevision"
        if rs.revision is None or rs.created_at is None:
            continue
        chosen = next((c for c in rs.containers if c.name == container), rs.containers[0] if rs.containers else None)
        image = f": image {chosen.image}" if chosen else ""
        out.append(
            TimelineEntry(
                at=rs.created_at,
                source="rollout",
                text=f"{kind} {namespace}/{deployment} revision {rs.revision} rolled out ({stored} {rs.name}){image}",
                key=f"rollout:{namespace}/{deployment}:{rs.revision}:{rs.name}",
            )
        )
    return out


def condition_entries(nodes: Iterable[NodeSnapshot]) -> list[TimelineEntry]:
    """The transition into each node's current bad state: pressure conditions True, Ready not True."""
    out = []
    for node in nodes:
        for cond in node.conditions:
            bad = (cond.type == "Ready" and cond.status != "True") or BAD_CONDITIONS.get(cond.type) == cond.status
            if not bad or cond.last_transition is None:
                continue
            state = ("NotReady" if cond.status == "False" else "Ready=Unknown") if cond.type == "Ready" else cond.type
            why = f" ({cond.reason}" + (f": {cond.message}" if cond.message else "") + ")" if cond.reason else ""
            out.append(
                TimelineEntry(
                    at=cond.last_transition,
                    source="node",
                    text=f"Node {node.name} {state}{why}",
                    key=f"node-condition:{node.name}:{cond.type}:{cond.status}:{cond.last_transition.isoformat()}",
                )
            )
    return out


def finding_entries(findings: Iterable[Finding], *, at: datetime, incident: str | None = None) -> list[TimelineEntry]:
    """Coroner's findings, at the time the diagnosis ran."""
    scope = incident or "diagnosis"
    return [
        TimelineEntry(
            at=at,
            source="coroner",
            text=f"Coroner finds {f.rule} ({f.severity.value}): {f.title}",
            key=f"finding:{scope}:{f.rule}:{f.title}",
        )
        for f in findings
    ]


def merge(*groups: Iterable[TimelineEntry], limit: int | None = None) -> list[TimelineEntry]:
    """Deduplicated by key (first wins), in the one timeline order (`bot.render.order`). `limit` keeps the
    latest entries."""
    return order_timeline((entry for group in groups for entry in group), limit=limit)
