"""`kubectl rollout undo` / `rollout status` decisions, on API JSON shaped like `kubectl get -o json`."""

import copy

import pytest

from bot.cluster import convert
from bot.cluster.rollback import (
    equal_ignore_hash,
    find_revision,
    progress_of,
    rollback_patch,
    watch_rollout,
)
from bot.ports import RollbackNotFound, RolloutTimeout

UID = "2b0d3c8e-0b65-4c1a-9c55-9d1b4b1f6a10"
LABELS = {"app": "web"}


def template(image, pod_hash=None, **spec):
    labels = {**LABELS, "pod-template-hash": pod_hash} if pod_hash else dict(LABELS)
    return {"metadata": {"creationTimestamp": None, "labels": labels},
            "spec": {"containers": [{"name": "app", "image": image, "resources": {}}], **spec}}


def replicaset(revision, image, *, owner_uid=UID, history=None, annotations=None):
    notes = {"deployment.kubernetes.io/revision": str(revision), "kubernetes.io/change-cause": f"deploy {image}",
             "deployment.kubernetes.io/desired-replicas": "3", **(annotations or {})}
    if history:
        notes["deployment.kubernetes.io/revision-history"] = history
    return convert.replicaset({
        "metadata": {"name": f"web-h{revision}", "namespace": "prod", "labels": dict(LABELS), "annotations": notes,
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                          "uid": owner_uid, "controller": True}]},
        "spec": {"replicas": 0, "template": template(image, f"h{revision}")},
    })


def deployment(image, *, revision=3, paused=False, generation=7, status=None):
    return convert.deployment({
        "metadata": {"name": "web", "namespace": "prod", "uid": UID, "generation": generation,
                     "annotations": {"deployment.kubernetes.io/revision": str(revision),
                                     "kubectl.kubernetes.io/last-applied-configuration": "{}",
                                     "kubernetes.io/change-cause": f"deploy {image}"}},
        "spec": {"replicas": 3, "paused": paused, "selector": {"matchLabels": LABELS}, "template": template(image)},
        "status": status if status is not None else {"observedGeneration": generation, "replicas": 3,
                                                     "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3},
    })


# Listed by label selector: another Deployment with overlapping labels owns the first one.
SETS = [replicaset(2, "other:2", owner_uid="some-other-deployment"), replicaset(1, "web:1"), replicaset(2, "web:2"),
        replicaset(3, "web:3")]


def test_the_deployment_snapshot_keeps_what_rollout_status_needs():
    dep = deployment("web:3", status={"observedGeneration": 6, "replicas": 4, "updatedReplicas": 1})
    assert (dep.generation, dep.observed_generation, dep.status_replicas) == (7, 6, 4)
    assert dep.template["spec"]["containers"][0]["image"] == "web:3"


def test_templates_compare_without_the_hash_and_with_nil_equal_to_empty():
    assert equal_ignore_hash(template("web:2", "h2"), template("web:2"))
    assert equal_ignore_hash(template("web:2", "h2", volumes=[]), template("web:2", nodeSelector={}))
    assert not equal_ignore_hash(template("web:2", "h2"), template("web:3"))
    assert not equal_ignore_hash(template("web:2"), template("web:2", hostNetwork=True))


def test_the_revision_is_found_among_the_replicasets_the_deployment_controls():
    dep = deployment("web:3")
    assert find_revision(dep, SETS, 2).template["spec"]["containers"][0]["image"] == "web:2"
    assert find_revision(dep, SETS, 0).revision == 2  # 0 is the one before the newest, as kubectl undo
    assert find_revision(dep, list(reversed(SETS)), 0).revision == 2


@pytest.mark.parametrize(("sets", "revision", "message"), [
    (SETS, 9, "roll back prod/web: revision 9 is not in the rollout history (revisions: 1, 2, 3)"),
    (SETS, -1, "roll back prod/web: revision -1 does not exist (revisions are positive)"),
    (SETS[3:], 0, "roll back prod/web: no rollout history found (no earlier revision)"),
    ([replicaset(1, "web:1"), replicaset(4, "web:2", history="2"), replicaset(3, "web:3")], 2,
     "roll back prod/web: revision 2 is no longer in the rollout history: it was rolled out again as revision 4 "
     "(revisions: 1, 3, 4)"),
])
def test_an_unknown_revision_is_a_clear_error(sets, revision, message):
    with pytest.raises(RollbackNotFound) as info:
        find_revision(deployment("web:3"), sets, revision)
    assert str(info.value) == message


def test_the_patch_is_kubectls():
    dep = deployment("web:3")
    target = replicaset(2, "web:2", annotations={"kubectl.kubernetes.io/last-applied-configuration": "{old}",
                                                 "team": "identity"})
    spec_op, annotations_op = rollback_patch(dep, target)
    assert spec_op == {"op": "replace", "path": "/spec/template", "value": template("web:2")}  # no hash label
    assert annotations_op == {"op": "replace", "path": "/metadata/annotations", "value": {
        "deployment.kubernetes.io/revision": "3",  # the Deployment's own bookkeeping is kept
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
        "kubernetes.io/change-cause": "deploy web:2", "team": "identity"}}
    assert target.template["metadata"]["labels"]["pod-template-hash"] == "h2"  # the snapshot is left alone


@pytest.mark.parametrize(("status", "generation", "done", "message"), [
    ({"observedGeneration": 6}, 7, False, "Waiting for deployment spec update to be observed..."),
    ({"observedGeneration": 7, "replicas": 4, "updatedReplicas": 1, "availableReplicas": 3}, 7, False,
     'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...'),
    ({"observedGeneration": 7, "replicas": 5, "updatedReplicas": 3, "availableReplicas": 3}, 7, False,
     'Waiting for deployment "web" rollout to finish: 2 old replicas are pending termination...'),
    ({"observedGeneration": 7, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2}, 7, False,
     'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...'),
    ({"observedGeneration": 7, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}, 7, True,
     'deployment "web" successfully rolled out'),
])
def test_progress_reads_like_kubectl_rollout_status(status, generation, done, message):
    progress = progress_of(deployment("web:2", revision=4, generation=generation, status=status))
    assert (progress.done, progress.failed, progress.message) == (done, False, message)
    assert progress.revision == (4 if progress.observed else None)


def test_a_progress_deadline_is_a_failure():
    status = {"observedGeneration": 7, "replicas": 3, "updatedReplicas": 1, "conditions": [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
         "message": 'ReplicaSet "web-h3" has timed out progressing.'}]}
    progress = progress_of(deployment("web:3", status=status))
    assert progress.failed and not progress.done
    assert progress.message == 'deployment "web" exceeded its progress deadline'


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def readings(*states):
    """Progress snapshots in order; the last one repeats forever."""
    snapshots = [progress_of(deployment("web:2", status=s)) for s in states]

    def read():
        return snapshots.pop(0) if len(snapshots) > 1 else snapshots[0]

    return read


STEP = {"observedGeneration": 7, "replicas": 4, "updatedReplicas": 1, "availableReplicas": 3}
DONE = {"observedGeneration": 7, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}


def test_watch_yields_each_new_state_until_done():
    clock = FakeClock()
    seen = list(watch_rollout(readings(STEP, STEP, STEP, DONE), timeout=60, poll=2, clock=clock, sleep=clock.sleep))
    assert [p.done for p in seen] == [False, True]  # repeated states are not yielded twice
    assert clock.sleeps == [2, 2, 2]


def test_watch_gives_up_with_a_timeout_naming_the_state():
    clock = FakeClock()
    watch = watch_rollout(readings(STEP), timeout=5, poll=2, clock=clock, sleep=clock.sleep)
    assert next(watch).updated == 1
    with pytest.raises(RolloutTimeout) as info:
        list(watch)
    assert str(info.value) == ('prod/web: rollout not finished after 5 s (Waiting for deployment "web" rollout to '
                               "finish: 1 out of 3 new replicas have been updated...)")
    assert clock.sleeps == [2, 2, 1]  # never sleeps past the deadline


def test_watch_stops_at_a_failed_rollout():
    failed = copy.deepcopy(STEP) | {"conditions": [{"type": "Progressing", "status": "False",
                                                     "reason": "ProgressDeadlineExceeded"}]}
    clock = FakeClock()
    seen = list(watch_rollout(readings(STEP, failed), timeout=60, poll=1, clock=clock, sleep=clock.sleep))
    assert [p.failed for p in seen] == [False, True]
