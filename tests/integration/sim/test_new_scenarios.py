"""The four incident scenarios added for issue 9 load, and serve the facts their SRE answers rest on,
through the official client against the HTTP sim (and their images through the sim's registry). The SRE
answers themselves are checked on the diagnosis, in the reasoning tests."""

from contextlib import contextmanager
from datetime import timedelta

import pytest

from bot.cluster.kubernetes_reader import KubernetesClusterReader
from bot.images.mirrors import parse_mirrors
from bot.images.registry_reader import RegistryImageReader
from bot.sim.scenario import load_scenario, shipped_scenarios
from bot.sim.server import running_sim

GIB = 1024**3
NEW = ("healthy-service", "noisy-neighbour", "nodefs-logs-fill", "config-change-crashloop")


@contextmanager
def cluster(name, tmp_path):
    with running_sim(name) as sim:
        config = sim.write_kubeconfig(tmp_path / "config")
        with KubernetesClusterReader.from_kubeconfig(config) as reader:
            yield reader


def test_they_are_shipped_with_their_sre_answer():
    for name in NEW:
        assert name in shipped_scenarios()
        scenario = load_scenario(name)
        assert "SRE answer:" in scenario.source.read_text().split("\nname:")[0]
        assert scenario.incident is not None


@pytest.mark.parametrize("name", NEW)
def test_every_image_the_paged_service_ran_is_served_by_the_registry(name, tmp_path):
    scenario = load_scenario(name)
    service = scenario.incident.service
    with running_sim(scenario) as sim:
        reader = RegistryImageReader(mirrors=parse_mirrors(sim.mirror_setting().partition("=")[2]))
        images = {c["image"] for rs in scenario.replicasets if rs["metadata"]["name"].startswith(f"{service}-")
                  for c in rs["spec"]["template"]["spec"]["containers"] if c["image"].startswith("registry.internal")}
        assert images
        for ref in images:
            manifest = reader.manifest(ref)
            declared = scenario.image(ref).manifest.size_bytes
            # plain tars: the blob is the declared content plus tar headers and padding
            assert not any(layer.compressed for layer in manifest.layers)
            assert declared < manifest.size_bytes < declared + (256 << 10)


def test_healthy_service(tmp_path):
    with cluster("healthy-service", tmp_path) as reader:
        now = reader.clock.now()
        pods = reader.list_pods("orders", label_selector="app=order-api")
        assert len(pods) == 4 and all(p.ready and p.containers[0].restart_count == 0 for p in pods)
        assert {c.name for c in pods[0].containers} == {"api", "envoy"}
        deployment = reader.get_deployment("orders", "order-api")
        assert deployment.revision == 12 and deployment.ready_replicas == 4
        current = next(r for r in reader.list_replicasets("orders") if r.revision == 12)
        assert now - current.created_at > timedelta(days=7)
        nodes = reader.list_nodes()
        assert all(n.ready and not any(c.status == "True" for c in n.conditions if c.type.endswith("Pressure"))
                   for n in nodes)
        assert not [e for e in reader.list_events("orders") if e.type == "Warning"]
        [hpa] = reader.list_hpas("orders")
        assert hpa.current_replicas == hpa.min_replicas == 4


def test_noisy_neighbour(tmp_path):
    with cluster("noisy-neighbour", tmp_path) as reader:
        now = reader.clock.now()
        evicted = [p for p in reader.list_pods(None) if p.reason == "Evicted"]
        assert {p.namespace for p in evicted} == {"checkout", "shop"} and len(evicted) == 5
        pressured = {n.name for n in reader.list_nodes() if n.condition("MemoryPressure").status == "True"}
        assert pressured == {p.node_name for p in evicted}
        job_pods = list(reader.list_pods("analytics"))
        assert all(p.containers[0].limits.get("memory") is None and p.priority == 100000 for p in job_pods)
        cart = [p for p in reader.list_pods("checkout") if p.phase == "Running"]
        assert cart and all(p.priority == 10000 and p.containers[0].limits["memory"] == "1Gi" for p in cart)
        for node in pressured:
            stats = reader.node_fs_summary(node, pods=True)
            top = max(stats.pods, key=lambda s: s.memory_working_set_bytes)
            assert top.namespace == "analytics" and top.memory_working_set_bytes > 29 * GIB
        current = next(r for r in reader.list_replicasets("checkout") if r.revision == 18)
        assert now - current.created_at > timedelta(days=4)


def test_nodefs_logs_fill(tmp_path):
    with cluster("nodefs-logs-fill", tmp_path) as reader:
        now = reader.clock.now()
        for node in reader.list_nodes():
            assert node.condition("DiskPressure").status == "True"
            summary = reader.node_fs_summary(node.name, pods=True)
            assert summary.separate_imagefs and summary.nodefs.used_ratio > 0.94
            assert round(summary.imagefs.used_ratio, 2) == 0.40
            top = max(summary.pods, key=lambda s: s.ephemeral_storage_used_bytes)
            assert top.namespace == "telemetry" and top.volumes_used_bytes > 80 * GIB
            assert top.logs_used_bytes > 4 * GIB
            assert top.ephemeral_storage_used_bytes > 0.7 * summary.nodefs.used_bytes
        collector = reader.list_pods("telemetry")[0]
        assert [(v.name, v.kind, v.size_limit) for v in collector.volumes] == [("spool", "emptyDir", None)]
        assert collector.priority == 1000000
        evicted = [p for p in reader.list_pods(None) if p.reason == "Evicted"]
        assert sorted({p.controller.kind for p in evicted}) == ["ReplicaSet", "StatefulSet"]
        assert all("ephemeral-storage" in p.message for p in evicted)
        current = next(r for r in reader.list_replicasets("catalog") if r.revision == 31)
        assert now - current.created_at > timedelta(days=6)


def test_config_change_crashloop(tmp_path):
    with cluster("config-change-crashloop", tmp_path) as reader:
        sets = {r.revision: r for r in reader.list_replicasets("notifications")}
        assert sets[14].containers[0].image == sets[15].containers[0].image  # the same image
        assert sets[15].template["spec"]["containers"][0]["args"][-2:] == ["--config", "/etc/worker/config.yaml"]
        assert "--config" not in sets[14].template["spec"]["containers"][0]["args"]
        pods = reader.list_pods("notifications")
        crashing = [p for p in pods if p.containers[0].state_reason == "CrashLoopBackOff"]
        assert len(crashing) == 2 and all(p.labels["pod-template-hash"] == "7b4d6c9f8e" for p in crashing)
        last = crashing[0].containers[0].last_terminated
        assert (last.reason, last.exit_code) == ("Error", 2) and "/etc/worker/config.yaml" in last.message
        assert last.finished_at > sets[15].created_at
        assert sum(1 for p in pods if p.ready) == 3
        assert all(n.ready for n in reader.list_nodes())
