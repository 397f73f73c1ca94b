"""`kubectl rollout undo` and `kubectl rollout status` for Deployments, as pure functions on snapshots.

The decisions follow kubectl's `polymorphichelpers/rollback.go` (REFERENCE §3.5) and `rollout_status.go`
step by step, so that the rollback Coroner applies is the one an operator would get from kubectl:

1. the revision is the ReplicaSet, among those the Deployment controls, whose annotation
   `deployment.kubernetes.io/revision` is the one asked for (0: the one before the newest);
2. a paused Deployment is refused;
3. nothing is sent when the Deployment's template already equals that ReplicaSet's, `pod-template-hash`
   label aside;
4. otherwise a JSON patch replaces `/spec/template` with the ReplicaSet's template (without the
   `pod-template-hash` label) and `/metadata/annotations` with the ReplicaSet's annotations, except the
   controller's bookkeeping ones, which keep the Deployment's values.

The Deployment controller then makes that ReplicaSet the new one, under the next revision number.
`bot.cluster.kubernetes_rollbacker` does the I/O.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.cluster.snapshots import DeploymentSnapshot, ReplicaSetSnapshot
from bot.ports import RollbackNotFound, RolloutTimeout

REVISION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"
# kubectl polymorphichelpers/rollback.go annotationsToSkip: the Deployment keeps its own values of these.
ANNOTATIONS_TO_SKIP = (
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
)
JSON_PATCH = "application/json-patch+json"
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"


@dataclass(frozen=True)
class RollbackResult:
    """What a rollback did. `message` is kubectl's own line (`deployment.apps/NAME rolled back`)."""

    namespace: str
    name: str
    from_revision: int | None  # the Deployment's revision before the rollback
    to_revision: int  # the revision whose template was restored (0 resolved to the previous one)
    images: tuple[str, ...]  # the restored template's container images
    from_images: tuple[str, ...]  # the images it replaced
    skipped: bool  # the template already matched: nothing was sent
    message: str
    dry_run: bool = False  # the API server validated and authorised the patch but stored nothing
    generation: int | None = None  # the Deployment's generation after the patch (see RolloutProgress)


@dataclass(frozen=True)
class RolloutProgress:
    """One look at a Deployment's rollout, judged as `kubectl rollout status` judges it."""

    namespace: str
    name: str
    generation: int | None
    observed_generation: int | None
    desired: int | None  # spec.replicas
    updated: int  # pods of the new ReplicaSet
    ready: int
    available: int
    total: int  # pods of every ReplicaSet, old ones still terminating included
    revision: int | None  # the new ReplicaSet's revision; None until the controller has seen the change
    done: bool
    failed: bool  # the Deployment exceeded its progress deadline
    message: str  # kubectl's sentence: 'Waiting for deployment "x" rollout to finish: 3 out of 30 ...'

    @property
    def observed(self) -> bool:
        """The controller has acted on the Deployment's latest spec."""
        return _observed(self.generation, self.observed_generation)


def images_of(template: Mapping[str, Any]) -> tuple[str, ...]:
    containers = (template.get("spec") or {}).get("containers") or ()
    return tuple(str(c.get("image", "")) for c in containers)


def _semantic(value: Any) -> Any:
    """JSON as Go's `apiequality.Semantic.DeepEqual` compares it: a nil and an empty map or list are equal."""
    if isinstance(value, Mapping):
        out = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def without_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of a pod template without the `pod-template-hash` label the controller adds."""
    out = copy.deepcopy(dict(template))
    metadata = out.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("labels"), dict):
        metadata["labels"] = {k: v for k, v in metadata["labels"].items() if k != POD_TEMPLATE_HASH}
    return out


def equal_ignore_hash(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """kubectl's `equalIgnoreHash`: the same pod template once `pod-template-hash` is set aside."""
    return bool(_semantic(without_hash(first)) == _semantic(without_hash(second)))


def rollback_patch(dep: DeploymentSnapshot, rs: ReplicaSetSnapshot) -> tuple[dict[str, Any], ...]:
    """The JSON patch `kubectl rollout undo` sends: the RS's template without `pod-template-hash`, and
    the RS's annotations except the bookkeeping ones, for which the Deployment keeps its own values."""
    annotations = {k: v for k, v in dep.annotations.items() if k in ANNOTATIONS_TO_SKIP}
    annotations.update({k: v for k, v in rs.annotations.items() if k not in ANNOTATIONS_TO_SKIP})
    return (
        {"op": "replace", "path": "/spec/template", "value": without_hash(rs.template)},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    )


def controlled_by(dep: DeploymentSnapshot, sets: Sequence[ReplicaSetSnapshot]) -> list[ReplicaSetSnapshot]:
    """The ReplicaSets whose controller is this Deployment (by uid when known, as `IsControlledBy`)."""
    def owns(rs: ReplicaSetSnapshot) -> bool:
        return any(o.kind == "Deployment" and (o.uid == dep.uid if dep.uid and o.uid else o.name == dep.name)
                   for o in rs.owners)

    return [rs for rs in sets if rs.namespace == dep.namespace and owns(rs)]


def find_revision(dep: DeploymentSnapshot, sets: Sequence[ReplicaSetSnapshot], to_revision: int) -> ReplicaSetSnapshot:
    """kubectl's `deploymentRevision`: the ReplicaSet of `to_revision`, or for 0 the second newest one."""
    where = f"{dep.namespace}/{dep.name}"
    owned = [rs for rs in controlled_by(dep, sets) if rs.revision is not None]
    if to_revision < 0:
        raise RollbackNotFound(f"roll back {where}: revision {to_revision} does not exist (revisions are positive)")
    if to_revision == 0:
        newest_first = sorted(owned, key=lambda rs: rs.revision or 0, reverse=True)
        if len(newest_first) < 2:
            raise RollbackNotFound(f"roll back {where}: no rollout history found (no earlier revision)")
        return newest_first[1]
    found = next((rs for rs in owned if rs.revision == to_revision), None)
    if found is not None:
        return found
    known = ", ".join(str(rs.revision) for rs in sorted(owned, key=lambda rs: rs.revision or 0)) or "none"
    # A revision rolled back to is renumbered: its ReplicaSet keeps the old number in revision-history.
    reused = next((rs for rs in owned if to_revision in rs.revision_history), None)
    if reused is not None:
        raise RollbackNotFound(
            f"roll back {where}: revision {to_revision} is no longer in the rollout history: it was rolled out "
            f"again as revision {reused.revision} (revisions: {known})")
    raise RollbackNotFound(f"roll back {where}: revision {to_revision} is not in the rollout history "
                           f"(revisions: {known})")


def undo_message(name: str, *, skipped_for: int | None = None) -> str:
    """kubectl's output: `rolled back`, or `skipped rollback (current template already matches revision N)`."""
    if skipped_for is not None:
        return f"deployment.apps/{name} skipped rollback (current template already matches revision {skipped_for})"
    return f"deployment.apps/{name} rolled back"


def _observed(generation: int | None, observed_generation: int | None) -> bool:
    return generation is None or (observed_generation is not None and generation <= observed_generation)


def progress_of(dep: DeploymentSnapshot) -> RolloutProgress:
    """kubectl `rollout status` (`DeploymentStatusViewer.Status`) on one reading of the Deployment."""
    name = dep.name
    updated, available, total = dep.updated_replicas or 0, dep.available_replicas or 0, dep.status_replicas or 0
    observed = _observed(dep.generation, dep.observed_generation)
    done = failed = False
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    progressing = next((c for c in dep.conditions if c.type == "Progressing"), None)
    if not observed:
        message = "Waiting for deployment spec update to be observed..."
    elif progressing is not None and progressing.reason == PROGRESS_DEADLINE_EXCEEDED:
        failed = True
        message = f'deployment "{name}" exceeded its progress deadline'
    elif dep.replicas is not None and updated < dep.replicas:
        message = waiting + f"{updated} out of {dep.replicas} new replicas have been updated..."
    elif total > updated:
        message = waiting + f"{total - updated} old replicas are pending termination..."
    elif available < updated:
        message = waiting + f"{available} of {updated} updated replicas are available..."
    else:
        done = True
        message = f'deployment "{name}" successfully rolled out'
    return RolloutProgress(
        namespace=dep.namespace, name=name, generation=dep.generation, observed_generation=dep.observed_generation,
        desired=dep.replicas, updated=updated, ready=dep.ready_replicas or 0, available=available, total=total,
        revision=dep.revision if observed else None, done=done, failed=failed, message=message,
    )


def watch_rollout(read: Callable[[], RolloutProgress], *, timeout: float, poll: float,
                  clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> Iterator[RolloutProgress]:
    """Each new state of the rollout, until it is done or has failed (both yielded last).

    Raises `RolloutTimeout` when neither happened within `timeout` seconds: the rollout goes on in the
    cluster, Coroner only stops watching it.
    """
    deadline = clock() + timeout
    last: RolloutProgress | None = None
    while True:
        progress = read()
        if progress != last:
            yield progress
            last = progress
        if progress.done or progress.failed:
            return
        remaining = deadline - clock()
        if remaining <= 0:
            raise RolloutTimeout(f"{progress.namespace}/{progress.name}: rollout not finished after {timeout:g} s "
                                 f"({progress.message})")
        sleep(min(poll, remaining))
