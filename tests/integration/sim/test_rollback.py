"""`KubernetesRollbacker` through the unmodified official client against the sim, over HTTP.

Each test starts its own sim: a rollback changes the cluster.
"""

import socket

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from bot.cluster.kubernetes_reader import KubernetesClusterReader
from bot.cluster.kubernetes_rollbacker import KubernetesRollbacker
from bot.cluster.rollback import equal_ignore_hash
from bot.ports import (
    RollbackConflict,
    RollbackError,
    RollbackForbidden,
    RollbackNotFound,
    RollbackPaused,
    RolloutTimeout,
)
from bot.sim.kubeconfig import write_kubeconfig
from bot.sim.model import Forbidden
from bot.sim.scenario import load_scenario
from bot.sim.server import running_sim

NS, NAME = "prod", "user-profile-service"
IMAGE_4 = "registry.internal:5000/user-profile-service:2024.05.02-3"
IMAGE_5 = "registry.internal:5000/user-profile-service:2024.05.14-1"


def start(tmp_path, *forbidden):
    scenario = load_scenario("registry-meltdown")
    scenario.forbidden = tuple(forbidden)
    sim = running_sim(scenario)
    server = sim.__enter__()
    return sim, server, server.write_kubeconfig(tmp_path / "config", context="meltdown")


@pytest.fixture
def cluster(tmp_path):
    sim, server, kubeconfig = start(tmp_path)
    with KubernetesRollbacker.connect(kubeconfig, "meltdown") as rollbacker, \
            KubernetesClusterReader.from_kubeconfig(kubeconfig, "meltdown") as reader:
        yield server, rollbacker, reader
    sim.__exit__(None, None, None)


def patches(server):
    return [path for method, path in server.requests if method == "PATCH"]


def revision_sets(reader):
    return {rs.revision: rs for rs in reader.list_replicasets(NS)}


def test_rollback_to_revision_4_rolls_its_replicaset_out_again(cluster):
    server, rollbacker, reader = cluster
    before = reader.get_deployment(NS, NAME)
    template_4 = revision_sets(reader)[4].template

    result = rollbacker.rollback(namespace=NS, name=NAME, to_revision=4)

    assert (result.from_revision, result.to_revision, result.skipped, result.dry_run) == (5, 4, False, False)
    assert (result.images, result.from_images) == ((IMAGE_4,), (IMAGE_5,))
    assert result.message == "deployment.apps/user-profile-service rolled back"
    assert result.generation == before.generation + 1
    assert patches(server) == [f"/apis/apps/v1/namespaces/{NS}/deployments/{NAME}"]

    progress = list(rollbacker.wait_for_rollout(namespace=NS, name=NAME, timeout=10, poll=0))
    assert 2 <= len(progress) <= 8  # a few steps, each one different from the last
    assert all(p.observed and p.revision == 6 for p in progress)
    assert [p.updated for p in progress] == sorted(p.updated for p in progress)
    last = progress[-1]
    assert last.done and not last.failed
    assert (last.desired, last.updated, last.ready, last.available, last.total) == (30, 30, 30, 30, 30)
    assert last.message == 'deployment "user-profile-service" successfully rolled out'

    after = reader.get_deployment(NS, NAME)
    assert after.revision == 6 and after.containers[0].image == IMAGE_4
    assert after.annotations["kubernetes.io/change-cause"] == "deploy 2024.05.02-3 (pipeline #19244)"
    sets = revision_sets(reader)
    assert sorted(sets) == [3, 5, 6]  # the controller reused revision 4's ReplicaSet as revision 6
    new = sets[6]
    assert new.revision_history == (4,)
    assert new.containers[0].image == IMAGE_4
    assert equal_ignore_hash(new.template, template_4) and new.template == template_4
    assert (new.replicas, new.ready_replicas) == (30, 30)
    assert sets[5].replicas == 0


def test_rolling_back_to_the_current_template_is_skipped_and_sends_nothing(cluster):
    server, rollbacker, reader = cluster
    result = rollbacker.rollback(namespace=NS, name=NAME, to_revision=5)
    assert result.skipped and result.to_revision == 5 and result.images == result.from_images == (IMAGE_5,)
    assert result.message == ("deployment.apps/user-profile-service skipped rollback "
                              "(current template already matches revision 5)")
    assert patches(server) == []
    assert reader.get_deployment(NS, NAME).revision == 5


def test_a_second_click_names_the_revision_it_became(cluster):
    server, rollbacker, _ = cluster
    rollbacker.rollback(namespace=NS, name=NAME, to_revision=4)
    with pytest.raises(RollbackNotFound) as info:
        rollbacker.rollback(namespace=NS, name=NAME, to_revision=4)
    assert str(info.value) == ("roll back prod/user-profile-service: revision 4 is no longer in the rollout history: "
                               "it was rolled out again as revision 6 (revisions: 3, 5, 6)")
    again = rollbacker.rollback(namespace=NS, name=NAME, to_revision=6)
    assert again.skipped and len(patches(server)) == 1


def test_previous_revision_with_zero(cluster):
    _, rollbacker, reader = cluster
    result = rollbacker.rollback(namespace=NS, name=NAME, to_revision=0)
    assert result.to_revision == 4 and result.images == (IMAGE_4,)


def test_a_paused_deployment_is_refused(cluster, tmp_path):
    server, rollbacker, _ = cluster
    # `kubectl rollout pause`, sent through the official client as kubectl sends it.
    api_client = k8s_config.new_client_from_config(config_file=str(tmp_path / "config"), context="meltdown")
    k8s.AppsV1Api(api_client).patch_namespaced_deployment(
        NAME, NS, {"spec": {"paused": True}}, _content_type="application/strategic-merge-patch+json")
    api_client.close()
    with pytest.raises(RollbackPaused) as info:
        rollbacker.rollback(namespace=NS, name=NAME, to_revision=4)
    assert str(info.value) == ("roll back prod/user-profile-service: the Deployment is paused; resume it first "
                               "(kubectl rollout resume deployment/user-profile-service -n prod) and try again")
    assert len(patches(server)) == 1  # the pause only


def test_an_unknown_revision_lists_the_known_ones(cluster):
    server, rollbacker, _ = cluster
    with pytest.raises(RollbackNotFound) as info:
        rollbacker.rollback(namespace=NS, name=NAME, to_revision=9)
    assert str(info.value) == ("roll back prod/user-profile-service: revision 9 is not in the rollout history "
                               "(revisions: 3, 4, 5)")
    with pytest.raises(RollbackNotFound, match=r'roll back prod/nope: get deployment prod/nope: not found'):
        rollbacker.rollback(namespace=NS, name="nope", to_revision=4)
    assert patches(server) == []


def test_a_deployment_that_moved_on_since_the_offer_is_not_touched(cluster):
    server, rollbacker, reader = cluster
    with pytest.raises(RollbackConflict) as info:
        rollbacker.rollback(namespace=NS, name=NAME, to_revision=3, expected_revision=4)
    assert str(info.value) == ("roll back prod/user-profile-service: the Deployment is at revision 5 now, not 4 as "
                               "when the rollback was offered; diagnose again")
    assert patches(server) == []
    assert rollbacker.rollback(namespace=NS, name=NAME, to_revision=3, expected_revision=5).to_revision == 3


def test_dry_run_is_authorised_and_validated_but_stores_nothing(cluster):
    server, rollbacker, reader = cluster
    before = reader.get_deployment(NS, NAME)
    result = rollbacker.rollback(namespace=NS, name=NAME, to_revision=4, dry_run=True)
    assert result.dry_run and not result.skipped and result.generation == before.generation + 1
    assert patches(server) == [f"/apis/apps/v1/namespaces/{NS}/deployments/{NAME}?dryRun=All"]
    after = reader.get_deployment(NS, NAME)
    assert (after.revision, after.generation, after.containers) == (5, before.generation, before.containers)


def test_forbidden_patch_names_the_missing_permission(tmp_path):
    sim, server, kubeconfig = start(tmp_path, Forbidden("patch", "deployments", NS))
    try:
        with KubernetesRollbacker.connect(kubeconfig, "meltdown") as rollbacker:
            with pytest.raises(RollbackForbidden) as info:
                rollbacker.rollback(namespace=NS, name=NAME, to_revision=4)
            # The dry run asks the same question: a confirmation dialog can find out before the click.
            with pytest.raises(RollbackForbidden):
                rollbacker.rollback(namespace=NS, name=NAME, to_revision=4, dry_run=True)
    finally:
        sim.__exit__(None, None, None)
    assert str(info.value) == ("roll back prod/user-profile-service: forbidden: needs patch on deployments in prod "
                               "(apply deploy/kubernetes/opt-in/rollback-role.yaml to that namespace)")
    assert (info.value.verb, info.value.resource, info.value.namespace) == ("patch", "deployments", "prod")


def test_forbidden_reads_name_the_missing_permission_too(tmp_path):
    sim, server, kubeconfig = start(tmp_path, Forbidden("list", "replicasets", NS))
    try:
        with KubernetesRollbacker.connect(kubeconfig, "meltdown") as rollbacker:
            with pytest.raises(RollbackForbidden, match="forbidden: needs list on replicasets in prod"):
                rollbacker.rollback(namespace=NS, name=NAME, to_revision=4)
    finally:
        sim.__exit__(None, None, None)
    assert patches(server) == []


def test_watching_gives_up_after_the_timeout(cluster):
    _, rollbacker, _ = cluster
    rollbacker.rollback(namespace=NS, name=NAME, to_revision=4)
    watch = rollbacker.wait_for_rollout(namespace=NS, name=NAME, timeout=0, poll=0)
    assert not next(watch).done
    with pytest.raises(RolloutTimeout, match="prod/user-profile-service: rollout not finished after 0 s"):
        next(watch)


def test_an_api_server_that_is_down_is_one_line(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = write_kubeconfig(tmp_path / "config", f"http://127.0.0.1:{port}", context="down")
    with KubernetesRollbacker.connect(kubeconfig, "down", timeout=2) as rollbacker:
        with pytest.raises(RollbackError, match="roll back prod/user-profile-service: get deployment "
                                                "prod/user-profile-service: cannot reach the API server"):
            rollbacker.rollback(namespace=NS, name=NAME, to_revision=4)


def test_a_missing_kubeconfig_is_a_rollback_error(tmp_path):
    with pytest.raises(RollbackError, match="cannot load kubeconfig"):
        KubernetesRollbacker.connect(tmp_path / "absent", "nope")
