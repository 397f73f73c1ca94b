"""rollout: image-size-regression and rollback-candidate.

Revisions come from the Deployment's ReplicaSets (annotation `deployment.kubernetes.io/revision`), or a
StatefulSet's or DaemonSet's ControllerRevisions (`.revision`; the pods carry `controller-revision-hash`). A
revision was live from its ReplicaSet's creation until the next revision's; it was healthy then unless
its pods failed by themselves in that window (crash loops, own OOM kills, pull or config errors, failing
probes: `revision_health`); evictions and other node-level failures say nothing against a revision. The
current revision is judged on its pods now. The candidate finding carries the `implication` facts (its
pods' failures beside the previous revision's, what it changed, when) from which the engine decides
whether to recommend a rollback (`bot.reasoning.rollback`). Nothing is applied: the finding carries the
`kubectl rollout undo` equivalent and the exact JSON patch kubectl would send (REFERENCE §3.5).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from typing import Any

from bot.checks import facts, revision_health, rollout_progress, workload_progress
from bot.cluster.rollback import rollback_patch
from bot.cluster.snapshots import (
    ControllerRevisionSnapshot,
    DeploymentSnapshot,
    EventSnapshot,
    PodSnapshot,
    ReplicaSetSnapshot,
    ServiceWorkload,
    WorkloadSnapshot,
)
from bot.domain import Finding, RollbackCandidate, Severity
from bot.checks.context import CheckContext

RULES = ("image-size-regression", "rollback-candidate", "rollout-held", "rollout-stuck")


class RolloutParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_ratio: float = Field(default=1.5, gt=1, description="Current / previous image size that counts as a regression.")
    min_delta_bytes: int = Field(default=100_000_000, ge=0, description="And at least this many more bytes.")
    max_candidates: int = Field(default=5, ge=1)
    implication_window_hours: float = Field(
        default=24, gt=0, description="Symptoms that begin later than this after a rollout do not implicate it."
    )


@dataclass(frozen=True)
class Revision:
    revision: int
    unit: ReplicaSetSnapshot | ControllerRevisionSnapshot  # what the revision is stored as
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


def _units(ctx: CheckContext) -> tuple[list[ReplicaSetSnapshot | ControllerRevisionSnapshot], int | None]:
    """The revisions as stored, oldest first, and the current one's number. A StatefulSet's current
    revision is its `updateRevision` (what it rolls to, even half done); else the highest number, which a
    rollback bumps to the revision it restores, as `rollout undo` does for a Deployment."""
    owner = facts.workload(ctx)
    if isinstance(owner, DeploymentSnapshot):
        sets = [rs for rs in facts.replicasets(ctx) if rs.revision is not None]
        return list(sets), owner.revision if owner.revision is not None else (sets[-1].revision if sets else None)
    revs = facts.controller_revisions(ctx)
    named = next((r.revision for r in revs if r.name == owner.update_revision), None)
    return list(revs), named if named is not None else (revs[-1].revision if revs else None)


def _revisions(ctx: CheckContext) -> list[Revision]:
    sets, current_rev = _units(ctx)
    events = facts.readable_service_events(ctx, "rollout")
    events_known = facts.events_readable(ctx)
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
            healthy, note = _past_health(ctx, rs, events, rs.created_at, live_until)
            if not events_known:
                note = "events unreadable (forbidden): assumed healthy, no failure evidence either way"
        out.append(
            Revision(
                revision=rs.revision or 0,
                unit=rs,
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


def _current_health(ctx: CheckContext, rs: ReplicaSetSnapshot | ControllerRevisionSnapshot) -> tuple[bool, str]:
    """Unhealthy only when its pods fail by themselves (crash loops, own OOM kills, pull or config errors,
    failing probes). Pods evicted, unschedulable or on NotReady nodes say nothing against the revision."""
    pods = facts.pods(ctx)
    counts, _ = revision_health.failures(rs.name, pods, [], facts.nodes_if_readable(ctx))
    desired, ready = _pods_of(rs, pods)
    own = revision_health.own(counts)
    if own:
        return False, "now: " + ", ".join(f"{n} {k}" for k, n in Counter(own).most_common())
    note = f"now: {ready}/{desired} ready"
    others = {k: n for k, n in counts.items() if k not in own}
    if others:
        note += " (" + ", ".join(f"{n} {k}" for k, n in Counter(others).most_common()) + ": node-level)"
    return True, note


def _pods_of(rs: ReplicaSetSnapshot | ControllerRevisionSnapshot, pods: list[PodSnapshot]) -> tuple[int, int]:
    """How many pods the revision wants and has ready: a ReplicaSet says so; a ControllerRevision is
    counted from the live pods that run it."""
    if isinstance(rs, ReplicaSetSnapshot):
        return rs.replicas or 0, rs.ready_replicas or 0
    live = [p for p in pods if revision_health.runs_revision(p, rs.name) and p.phase not in ("Succeeded", "Failed")]
    return len(live), sum(1 for p in live if p.ready)


def _controller(ctx: CheckContext) -> str | None:
    """The StatefulSet's or DaemonSet's name, whose pods' events are told apart by time (`failures`)."""
    return None if ctx.target.kind == "Deployment" else ctx.target.name



def _past_health(
    ctx: CheckContext, rs: ReplicaSetSnapshot | ControllerRevisionSnapshot, events: list[EventSnapshot], start: datetime | None, end: datetime | None
) -> tuple[bool, str]:
    """Healthy unless its pods failed by themselves while it was live (events in its window, or its pods
    still running now); evictions and other node-level failures say nothing against it."""
    counts, _ = revision_health.failures(rs.name, facts.pods(ctx), events, facts.nodes_if_readable(ctx), start=start, end=end,
                                         controller=_controller(ctx))
    own = revision_health.own(counts)
    if own:
        return False, "failures while live: " + ", ".join(f"{n}× {k}" for k, n in Counter(own).most_common())
    return True, "no failures of its own while live"


def implication(ctx: CheckContext, current: Revision, params: RolloutParams) -> dict[str, Any]:
    """The facts that say whether the current revision is to blame, for the engine's rollback decision
    (`bot.reasoning.rollback`): its pods' failures beside the previous revision's, what it changed, and
    when its failures began against when it rolled out."""
    nodes = facts.nodes_if_readable(ctx)
    pods = facts.pods(ctx)
    events = facts.readable_service_events(ctx, "rollout")
    controller = _controller(ctx)
    counts, since = revision_health.failures(current.unit.name, pods, events, nodes, start=current.live_from,
                                             controller=controller)
    earlier = [r for r in revisions(ctx) if r.revision < current.revision and r.unit.template != current.unit.template]
    previous = earlier[-1] if earlier else None
    # Revisions rolled out one after another that each failed by themselves (a "fix" rolled forward over a
    # bad rollout): the current one is compared with the last good revision before them, and the trouble
    # is dated from the first bad one's rollout.
    good = next((r for r in reversed(earlier) if r.healthy), None)
    streak = [r for r in earlier if good is not None and r.revision > good.revision and not r.healthy]
    if good is not None and streak and len(streak) == len([r for r in earlier if r.revision > good.revision]):
        previous = good
        for bad in streak:
            _, began = revision_health.failures(bad.unit.name, pods, events, nodes, start=bad.live_from,
                                                end=bad.live_until, controller=controller)
            since = min((t for t in (since, began) if t is not None), default=None)
    else:
        streak = []
    before: dict[str, int] = {}
    changed: list[dict[str, str]] = []
    if previous is not None:
        prev_counts, _ = revision_health.failures(
            previous.unit.name, pods, events, nodes, start=previous.live_from, end=previous.live_until,
            controller=controller,
        )
        before = dict(prev_counts)
        changed = revision_health.changes(previous.unit.template, current.unit.template)
    what = {c["what"] for c in changed}
    if counts.get("registry-auth") and what & {"registry", "pull-secrets"}:
        # Refused credentials for a registry or secret the revision itself switched to: its own pull error.
        counts["pull-error"] += counts.pop("registry-auth")
    explained = {
        kind: sorted(what & set(revision_health.EXPLAINS[kind])) for kind in revision_health.own(counts)
    }
    ready = sum(1 for p in pods if p.ready and revision_health.runs_revision(p, current.unit.name))
    return {
        "current_revision": current.revision,
        "rolled_out_at": facts.ts(current.live_from),
        "failures": dict(counts),
        "own_failures": revision_health.own(counts),
        "failing_since": facts.ts(since),
        "previous_revision": previous.revision if previous else None,
        "failed_between": [r.revision for r in streak],
        "trouble_rolled_out_at": facts.ts(streak[0].live_from if streak else current.live_from),
        "previous_failures": before,
        "changes": changed,
        "restart_only": previous is not None and revision_health.metadata_only(previous.unit.template,
                                                                                current.unit.template),
        "explained_by": explained,
        "pods_ready": ready,
        "replicas": _desired(ctx, current),
        "window_hours": params.implication_window_hours,
        "now": facts.ts(ctx.now),
    }


def _desired(ctx: CheckContext, current: Revision) -> int | None:
    """The pods the current revision should run: its ReplicaSet's replicas, or the workload's."""
    if isinstance(current.unit, ReplicaSetSnapshot):
        return current.unit.replicas
    return facts.workload(ctx).replicas


def undo_command(namespace: str, name: str, revision: int, *, context: str | None = None,
                 kind: str = "Deployment") -> str:
    """kubectl undoes a Deployment, a StatefulSet and a DaemonSet alike (`rollout undo KIND/NAME`)."""
    context_flag = f" --context {context}" if context else ""
    return f"kubectl{context_flag} rollout undo {kind.lower()}/{name} -n {namespace} --to-revision={revision}"


def _patch(owner: ServiceWorkload, unit: ReplicaSetSnapshot | ControllerRevisionSnapshot) -> tuple[dict[str, Any], ...]:
    """What the undo changes: for a Deployment, kubectl's JSON patch; for a StatefulSet or DaemonSet, the
    ControllerRevision's template, which kubectl applies as a strategic merge patch replacing the template."""
    if isinstance(owner, DeploymentSnapshot) and isinstance(unit, ReplicaSetSnapshot):
        return rollback_patch(owner, unit)
    return ({"op": "replace", "path": "/spec/template", "value": dict(unit.template)},)


def candidates(ctx: CheckContext, max_candidates: int = 10) -> list[RollbackCandidate]:
    """Earlier revisions, ranked: healthy before unhealthy, newest first. The first healthy one is recommended."""
    dep = facts.workload(ctx)
    revs = [r for r in revisions(ctx) if not r.current]
    current = next((r for r in revisions(ctx) if r.current), None)
    if current is not None:
        # A revision whose image is the current one changes nothing when rolled back to.
        revs = [r for r in revs if r.image != current.image or r.unit.template != current.unit.template]
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
                undo_command=undo_command(dep.namespace, dep.name, r.revision, kind=dep.kind),
                patch=_patch(dep, r.unit),
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
    owner = facts.workload(ctx)
    halted: Finding | None = None
    if isinstance(owner, DeploymentSnapshot) and isinstance(current.unit, ReplicaSetSnapshot):
        # A Deployment says it is stuck in its Progressing condition; a StatefulSet and a DaemonSet only
        # in their rolling update's counters.
        older = [r.unit for r in revs if not r.current and isinstance(r.unit, ReplicaSetSnapshot)]
        halted = rollout_progress.stuck(ctx, owner, current.unit, older)
    elif isinstance(owner, WorkloadSnapshot) and isinstance(current.unit, ControllerRevisionSnapshot):
        history = [r.unit for r in revs if not r.current and isinstance(r.unit, ControllerRevisionSnapshot)]
        halted = workload_progress.progress(ctx, owner, current.unit, history)
    if halted is not None:
        out.append(halted)
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
    dep = facts.workload(ctx)
    paused = isinstance(dep, DeploymentSnapshot) and dep.paused
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
    why = implication(ctx, current, params)
    if recommended is None:
        return [
            Finding(
                rule="rollback-candidate",
                severity=Severity.MEDIUM if trouble else Severity.INFO,
                title=f"No earlier revision of {dep.namespace}/{dep.name} was healthy: no rollback to recommend",
                evidence={"current_revision": current.revision, "candidates": listing, "implication": why},
            )
        ]
    rev = next(r for r in revisions(ctx) if r.revision == recommended.revision)
    window = ""
    if recommended.live_from:
        window = f", live {recommended.live_from:%Y-%m-%d %H:%M}"
        window += f" → {recommended.live_until:%Y-%m-%d %H:%M}" if recommended.live_until else ""
    # A size no one could read (no image reader) is left out; one whose read failed is said to be unknown.
    size = "" if rev.size_source == facts.NO_IMAGE_READER else f"{facts.human_bytes(recommended.size_bytes)}, "
    notes = []
    if paused:
        notes.append("the Deployment is paused: kubectl refuses to roll back until it is resumed")
    return [
        Finding(
            rule="rollback-candidate",
            severity=Severity.HIGH if trouble else Severity.INFO,
            title=f"Roll back {dep.namespace}/{dep.name} from revision {current.revision} to revision "
            f"{recommended.revision} ({recommended.image}, {size}healthy{window})",
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
                "paused": paused,
                "notes": notes,
                "candidates": listing,
                "implication": why,
            },
            remediation=(f"`kubectl rollout resume deployment/{dep.name} -n {dep.namespace}`, then "
                         f"`{recommended.undo_command}` (kubectl refuses to roll back a paused Deployment; not "
                         "applied: Coroner only recommends)." if paused
                         else f"`{recommended.undo_command}` (not applied: Coroner only recommends)."),
        )
    ]
