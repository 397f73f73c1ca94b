"""rollout-stuck: a rollout that does not progress, because the controller gave up waiting
(`Progressing=False`, ProgressDeadlineExceeded) or because someone paused it halfway (`spec.paused`).

What the on-call needs is the state of the two sides: since when it is stuck, how many new pods are not
ready and why (each pod's failure as `revision_health` reads it: their own, or held back from outside),
and how many ready pods the old ReplicaSets still serve. Whether the new revision is to blame is the
rollback decision's (`bot.reasoning.rollback`); this finding only states the rollout's condition.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bot.checks import facts, revision_health
from bot.checks.context import CheckContext
from bot.cluster.rollback import PROGRESS_DEADLINE_EXCEEDED
from bot.cluster.snapshots import DeploymentSnapshot, PodSnapshot, ReplicaSetSnapshot
from bot.domain import Finding, Severity

PAUSED = "DeploymentPaused"


@dataclass(frozen=True)
class Side:
    """One revision's live pods in the rollout."""

    revision: int
    pods: int
    ready: int


def stuck(ctx: CheckContext, dep: DeploymentSnapshot, current: ReplicaSetSnapshot,
          older: Sequence[ReplicaSetSnapshot]) -> Finding | None:
    progressing = next((c for c in dep.conditions if c.type == "Progressing"), None)
    deadline = not dep.paused and progressing is not None and progressing.reason == PROGRESS_DEADLINE_EXCEEDED
    if not deadline and not dep.paused:
        return None
    pods = [p for p in facts.pods(ctx) if p.phase not in ("Succeeded", "Failed")]
    new = _side(current, pods)
    old = [s for rs in older if (s := _side(rs, pods)).pods]
    desired = dep.replicas or 0
    if dep.paused and not old and new.ready >= desired:
        return None  # paused after the rollout finished: nothing is half done
    since = progressing.last_transition if progressing is not None and progressing.reason in (
        PROGRESS_DEADLINE_EXCEEDED, PAUSED) else None
    failing = Counter(kind for p in _own(current, pods) if not p.ready
                      and (kind := revision_health.pod_failure(p, facts.nodes_if_readable(ctx))) is not None)
    where = f"{dep.namespace}/{dep.name}"
    when = f" since {since:%Y-%m-%d %H:%M}" if since else ""
    not_ready = new.pods - new.ready
    why = f" ({', '.join(f'{n} {k}' for k, n in failing.most_common())})" if failing else ""
    serving = "; ".join(f"revision {s.revision} still serves {s.ready} ready of {s.pods} pods" for s in old) \
        or "no older revision has pods left"
    if deadline:
        title = (f"The rollout of revision {new.revision} of {where} is stuck{when} (ProgressDeadlineExceeded): "
                 f"{not_ready} of {new.pods} new pods not ready{why}; {serving}")
        advice = ("The controller stopped waiting, not the rollout: it goes on once the new pods can become "
                  "ready. Free what holds them back (pods-not-ready says who), or roll back if they fail by "
                  "themselves (the rollback decision says whether they do).")
    else:
        title = (f"The rollout of revision {new.revision} of {where} is paused{when} with {new.pods} of {desired} "
                 f"pods updated, {new.ready} ready{why}; {serving}")
        advice = (f"`kubectl rollout resume deployment/{dep.name} -n {dep.namespace}` lets it finish; to roll "
                  "back, resume it first: kubectl refuses to undo a paused Deployment.")
    return Finding(
        rule="rollout-stuck",
        severity=Severity.MEDIUM if deadline or failing else Severity.LOW,
        title=title,
        evidence={
            "reason": PROGRESS_DEADLINE_EXCEEDED if deadline else PAUSED,
            "paused": dep.paused,
            "since": facts.ts(since),
            "revision": new.revision,
            "desired": desired,
            "new_pods": new.pods,
            "new_ready": new.ready,
            "new_failures": dict(failing),
            "old": [{"revision": s.revision, "pods": s.pods, "ready": s.ready} for s in old],
            "old_ready": sum(s.ready for s in old),
            "message": progressing.message if progressing is not None else None,
        },
        remediation=advice,
    )


def _own(rs: ReplicaSetSnapshot, pods: list[PodSnapshot]) -> list[PodSnapshot]:
    return [p for p in pods if any(o.name == rs.name for o in p.owners) or revision_health.owned_by(p.name, rs.name)]


def _side(rs: ReplicaSetSnapshot, pods: list[PodSnapshot]) -> Side:
    mine = _own(rs, pods)
    return Side(rs.revision or 0, len(mine), sum(1 for p in mine if p.ready))

