"""The part of kube-controller-manager's deployment controller the sim plays after a Deployment is patched.

A real cluster reacts to a new pod template within milliseconds and rolls it out over minutes. The sim
does the same work in steps, one step each time a client reads the apps API (a GET or list of
deployments or replicasets), so a test sees a rollout move along deterministically:

1. sync (`getAllReplicaSetsAndSyncRevision`): the new ReplicaSet is the one whose template equals the
   Deployment's, `pod-template-hash` aside (an old one is reused, as after a rollback), else a new one is
   created; it gets revision max(old revisions) + 1, a reused one keeps its former number in
   `deployment.kubernetes.io/revision-history`, and the Deployment's revision annotation follows;
2. rolling update: the new ReplicaSet grows by maxSurge per step (its pods are ready one step after they
   are created), the old ones shrink, oldest revision first, so that no more than replicas + maxSurge
   pods exist, and go to zero once every new pod is ready;
3. status (`calculateStatus`): observedGeneration, replicas, updated/ready/available/unavailable
   replicas, and the Available and Progressing conditions with the controller's reasons.

A paused Deployment is only observed, never rolled out. Pods are not simulated: the pod list keeps the
scenario's pods.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from bot.cluster.rollback import (
    ANNOTATIONS_TO_SKIP,
    POD_TEMPLATE_HASH,
    REVISION,
    equal_ignore_hash,
    without_hash,
)
from bot.sim.objects import object_meta, safe_hash, ts

REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
REVISION_HISTORY_LIMIT_CHARS = 2000  # the controller's default --deployment-controller revision history length


class ObjectStore(Protocol):
    """What the controller needs from the sim's storage. `put` stamps a new resourceVersion."""

    def find(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    def in_namespace(self, resource: str, namespace: str) -> list[dict[str, Any]]: ...

    def put(self, resource: str, obj: dict[str, Any]) -> None: ...


def scaled(value: Any, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: `25%` of `total`, or a plain number."""
    if isinstance(value, str) and value.endswith("%"):
        share = total * int(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value or 0)


def surge_and_unavailable(deployment: dict[str, Any]) -> tuple[int, int]:
    """deploymentutil.ResolveFenceposts (RollingUpdate; Recreate behaves as 0 surge, all unavailable)."""
    spec = deployment["spec"]
    desired = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, desired
    rolling = strategy.get("rollingUpdate") or {}
    surge = scaled(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = scaled(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _revision(obj: dict[str, Any]) -> int:
    try:
        return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _controlled_by(rs: dict[str, Any], deployment: dict[str, Any]) -> bool:
    uid = deployment["metadata"].get("uid")
    return any(ref.get("controller") and ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences") or ())


class DeploymentController:
    """Reconciles the Deployments it was told about (`notice`) one step per `tick`."""

    def __init__(self, store: ObjectStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock
        self._pending: dict[tuple[str, str], None] = {}  # ordered set: Deployments with work left

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def notice(self, namespace: str, name: str) -> None:
        """The Deployment was written: reconcile it from the next tick until its rollout completes."""
        self._pending[(namespace, name)] = None

    def tick(self) -> None:
        for key in list(self._pending):
            if self._reconcile(*key):
                del self._pending[key]

    # ------------------------------------------------------------ one reconcile

    def _reconcile(self, namespace: str, name: str) -> bool:
        """One sync and one rollout step; True when nothing is left to do."""
        stored = self._store.find("deployments", namespace, name)
        if stored is None:
            return True
        dep = copy.deepcopy(stored)
        now = ts(self._clock())
        sets = [copy.deepcopy(rs) for rs in self._store.in_namespace("replicasets", namespace)
                if _controlled_by(rs, dep)]
        status = dep.setdefault("status", {})
        if dep["spec"].get("paused"):
            status["observedGeneration"] = dep["metadata"].get("generation", 1)
            self._store.put("deployments", dep)
            return True
        new_rs, event = self._sync_revision(dep, sets, now)
        old = [rs for rs in sets if rs["metadata"]["name"] != new_rs["metadata"]["name"]]
        done = self._step(dep, new_rs, old)
        for rs in [new_rs, *old]:
            if rs != self._store.find("replicasets", namespace, rs["metadata"]["name"]):
                self._store.put("replicasets", rs)
        self._write_status(dep, new_rs, old, event=event, done=done, now=now)
        self._store.put("deployments", dep)
        return done

    def _sync_revision(self, dep: dict[str, Any], sets: list[dict[str, Any]],
                       now: str | None) -> tuple[dict[str, Any], str | None]:
        """The new ReplicaSet, with its revision set; and the Progressing reason when it just became new."""
        template = dep["spec"]["template"]
        matching = [rs for rs in sets if equal_ignore_hash(rs["spec"]["template"], template)]
        # FindNewReplicaSet: the oldest matching one, as several may match after a hash collision.
        matching.sort(key=lambda rs: (rs["metadata"].get("creationTimestamp") or "", rs["metadata"]["name"]))
        new_rs = matching[0] if matching else None
        old_revisions = [_revision(rs) for rs in sets if rs is not new_rs]
        next_revision = max(old_revisions, default=0) + 1
        event = None
        if new_rs is None:
            new_rs = self._new_replicaset(dep, next_revision, now)
            sets.append(new_rs)
            event = "NewReplicaSetCreated"
        else:
            annotations = new_rs["metadata"].setdefault("annotations", {})
            current = _revision(new_rs)
            if current < next_revision:
                if REVISION in annotations:
                    annotations[REVISION_HISTORY] = _history(annotations.get(REVISION_HISTORY, ""), str(current))
                annotations[REVISION] = str(next_revision)
                event = "FoundNewReplicaSet"
            for key, value in (dep["metadata"].get("annotations") or {}).items():
                if key not in ANNOTATIONS_TO_SKIP:
                    annotations[key] = value
        dep["metadata"].setdefault("annotations", {})[REVISION] = new_rs["metadata"]["annotations"][REVISION]
        return new_rs, event

    def _new_replicaset(self, dep: dict[str, Any], revision: int, now: str | None) -> dict[str, Any]:
        """A ReplicaSet for a template no ReplicaSet has, named `<deployment>-<pod-template-hash>`."""
        meta = dep["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        template = without_hash(dep["spec"]["template"])
        collisions = (dep.get("status") or {}).get("collisionCount", 0)
        pod_hash = safe_hash(json.dumps(template, sort_keys=True) + f"/{collisions}", 10)
        labels = {**((template.get("metadata") or {}).get("labels") or {}), POD_TEMPLATE_HASH: pod_hash}
        template.setdefault("metadata", {})["labels"] = labels
        surge, _ = surge_and_unavailable(dep)
        desired = int(dep["spec"].get("replicas", 1))
        annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in ANNOTATIONS_TO_SKIP}
        annotations.update({DESIRED_REPLICAS: str(desired), MAX_REPLICAS: str(desired + surge),
                            REVISION: str(revision)})
        rs_meta = object_meta(f"{name}-{pod_hash}", namespace, self._clock(), "ReplicaSet", labels=dict(labels),
                              annotations=annotations)
        rs_meta["creationTimestamp"] = now
        rs_meta["generation"] = 1
        rs_meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                       "uid": meta.get("uid"), "controller": True, "blockOwnerDeletion": True}]
        selector = dict((dep["spec"].get("selector") or {}).get("matchLabels") or {})
        return {
            "kind": "ReplicaSet", "apiVersion": "apps/v1", "metadata": rs_meta,
            "spec": {"replicas": 0, "selector": {"matchLabels": {**selector, POD_TEMPLATE_HASH: pod_hash}},
                     "template": template},
            "status": {"replicas": 0, "observedGeneration": 1},
        }

    def _step(self, dep: dict[str, Any], new_rs: dict[str, Any], old: list[dict[str, Any]]) -> bool:
        """One rolling-update step over the ReplicaSets (changed in place). True when the rollout is complete."""
        desired = int(dep["spec"].get("replicas", 1))
        surge, _ = surge_and_unavailable(dep)
        # The pods created at the previous step have pulled their image and passed readiness by now.
        created = int(new_rs["status"].get("replicas", 0))
        _set_ready(new_rs, created)
        if created >= desired:
            _scale(new_rs, desired)
            for rs in old:
                _scale(rs, 0)
        else:
            _scale(new_rs, min(desired, int(new_rs["spec"].get("replicas", 0)) + surge))
            allowed = max(0, desired + surge - int(new_rs["spec"]["replicas"]))
            for rs in sorted(old, key=_revision):  # the oldest go first
                others = sum(int(o["spec"].get("replicas", 0)) for o in old if o is not rs)
                _scale(rs, max(0, min(int(rs["spec"].get("replicas", 0)), allowed - others)))
        ready = int(new_rs["status"].get("readyReplicas", 0))
        return ready >= desired and all(int(rs["spec"].get("replicas", 0)) == 0 for rs in old)

    def _write_status(self, dep: dict[str, Any], new_rs: dict[str, Any], old: list[dict[str, Any]], *,
                      event: str | None, done: bool, now: str | None) -> None:
        """calculateStatus, and the Progressing condition as the rolling-update sync sets it."""
        desired = int(dep["spec"].get("replicas", 1))
        _, unavailable_allowed = surge_and_unavailable(dep)
        sets = [new_rs, *old]
        total = sum(int(rs["spec"].get("replicas", 0)) for rs in sets)
        available = sum(int(rs["status"].get("availableReplicas", 0)) for rs in sets)
        status = dep["status"]
        status.update({
            "observedGeneration": dep["metadata"].get("generation", 1),
            "replicas": sum(int(rs["status"].get("replicas", 0)) for rs in sets),
            "updatedReplicas": int(new_rs["status"].get("replicas", 0)),
            "readyReplicas": sum(int(rs["status"].get("readyReplicas", 0)) for rs in sets),
            "availableReplicas": available,
        })
        if total - available > 0:
            status["unavailableReplicas"] = total - available
        else:
            status.pop("unavailableReplicas", None)
        rs_name = new_rs["metadata"]["name"]
        if available >= desired - unavailable_allowed:
            _condition(status, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.",
                       now)
        else:
            _condition(status, "Available", "False", "MinimumReplicasUnavailable",
                       "Deployment does not have minimum availability.", now)
        if done:
            reason, message = "NewReplicaSetAvailable", f'ReplicaSet "{rs_name}" has successfully progressed.'
        elif event == "NewReplicaSetCreated":
            reason, message = event, f'Created new replica set "{rs_name}"'
        elif event == "FoundNewReplicaSet":
            reason, message = event, f'Found new replica set "{rs_name}"'
        else:
            reason, message = "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.'
        _condition(status, "Progressing", "True", reason, message, now)


def _history(history: str, previous: str) -> str:
    """SetNewReplicaSetAnnotations: append the former revision, dropping the oldest past the length limit."""
    revisions = [r for r in history.split(",") if r] + [previous]
    while len(",".join(revisions)) > REVISION_HISTORY_LIMIT_CHARS and len(revisions) > 1:
        revisions.pop(0)
    return ",".join(revisions)


def _scale(rs: dict[str, Any], replicas: int) -> None:
    """The ReplicaSet controller's answer too: pods are created or deleted at once; ready ones stay ready."""
    if int(rs["spec"].get("replicas", 0)) != replicas:
        rs["spec"]["replicas"] = replicas
        rs["metadata"]["generation"] = int(rs["metadata"].get("generation", 1)) + 1
    status = rs["status"]
    status["replicas"] = replicas
    status["observedGeneration"] = rs["metadata"].get("generation", 1)
    _set_ready(rs, min(int(status.get("readyReplicas", 0)), replicas))
    if replicas:
        status["fullyLabeledReplicas"] = replicas
    else:
        for key in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
            status.pop(key, None)


def _set_ready(rs: dict[str, Any], ready: int) -> None:
    status = rs["status"]
    if ready:
        status["readyReplicas"] = status["availableReplicas"] = ready
    else:
        status.pop("readyReplicas", None)
        status.pop("availableReplicas", None)


def _condition(status: dict[str, Any], type_: str, state: str, reason: str, message: str, now: str | None) -> None:
    conditions = status.setdefault("conditions", [])
    current = next((c for c in conditions if c.get("type") == type_), None)
    if current is None:
        current = {"type": type_}
        conditions.append(current)
    if current.get("status") != state:
        current["lastTransitionTime"] = now
    current.update({"status": state, "lastUpdateTime": now, "reason": reason, "message": message})
