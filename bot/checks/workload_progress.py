"""rollout-stuck and rollout-held for a StatefulSet or a DaemonSet, from the controller's own status:
neither kind has a `Progressing` condition, so what a Deployment's progress deadline says is read here
from the rolling update's counters.

- A StatefulSet rolls from the highest ordinal down and waits for each updated pod to be Running and
  Ready before it replaces the next: `updateRevision != currentRevision` with fewer `updatedReplicas`
  than it should have is halted when an updated pod is not ready (or, all of them ready, an old one). Ordinals below
  `rollingUpdate.partition` are held back on purpose, and an `OnDelete` StatefulSet never replaces a pod
  by itself: both are `rollout-held` (info), not stuck.
- A DaemonSet replaces an old pod only while fewer than `maxUnavailable` of its pods are unavailable:
  `updatedNumberScheduled < desiredNumberScheduled` with `numberUnavailable >= maxUnavailable` leaves it
  no room to go on (the controller's own test is `>=`).

Stuck means for longer than `DEADLINE_SECONDS` since the newest ControllerRevision was created: the
Deployment's `progressDeadlineSeconds` default, so that every kind is called stuck after the same wait.
The evidence carries the Deployment finding's keys (`rollout_progress`) plus the kind's own counters.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from bot.checks import facts, revision_health
from bot.checks.context import CheckContext
from bot.cluster.snapshots import ControllerRevisionSnapshot, PodSnapshot, WorkloadSnapshot
from bot.domain import Finding, Severity

DEADLINE_SECONDS = 600  # a Deployment's default progressDeadlineSeconds
ORDERED_HALT = "OrderedUpdateHalted"
MAX_UNAVAILABLE = "MaxUnavailable"
PARTITIONED = "Partitioned"
ON_DELETE = "OnDelete"


def progress(ctx: CheckContext, owner: WorkloadSnapshot, current: ControllerRevisionSnapshot,
             older: Sequence[ControllerRevisionSnapshot]) -> Finding | None:
    """The rollout-stuck or rollout-held finding of the workload's update, or None when it is done or
    still within the deadline."""
    desired = owner.replicas or 0
    updated = owner.updated_replicas or 0
    if owner.kind == "StatefulSet":
        rolling = owner.update_revision is not None and owner.current_revision is not None \
            and owner.update_revision != owner.current_revision
        if not rolling or updated >= desired:
            return None
    elif owner.kind != "DaemonSet" or updated >= desired:
        return None
    pods = [p for p in facts.pods(ctx) if p.phase not in ("Succeeded", "Failed")]
    new = [p for p in pods if revision_health.runs_revision(p, current.name)]
    if owner.update_strategy == ON_DELETE:
        return _held(owner, current, ON_DELETE, updated, desired,
                     f"uses the OnDelete strategy: the controller replaces no pod by itself, {updated} of {desired} "
                     f"run revision {current.revision}",
                     f"Delete the old pods one at a time (`kubectl delete pod -n {owner.namespace} <pod>`) to roll on.")
    not_ready = [p for p in new if not p.ready]
    if owner.kind == "StatefulSet" and owner.partition and not not_ready and updated >= desired - owner.partition:
        return _held(owner, current, PARTITIONED, updated, desired,
                     f"is partitioned at {owner.partition}: ordinals {owner.partition} and up run revision "
                     f"{current.revision}, the {owner.partition} below stay on the old one on purpose",
                     f"Lower `spec.updateStrategy.rollingUpdate.partition` to roll the rest of statefulset/{owner.name}.")
    if not _overdue(ctx, current):
        return None
    if owner.kind == "StatefulSet":
        # The controller replaces the next pod only while none is unavailable (its rolling update's
        # maxUnavailable defaults to 1): an updated pod that is not ready holds it, and so does an old one.
        held_by = not_ready or [p for p in pods if not p.ready]
        if not held_by:
            return None  # every pod is ready: the controller goes on by itself
        waiting = min(held_by, key=_ordinal)
        return _stuck(ctx, owner, current, older, pods, ORDERED_HALT, {
            "halted_at": waiting.name, "ordinal": _ordinal(waiting), "partition": owner.partition,
            "message": f"updatedReplicas {updated} < replicas {desired}: the rolling update waits for "
                       f"{waiting.name} to be ready"})
    allowed = _max_unavailable(owner.max_unavailable, desired)
    if owner.unavailable < allowed:
        return None
    return _stuck(ctx, owner, current, older, pods, MAX_UNAVAILABLE, {
        "max_unavailable": allowed, "unavailable": owner.unavailable,
        "message": f"updatedNumberScheduled {updated} < desiredNumberScheduled {desired} with numberUnavailable "
                   f"{owner.unavailable} >= maxUnavailable {allowed}: no old pod may be replaced"})


def _stuck(ctx: CheckContext, owner: WorkloadSnapshot, current: ControllerRevisionSnapshot,
           older: Sequence[ControllerRevisionSnapshot], pods: list[PodSnapshot], reason: str,
           extra: dict[str, object]) -> Finding:
    nodes = facts.nodes_if_readable(ctx)
    new = [p for p in pods if revision_health.runs_revision(p, current.name)]
    new_ready = sum(1 for p in new if p.ready)
    failing = Counter(kind for p in new if not p.ready and (kind := revision_health.pod_failure(p, nodes)) is not None)
    old = []
    for rev in older:
        mine = [p for p in pods if revision_health.runs_revision(p, rev.name)]
        if mine:
            old.append({"revision": rev.revision, "pods": len(mine), "ready": sum(1 for p in mine if p.ready)})
    where = f"{owner.namespace}/{owner.name}"
    since = current.created_at
    when = f" since {since:%Y-%m-%d %H:%M}" if since else ""
    why = f" ({', '.join(f'{n} {k}' for k, n in failing.most_common())})" if failing else ""
    serving = "; ".join(f"revision {o['revision']} still serves {o['ready']} ready of {o['pods']} pods" for o in old) \
        or "no older revision has pods left"
    desired = owner.replicas or 0
    if reason == ORDERED_HALT:
        halt = f"halted at ordinal {extra['ordinal']} ({extra['halted_at']} not ready{why})"
    else:
        halt = f"halted by maxUnavailable {extra['max_unavailable']} ({extra['unavailable']} unavailable{why})"
    title = (f"The rollout of revision {current.revision} of {owner.kind} {where} is stuck{when}: {halt}; "
             f"{owner.updated_replicas or 0} of {desired} pods updated, {new_ready} ready; {serving}")
    return Finding(
        rule="rollout-stuck",
        severity=Severity.MEDIUM,
        title=title,
        evidence={
            "reason": reason,
            "paused": False,
            "since": facts.ts(since),
            "revision": current.revision,
            "desired": desired,
            "new_pods": len(new),
            "new_ready": new_ready,
            "new_failures": dict(failing),
            "old": old,
            "old_ready": sum(int(o["ready"]) for o in old),
            "kind": owner.kind,
            "updated": owner.updated_replicas or 0,
            "deadline_seconds": DEADLINE_SECONDS,
            **extra,
        },
        remediation="The controller waits, it has not given up: the rollout goes on once the new pods become "
        "ready. Free what holds them back (pods-not-ready says who), or roll back if they fail by themselves "
        "(the rollback decision says whether they do).",
    )


def _held(owner: WorkloadSnapshot, current: ControllerRevisionSnapshot, reason: str, updated: int, desired: int,
          what: str, advice: str) -> Finding:
    return Finding(
        rule="rollout-held",
        severity=Severity.INFO,
        title=f"The rollout of revision {current.revision} of {owner.kind} {owner.namespace}/{owner.name} {what}",
        evidence={"reason": reason, "kind": owner.kind, "revision": current.revision, "updated": updated,
                  "desired": desired, "partition": owner.partition, "strategy": owner.update_strategy},
        remediation=advice,
    )


def _overdue(ctx: CheckContext, current: ControllerRevisionSnapshot) -> bool:
    return current.created_at is not None and (ctx.now - current.created_at).total_seconds() > DEADLINE_SECONDS


def _max_unavailable(value: int | str | None, desired: int) -> int:
    """The DaemonSet controller scales a percentage of desiredNumberScheduled rounding up; unset is 1."""
    if isinstance(value, str):
        try:
            return math.ceil(desired * float(value.rstrip("%")) / 100)
        except ValueError:
            return 1  # not a percentage the API would have accepted: the controller's default
    return 1 if value is None else value


def _ordinal(pod: PodSnapshot) -> int:
    tail = pod.name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1

