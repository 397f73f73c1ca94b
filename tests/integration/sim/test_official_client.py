"""The unmodified official `kubernetes` client, configured by a written kubeconfig, against the sim."""

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from bot.cluster.kubernetes_reader import KubernetesClusterReader
from bot.ports import ClusterForbidden, ClusterNotFound, ClusterReadError
from bot.sim.model import Forbidden
from bot.sim.scenario import load_scenario
from bot.sim.server import running_sim

BAD_NODE = "ip-10-0-2-63.ec2.internal"


@pytest.fixture(scope="module")
def sim():
    with running_sim("registry-meltdown") as server:
        yield server


@pytest.fixture(scope="module")
def kubeconfig(sim, tmp_path_factory):
    return sim.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config", context="meltdown")


@pytest.fixture(scope="module")
def reader(kubeconfig):
    with KubernetesClusterReader.from_kubeconfig(kubeconfig, "meltdown", page_size=7) as r:
        yield r


def test_sdk_typed_calls_work_unmodified(kubeconfig):
    api_client = k8s_config.new_client_from_config(config_file=str(kubeconfig), context="meltdown")
    core = k8s.CoreV1Api(api_client)
    nodes = core.list_node()
    assert len(nodes.items) == 6
    assert nodes.items[0].status.conditions[0].last_transition_time.tzinfo is not None
    pods = core.list_namespaced_pod("prod", label_selector="app.kubernetes.io/name=user-profile-service",
                                    field_selector="status.phase=Running")
    assert pods.items and all(p.status.phase == "Running" for p in pods.items)
    deployment = k8s.AppsV1Api(api_client).read_namespaced_deployment("user-profile-service", "prod")
    assert deployment.metadata.annotations["deployment.kubernetes.io/revision"] == "5"
    hpas = k8s.AutoscalingV2Api(api_client).list_namespaced_horizontal_pod_autoscaler("prod")
    assert hpas.items[0].spec.max_replicas == 30
    with pytest.raises(ApiException) as info:
        core.read_node("no-such-node")
    assert info.value.status == 404
    api_client.close()


def test_reader_context_and_version(reader):
    assert reader.context == "meltdown"
    assert reader.server_version() == "v1.29.3-eks-adc7111"


def test_reader_nodes_and_summary(reader):
    nodes = {n.name: n for n in reader.list_nodes()}
    assert len(nodes) == 6
    bad = nodes[BAD_NODE]
    assert not bad.ready and bad.condition("DiskPressure").reason == "KubeletHasDiskPressure"
    assert bad.images[0].size_bytes == 4509715660
    summary = reader.node_fs_summary(BAD_NODE)
    assert summary.imagefs.used_ratio == pytest.approx(0.978, abs=0.001)
    assert summary.nodefs.capacity_bytes == 30 * 1024**3


def test_reader_pages_through_lists(reader, sim):
    before = len(sim.requests)
    pods = reader.list_pods("prod", label_selector="app=user-profile-service")
    assert len(pods) == 33  # 5 pages of 7
    assert len(sim.requests) - before == 5


def test_reader_workloads(reader):
    deployment = reader.get_deployment("prod", "user-profile-service")
    assert deployment.revision == 5 and deployment.replicas == 30
    replicasets = reader.list_replicasets("prod", label_selector="app.kubernetes.io/name=user-profile-service")
    assert sorted(r.revision for r in replicasets) == [3, 4, 5]
    assert reader.list_deployments(None, label_selector="app=user-profile-service")[0].name == deployment.name
    assert reader.list_hpas("prod")[0].max_replicas == 30
    events = reader.list_events("prod", field_selector="reason=Pulled")
    assert events and all(e.reason == "Pulled" for e in events)
    assert "prod" in reader.list_namespaces()


def test_reader_maps_404(reader):
    with pytest.raises(ClusterNotFound, match='deployments.apps "nope" not found') as info:
        reader.get_deployment("prod", "nope")
    assert isinstance(info.value.__cause__, ApiException)


def test_reader_maps_403_with_verb_and_resource(tmp_path):
    scenario = load_scenario("registry-meltdown")
    scenario.forbidden = (Forbidden("get", "nodes/proxy"), Forbidden("list", "events"))
    with running_sim(scenario) as server:
        path = server.write_kubeconfig(tmp_path / "config")
        with KubernetesClusterReader.from_kubeconfig(path) as reader:
            with pytest.raises(ClusterForbidden) as info:
                reader.node_fs_summary(BAD_NODE)
            assert (info.value.verb, info.value.resource) == ("get", "nodes/proxy")
            assert "forbidden: needs get on nodes/proxy" in str(info.value)
            with pytest.raises(ClusterForbidden) as info:
                reader.list_events("prod")
            assert (info.value.verb, info.value.resource) == ("list", "events")
            assert reader.list_nodes()  # the rest still answers


def test_unreachable_server_is_a_read_error(tmp_path):
    with running_sim("registry-meltdown") as server:
        path = server.write_kubeconfig(tmp_path / "config")
    # The server is gone now.
    with KubernetesClusterReader.from_kubeconfig(path, timeout=2) as reader:
        with pytest.raises(ClusterReadError):
            reader.list_nodes()


def test_missing_kubeconfig_is_a_read_error(tmp_path):
    with pytest.raises(ClusterReadError, match="cannot load kubeconfig"):
        KubernetesClusterReader.from_kubeconfig(tmp_path / "absent", "nope")


def test_unknown_context_is_a_read_error(kubeconfig):
    with pytest.raises(ClusterReadError, match="cannot load kubeconfig"):
        KubernetesClusterReader.from_kubeconfig(kubeconfig, "other-cluster")


def test_unreachable_kubelet_is_a_read_error_not_forbidden(tmp_path):
    scenario = load_scenario("registry-meltdown")
    scenario.unavailable_summaries = frozenset({BAD_NODE})
    with running_sim(scenario) as server:
        path = server.write_kubeconfig(tmp_path / "config")
        with KubernetesClusterReader.from_kubeconfig(path) as reader:
            with pytest.raises(ClusterReadError, match="HTTP 503") as info:
                reader.node_fs_summary(BAD_NODE)
            assert not isinstance(info.value, (ClusterForbidden, ClusterNotFound))
            assert "connection refused" in str(info.value)
            with pytest.raises(ClusterNotFound):
                reader.node_fs_summary("no-such-node")


def test_reader_converts_the_sims_json_like_the_sdk_reads_it(kubeconfig, reader):
    """Our JSON conversion and the SDK's own model agree on the fields both read."""
    api_client = k8s_config.new_client_from_config(config_file=str(kubeconfig), context="meltdown")
    sdk_pods = {p.metadata.name: p for p in k8s.CoreV1Api(api_client).list_namespaced_pod("prod").items}
    for pod in reader.list_pods("prod"):
        sdk = sdk_pods[pod.name]
        assert pod.created_at == sdk.metadata.creation_timestamp
        assert pod.phase == sdk.status.phase and pod.node_name == sdk.spec.node_name
        assert pod.containers[0].restart_count == (sdk.status.container_statuses[0].restart_count
                                                   if sdk.status.container_statuses else None)
    api_client.close()


def test_stop_ends_keep_alive_connections_and_frees_the_port():
    import socket

    with running_sim("registry-meltdown") as server:
        conn = socket.create_connection(("127.0.0.1", server.port))
        conn.sendall(b"GET /version HTTP/1.1\r\nHost: sim\r\n\r\n")
        answer = b""
        while b"}" not in answer:
            answer += conn.recv(65536)
        assert b"gitVersion" in answer
        port = server.port
    conn.settimeout(5)
    assert conn.recv(1) == b""  # the server closed the idle keep-alive connection
    conn.close()
    with socket.socket() as probe:  # and the port can be bound again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_scenario_latency_delays_every_answer(tmp_path):
    import time

    scenario = load_scenario("registry-meltdown")
    scenario.latency_ms = 150
    with running_sim(scenario) as server:
        path = server.write_kubeconfig(tmp_path / "config")
        with KubernetesClusterReader.from_kubeconfig(path) as reader:
            started = time.perf_counter()
            reader.list_namespaces()
            assert time.perf_counter() - started >= 0.15  # a lower bound only: sleeping cannot be faster


def test_slow_api_server_costs_one_timeout(tmp_path):
    scenario = load_scenario("registry-meltdown")
    scenario.latency_ms = 3000
    with running_sim(scenario) as server:
        path = server.write_kubeconfig(tmp_path / "config")
        with KubernetesClusterReader.from_kubeconfig(path, timeout=0.3) as reader:
            with pytest.raises(ClusterReadError, match="list nodes") as info:
                reader.list_nodes()
            assert not isinstance(info.value, (ClusterForbidden, ClusterNotFound))


def test_sdk_sees_the_403_status(tmp_path):
    scenario = load_scenario("rbac-forbidden")
    with running_sim(scenario) as server:
        path = server.write_kubeconfig(tmp_path / "config")
        api_client = k8s_config.new_client_from_config(config_file=str(path))
        with pytest.raises(ApiException) as info:
            k8s.CoreV1Api(api_client).list_event_for_all_namespaces()
        assert info.value.status == 403
        assert 'cannot list resource \\"events\\" in API group \\"\\" at the cluster scope' in info.value.body
        api_client.close()


@pytest.mark.parametrize("name", ["registry-meltdown", "crashloop-bad-config", "memory-pressure-storm"])
def test_every_object_deserialises_into_the_sdk_models(name, tmp_path):
    """The SDK's own models accept every object the sim serves: the shapes are the real ones."""
    with running_sim(name) as server:
        path = server.write_kubeconfig(tmp_path / "config")
        api_client = k8s_config.new_client_from_config(config_file=str(path))
        core, apps = k8s.CoreV1Api(api_client), k8s.AppsV1Api(api_client)
        scenario = server.scenario
        assert len(core.list_node().items) == len(scenario.nodes)
        assert len(core.list_namespace().items) == len(scenario.namespaces)
        assert len(core.list_pod_for_all_namespaces().items) == len(scenario.pods)
        events = core.list_event_for_all_namespaces().items
        assert len(events) == len(scenario.events) and all(e.involved_object.kind for e in events)
        assert len(apps.list_deployment_for_all_namespaces().items) == len(scenario.deployments)
        replicasets = apps.list_replica_set_for_all_namespaces().items
        assert all(rs.metadata.owner_references[0].kind == "Deployment" for rs in replicasets)
        hpas = k8s.AutoscalingV2Api(api_client).list_horizontal_pod_autoscaler_for_all_namespaces().items
        assert len(hpas) == len(scenario.hpas)
        api_client.close()
