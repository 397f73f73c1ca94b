"""rollout: image-size-regression and rollback-candidate.

Revisions come from the Deployment's ReplicaSets (annotation `deployment.kubernetes.io/revision`). A
revision was live from its ReplicaSet's creation until the next revision's; it was healthy then unless
the events of its pods in that window show failures (crash loops, failed pulls, probe failures,
evictions). The current revision is judged on its pods now. Nothing is applied: the finding carries
the `kubectl rollout undo` equivalent and the exact JSON patch kubectl would send (REFERENCE §3.5).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from bot.checks import facts
from bot.cluster.rollback import rollback_patch
from bot.cluster.snapshots import EventSnapshot, ReplicaSetSnapshot
from bot.checks.workload import PULL_FAILURES
from bot.domain import Finding, RollbackCandidate, Severity
from bot.checks.context import CheckContext

RULES = ("image-size-regression", "rollback-candidate")

FAILURE_REASONS = {"BackOff", "Failed", "Unhealthy", "Evicted", "OOMKilling", "ErrImagePull", "FailedCreate"}


class RolloutParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_ratio: float = Field(default=1.5, gt=1, description="Current / previous image size that counts as a regression.")
    min_delta_bytes: int = Field(default=100_000_000, ge=0, description="And at least this many more bytes.")
    max_candidates: int = Field(default=5, ge=1)


@dataclass(frozen=True)
class Revision:
    revision: int
    replicaset: ReplicaSetSnapshot
    image: str | None
    size_bytes: int | None
    size_source: str
    live_from: datetime | None
    live_until: datetime | None
    current: bool
    healthy: bool
    health_note: str


def revisions(ctx: CheckContext) -> list[Revision]:
    """Every revision, oldest first; memoised for the run (diagnose and hpa use it too)."""
    return ctx.memo("revisions", lambda: _revisions(ctx))


def _revisions(ctx: CheckContext) -> list[Revision]:
    dep = facts.deployment(ctx)
    sets = [rs for rs in facts.replicasets(ctx) if rs.revision is not None]
    events = facts.readable_service_events(ctx, "rollout")
    events_known = facts.events_readable(ctx)
    current_rev = dep.revision if dep.revision is not None else (sets[-1].revision if sets else None)
    out: list[Revision] = []
    for index, rs in enumerate(sets):
        following = sets[index + 1] if index + 1 < len(sets) else None
        live_until = following.created_at if following else None
        container = facts.pick_container(ctx, rs.containers)
        image = container.image if container else None
        size = facts.image_size(ctx, image) if image else facts.ImageSize(None, "unknown")
        current = rs.revision == current_rev
        if current:
            healthy, note = _current_health(ctx, rs)
        else:
            healthy, note = _past_health(rs, events, rs.created_at, live_until)
            if not events_known:
                note = "events unreadable (forbidden): assumed healthy, no failure evidence either way"
        out.append(
            Revision(
                revision=rs.revision or 0,
                replicaset=rs,
                image=image,
                size_bytes=size.bytes,
                size_source=size.source,
                live_from=rs.created_at,
                live_until=None if current else live_until,
                current=current,
                healthy=healthy,
                health_note=note,
            )
        )
    return out


def _current_health(ctx: CheckContext, rs: ReplicaSetSnapshot) -> tuple[bool, str]:
    pods = [p for p in facts.pods(ctx) if any(o.name == rs.name for o in p.owners) or p.name.startswith(f"{rs.name}-")]
    bad = Counter(
        c.state_reason
        for p in pods
        for c in p.containers
        if c.state == "waiting" and c.state_reason and (c.state_reason == "CrashLoopBackOff" or c.state_reason in PULL_FAILURES)
    )
    desired = rs.replicas or 0
    ready = rs.ready_replicas or 0
    if bad:
        return False, "now: " + ", ".join(f"{n} {r}" for r, n in bad.most_common())
    if desired and ready < desired:
        return False, f"now: {ready}/{desired} ready"
    return True, f"now: {ready}/{desired} ready"


def _past_health(
    rs: ReplicaSetSnapshot, events: list[EventSnapshot], start: datetime | None, end: datetime | None
) -> tuple[bool, str]:
    prefix = f"{rs.name}-"
    failures: Counter[str] = Counter()
    for ev in events:
        if ev.type != "Warning" or ev.reason not in FAILURE_REASONS:
            continue
        if not (ev.involved_name == rs.name or ev.involved_name.startswith(prefix)):
            continue
        at = ev.last_at or ev.first_at
        if at is not None and ((start and at < start) or (end and at > end)):
            continue
        failures[ev.reason] += ev.count
    if failures:
        return False, "failure events while live: " + ", ".join(f"{n}× {r}" for r, n in failures.most_common())
    return True, "no failure events while live"


def undo_command(namespace: str, name: str, revision: int, *, context: str | None = None) -> str:
    context_flag = f" --context {context}" if context else ""
    return f"kubectl{context_flag} rollout undo deployment/{name} -n {namespace} --to-revision={revision}"


def candidates(ctx: CheckContext, max_candidates: int = 10) -> list[RollbackCandidate]:
    """Earlier revisions, ranked: healthy before unhealthy, newest first. The first healthy one is recommended."""
    dep = facts.deployment(ctx)
    revs = [r for r in revisions(ctx) if not r.current]
    current = next((r for r in revisions(ctx) if r.current), None)
    if current is not None:
        # A revision whose image is the current one changes nothing when rolled back to.
        revs = [r for r in revs if r.image != current.image or r.replicaset.template != current.replicaset.template]
    ranked = sorted(revs, key=lambda r: (not r.healthy, -r.revision))[:max_candidates]
    out = []
    for index, r in enumerate(ranked):
        out.append(
            RollbackCandidate(
                revision=r.revision,
                image=r.image or "",
                size_bytes=r.size_bytes,
                healthy=r.healthy,
                live_from=r.live_from,
                live_until=r.live_until,
                recommended=index == 0 and r.healthy,
                undo_command=undo_command(dep.namespace, dep.name, r.revision),
                patch=rollback_patch(dep, r.replicaset),
            )
        )
    return out


def run(ctx: CheckContext, params: RolloutParams) -> list[Finding]:
    revs = revisions(ctx)
    out: list[Finding] = []
    current = next((r for r in revs if r.current), None)
    if current is None:
        return out
    regression = _size_regression(current, [r for r in revs if r.revision < current.revision], params)
    if regression is not None:
        out.append(regression)
    out += _rollback(ctx, current, regression is not None, params)
    return out


def _size_regression(current: Revision, earlier: list[Revision], params: RolloutParams) -> Finding | None:
    previous = next((r for r in reversed(earlier) if r.size_bytes and r.image != current.image), None)
    if previous is None or not current.size_bytes or not previous.size_bytes:
        return None
    ratio = current.size_bytes / previous.size_bytes
    delta = current.size_bytes - previous.size_bytes
    if ratio < params.min_ratio or delta < params.min_delta_bytes:
        return None
    severity = Severity.CRITICAL if ratio >= 5 and current.size_bytes >= 1_000_000_000 else (
        Severity.HIGH if ratio >= 2 else Severity.MEDIUM
    )
    return Finding(
        rule="image-size-regression",
        severity=severity,
        title=f"Revision {current.revision}'s image is {facts.human_bytes(current.size_bytes)}, {ratio:.1f}× "
        f"revision {previous.revision}'s {facts.human_bytes(previous.size_bytes)} (+{facts.human_bytes(delta)})",
        evidence={
            "ratio": round(ratio, 2),
            "bytes": delta,
            "current_revision": current.revision,
            "current_image": current.image,
            "current_size_bytes": current.size_bytes,
            "current_size_source": current.size_source,
            "previous_revision": previous.revision,
            "previous_image": previous.image,
            "previous_size_bytes": previous.size_bytes,
            "previous_size_source": previous.size_source,
        },
        remediation="Every node pulling this image needs that much more disk and registry egress; see the "
        "image and dockerfile findings for where the bytes come from.",
    )


def _rollback(ctx: CheckContext, current: Revision, regression: bool, params: RolloutParams) -> list[Finding]:
    dep = facts.deployment(ctx)
    ranked = candidates(ctx, params.max_candidates)
    if not ranked:
        return []
    listing = [
        {
            "revision": c.revision,
            "image": c.image,
            "size_bytes": c.size_bytes,
            "healthy": c.healthy,
            "live_from": facts.ts(c.live_from),
            "live_until": facts.ts(c.live_until),
        }
        for c in ranked
    ]
    recommended = next((c for c in ranked if c.recommended), None)
    trouble = not current.healthy or regression
    if recommended is None:
        return [
            Finding(
                rule="rollback-candidate",
                severity=Severity.MEDIUM if trouble else Severity.INFO,
                title=f"No earlier revision of {dep.namespace}/{dep.name} was healthy: no rollback to recommend",
                evidence={"current_revision": current.revision, "candidates": listing},
            )
        ]
    rev = next(r for r in revisions(ctx) if r.revision == recommended.revision)
    window = ""
    if recommended.live_from:
        window = f", live {recommended.live_from:%Y-%m-%d %H:%M}"
        window += f" → {recommended.live_until:%Y-%m-%d %H:%M}" if recommended.live_until else ""
    notes = []
    if dep.paused:
        notes.append("the Deployment is paused: kubectl refuses to roll back until it is resumed")
    return [
        Finding(
            rule="rollback-candidate",
            severity=Severity.HIGH if trouble else Severity.INFO,
            title=f"Roll back {dep.namespace}/{dep.name} from revision {current.revision} to revision "
            f"{recommended.revision} ({recommended.image}, {facts.human_bytes(recommended.size_bytes)}, healthy{window})",
            evidence={
                "current_revision": current.revision,
                "current_healthy": current.healthy,
                "current_health": current.health_note,
                "revision": recommended.revision,
                "image": recommended.image,
                "size_bytes": recommended.size_bytes,
                "health": rev.health_note,
                "live_from": facts.ts(recommended.live_from),
                "live_until": facts.ts(recommended.live_until),
                "undo_command": recommended.undo_command,
                "patch": [dict(p) for p in recommended.patch],
                "paused": dep.paused,
                "notes": notes,
                "candidates": listing,
            },
            remediation=f"`{recommended.undo_command}` (not applied: Coroner only recommends).",
        )
    ]
