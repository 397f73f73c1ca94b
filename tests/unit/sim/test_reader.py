"""The in-process reader answers exactly what the real client reads over HTTP."""

import pytest

from bot.cluster.kubernetes_reader import KubernetesClusterReader
from bot.ports import ClusterForbidden, ClusterNotFound
from tests.doubles.scenario_reader import ScenarioClusterReader
from bot.sim.scenario import load_scenario
from bot.sim.server import running_sim


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("registry-meltdown")


def test_same_snapshots_as_the_http_path(scenario, tmp_path_factory):
    local = ScenarioClusterReader(scenario)
    with running_sim(scenario) as sim:
        path = sim.write_kubeconfig(tmp_path_factory.mktemp("k") / "config")
        with KubernetesClusterReader.from_kubeconfig(path) as remote:
            assert local.list_nodes() == remote.list_nodes()
            selector = "app.kubernetes.io/name=user-profile-service"
            assert local.list_pods("prod", label_selector=selector) == remote.list_pods("prod", label_selector=selector)
            assert local.list_events(None, field_selector="reason=Evicted") == remote.list_events(
                None, field_selector="reason=Evicted")
            assert local.list_replicasets("prod") == remote.list_replicasets("prod")
            assert local.get_deployment("prod", "user-profile-service") == remote.get_deployment(
                "prod", "user-profile-service")
            assert local.list_deployments(None) == remote.list_deployments(None)
            assert local.list_hpas("prod") == remote.list_hpas("prod")
            assert local.list_namespaces() == remote.list_namespaces()
            node = "ip-10-0-3-29.ec2.internal"
            assert local.node_fs_summary(node) == remote.node_fs_summary(node)


def test_errors_match_the_port():
    reader = ScenarioClusterReader(load_scenario("rbac-forbidden"))
    with pytest.raises(ClusterForbidden) as info:
        reader.node_fs_summary("ip-10-0-2-63.ec2.internal")
    assert (info.value.verb, info.value.resource) == ("get", "nodes/proxy")
    with pytest.raises(ClusterForbidden):
        reader.list_events("prod")
    with pytest.raises(ClusterNotFound):
        reader.get_deployment("prod", "nope")
    assert reader.list_pods("prod")
