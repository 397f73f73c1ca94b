"""The facts reasoning about cause needs, end to end: scenario YAML -> the sim over HTTP -> the unmodified
official client -> `KubernetesClusterReader` -> snapshots. On the shipped noisy-neighbour scenario."""

import json

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from bot.cluster.kubernetes_reader import KubernetesClusterReader
from bot.ports import ClusterForbidden
from bot.sim.model import Forbidden
from bot.sim.scenario import load_scenario
from bot.sim.server import running_sim

PRESSURED = ("ip-10-3-1-1.ec2.internal", "ip-10-3-1-2.ec2.internal")
GIB = 1024**3


@pytest.fixture(scope="module")
def sim():
    with running_sim("noisy-neighbour") as server:
        yield server


@pytest.fixture(scope="module")
def kubeconfig(sim, tmp_path_factory):
    return sim.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config", context="noisy")


@pytest.fixture(scope="module")
def reader(kubeconfig):
    with KubernetesClusterReader.from_kubeconfig(kubeconfig, "noisy", page_size=5) as r:
        yield r


def test_sdk_models_accept_the_new_kinds(kubeconfig):
    api_client = k8s_config.new_client_from_config(config_file=str(kubeconfig), context="noisy")
    batch = k8s.BatchV1Api(api_client)
    [cron] = batch.list_namespaced_cron_job("analytics").items
    assert cron.spec.schedule == "0 9 * * *" and cron.status.active[0].name == "nightly-reindex-28675260"
    [job] = batch.list_namespaced_job("analytics").items
    assert job.metadata.owner_references[0].kind == "CronJob" and job.status.active == 2
    apps = k8s.AppsV1Api(api_client)
    [ds] = apps.list_namespaced_daemon_set("monitoring").items
    assert ds.status.number_ready == 4
    classes = {c.metadata.name: c.value for c in k8s.SchedulingV1Api(api_client).list_priority_class().items}
    assert classes == {"batch-high": 100000, "services": 10000}
    pod = k8s.CoreV1Api(api_client).list_namespaced_pod("analytics").items[0]
    assert (pod.spec.priority, pod.spec.priority_class_name, pod.status.qos_class) == (100000, "batch-high",
                                                                                        "Burstable")
    assert pod.spec.volumes[0].empty_dir.size_limit == "50Gi"
    # events.k8s.io/v1 through the client's REST layer (its model rejects a null eventTime, which the API
    # server sends for events from the core recorder)
    response = k8s.EventsV1Api(api_client).list_namespaced_event("checkout", _preload_content=False)
    events = json.loads(response.data)["items"]
    scheduling = [e for e in events if e["reason"] == "FailedScheduling"]
    assert scheduling and all(e["series"]["count"] == 9 and e["reportingController"] == "default-scheduler"
                              for e in scheduling)
    assert {e["reason"] for e in events} >= {"Evicted", "Killing", "FailedScheduling"}


def test_pods_carry_owner_priority_qos_and_resources(reader):
    pods = reader.list_pods(None)
    job_pods = [p for p in pods if p.namespace == "analytics"]
    assert {p.node_name for p in job_pods} == set(PRESSURED)
    for pod in job_pods:
        assert (pod.controller.kind, pod.controller.name) == ("Job", "nightly-reindex-28675260")
        assert (pod.priority, pod.priority_class, pod.qos_class) == (100000, "batch-high", "Burstable")
        assert pod.containers[0].limits == {} and pod.containers[0].requests["memory"] == "2Gi"
    cart = [p for p in pods if p.namespace == "checkout"]
    assert {p.priority for p in cart} == {10000}
    assert all(p.containers[0].limits["memory"] == "1Gi" for p in cart)
    evicted = [p for p in pods if p.reason == "Evicted"]
    assert sorted({(p.namespace, p.controller.kind) for p in evicted}) == [("checkout", "ReplicaSet"),
                                                                           ("shop", "ReplicaSet")]
    assert len(evicted) == 5 and {p.node_name for p in evicted} == set(PRESSURED)
    exporters = [p for p in pods if p.namespace == "monitoring"]
    assert {p.controller.kind for p in exporters} == {"DaemonSet"} and len(exporters) == 4


def test_the_job_leads_up_to_its_cronjob(reader):
    [job] = reader.list_jobs("analytics")
    assert (job.kind, job.name) == ("Job", "nightly-reindex-28675260")
    assert [(o.kind, o.name) for o in job.owners] == [("CronJob", "nightly-reindex")]
    assert [j.name for j in reader.list_jobs(None)] == [job.name]


def test_per_pod_stats_show_the_job_dominating_the_pressured_nodes(reader):
    for node in PRESSURED:
        summary = reader.node_fs_summary(node, pods=True)
        by_namespace = {p.namespace: p for p in summary.pods}
        assert set(by_namespace) == {"analytics", "monitoring"}  # the evicted pods are gone from the node
        job = by_namespace["analytics"]
        assert job.memory_working_set_bytes == int(29.4 * GIB)
        assert job.memory_working_set_bytes > 0.9 * summary.memory_working_set_bytes
        assert job.volumes_used_bytes == 12 * GIB
    fast = reader.node_fs_summary(PRESSURED[0])
    assert fast.pods is None and fast.nodefs == reader.node_fs_summary(PRESSURED[0], pods=True).nodefs


def test_node_conditions_and_new_recorder_events_through_the_core_api(reader):
    pressured = {n.name for n in reader.list_nodes() if (c := n.condition("MemoryPressure")) and c.status == "True"}
    assert pressured == set(PRESSURED)
    scheduling = [e for e in reader.list_events("checkout") if e.reason == "FailedScheduling"]
    assert len(scheduling) == 3 and {e.count for e in scheduling} == {9}
    assert all(e.first_at is not None and e.last_at > e.first_at for e in scheduling)


def test_listing_jobs_without_the_permission_names_it(tmp_path):
    scenario = load_scenario("noisy-neighbour")
    scenario.forbidden = (Forbidden("list", "jobs"),)
    with running_sim(scenario) as server:
        config = server.write_kubeconfig(tmp_path / "config")
        with KubernetesClusterReader.from_kubeconfig(config) as reader, \
                pytest.raises(ClusterForbidden, match="needs list on jobs"):
            reader.list_jobs("analytics")
