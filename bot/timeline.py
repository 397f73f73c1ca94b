"""Builds timeline entries from what the cluster remembers: Kubernetes events, rollout revisions,
node-condition transitions, and from Coroner's own findings.

Every entry has a stable `key`, so gathering the same fact twice (a PagerDuty retry, a second
`/diagnose`) never makes a second line. `merge` deduplicates and orders.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from bot.cluster.snapshots import EventSnapshot, NodeSnapshot, ReplicaSetSnapshot
from bot.domain import Finding, TimelineEntry

BAD_CONDITIONS = {"DiskPressure": "True", "MemoryPressure": "True", "PIDPressure": "True", "NetworkUnavailable": "True"}
_SOURCE_ORDER = {"rollout": 0, "node": 1, "kubernetes": 2, "coroner": 3}


def event_entries(events: Iterable[EventSnapshot]) -> list[TimelineEntry]:
    """One entry per event, at its first occurrence; repeats are counted in the text."""
    out = []
    for ev in events:
        at = ev.first_at or ev.last_at
        if at is None:
            continue
        repeats = ""
        if ev.count > 1:
            repeats = f" (×{ev.count}"
            repeats += f", last {ev.last_at:%H:%M:%S})" if ev.last_at and ev.last_at != at else ")"
        kind = ev.involved_kind
        out.append(
            TimelineEntry(
                at=at,
                source="kubernetes",
                text=f"{kind} {ev.involved_name}: {ev.reason}: {ev.message.strip()}{repeats}",
                key=f"k8s-event:{ev.uid}" if ev.uid else f"k8s-event:{ev.namespace}/{kind}/{ev.involved_name}/{ev.reason}/{at.isoformat()}",
            )
        )
    return out


def revision_entries(
    namespace: str, deployment: str, replicasets: Iterable[ReplicaSetSnapshot], *, container: str | None = None
) -> list[TimelineEntry]:
    out = []
    for rs in replicasets:
        if rs.revision is None or rs.created_at is None:
            continue
        chosen = next((c for c in rs.containers if c.name == container), rs.containers[0] if rs.containers else None)
        image = f": image {chosen.image}" if chosen else ""
        out.append(
            TimelineEntry(
                at=rs.created_at,
                source="rollout",
                text=f"Deployment {namespace}/{deployment} revision {rs.revision} rolled out (ReplicaSet {rs.name}){image}",
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
    """Deduplicated by key (first wins), ordered by time then source. `limit` keeps the latest entries."""
    seen: dict[str, TimelineEntry] = {}
    for group in groups:
        for entry in group:
            seen.setdefault(entry.key, entry)
    ordered = sorted(seen.values(), key=lambda e: (e.at, _SOURCE_ORDER.get(e.source, 9), e.text))
    if limit is not None and len(ordered) > limit:
        ordered = ordered[-limit:]
    return ordered


def render_line(entry: TimelineEntry) -> str:
    """`[2024-05-14 03:02:11] text`, in UTC as the incident report writes it."""
    at = entry.at.astimezone(UTC) if entry.at.tzinfo else entry.at
    return f"[{at:%Y-%m-%d %H:%M:%S}] {entry.text}"
