"""rollout-stuck from the Deployment's own state: a missed progress deadline, a pause halfway."""

from dataclasses import replace

from bot.checks import rollout
from bot.cluster.snapshots import Condition
from bot.domain import Severity
from tests.unit.checks.conftest import _rs, at

DEADLINE = Condition("Progressing", "False", "ProgressDeadlineExceeded", 'ReplicaSet "x" has timed out progressing.',
                     last_transition=at(-30))


def stuck(world, ctx_of):
    return [f for f in rollout.run(ctx_of(world), rollout.RolloutParams()) if f.rule == "rollout-stuck"]


def test_a_calm_rollout_is_not_stuck(healthy, ctx_of):
    assert stuck(healthy, ctx_of) == []


def test_a_missed_deadline_says_since_when_and_who_serves(healthy, ctx_of):
    healthy.deployments[0] = replace(healthy.deployments[0], conditions=(DEADLINE,))
    (f,) = stuck(healthy, ctx_of)
    assert f.severity is Severity.MEDIUM and f.evidence["reason"] == "ProgressDeadlineExceeded"
    assert f.evidence["since"] == at(-30).isoformat() and f.evidence["new_pods"] == 2 and f.evidence["old"] == []
    assert "no older revision has pods left" in f.title


def test_a_paused_rollout_with_healthy_new_pods_is_low_and_the_old_side_is_counted(healthy, ctx_of):
    from tests.doubles.cluster_reader import pod

    old = _rs(5, "v5", at(-3000), replicas=2, ready=2)
    healthy.replicasets.insert(0, old)
    healthy.pods.append(pod(f"{old.name}-1", labels={"app": "user-profile-service"}, owner=old.name))
    healthy.deployments[0] = replace(healthy.deployments[0], paused=True, replicas=3, conditions=(
        Condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", last_transition=at(-5)),))
    (f,) = stuck(healthy, ctx_of)
    assert f.severity is Severity.LOW and f.evidence["paused"] and f.evidence["new_failures"] == {}
    assert f.evidence["old"] == [{"revision": 5, "pods": 1, "ready": 1}]
    assert "paused since" in f.title and "2 of 3 pods updated, 2 ready" in f.title
    assert "kubectl rollout resume deployment/user-profile-service -n prod" in f.remediation


def test_a_pause_after_the_rollout_finished_is_nothing_half_done(healthy, ctx_of):
    healthy.deployments[0] = replace(healthy.deployments[0], paused=True)
    assert stuck(healthy, ctx_of) == []
