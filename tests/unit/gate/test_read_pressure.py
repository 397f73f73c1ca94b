"""read_pressure() on FakeClusterReader: the reach, the receiving nodes, and where the figures come from."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.cluster.snapshots import (
    DeploymentSnapshot,
    FsStats,
    HpaSnapshot,
    NodeFsSummary,
)
from tests.doubles.cluster_reader import FakeClusterReader, node
from bot.gate import read_pressure
from bot.ports import ClusterNotFound, ClusterReadError

GiB = 1 << 30
IMAGE = "registry.example.com/shop/api:v2"


def deployment(template_spec: dict | None = None, replicas: int = 4) -> DeploymentSnapshot:
    return DeploymentSnapshot(
        name="api", namespace="prod", labels={}, selector={"app": "api"}, replicas=replicas, ready_replicas=replicas,
        updated_replicas=replicas, available_replicas=replicas, revision=3, paused=False, containers=(),
        template={"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "app", "image": IMAGE},
                                                                                 ], **(template_spec or {})}},
    )


def hpa(max_replicas: int = 30, kind: str = "Deployment") -> HpaSnapshot:
    return HpaSnapshot(name="api", namespace="prod", target_kind=kind, target_name="api", min_replicas=3,
                       max_replicas=max_replicas, current_replicas=4, desired_replicas=4, last_scale_time=None)


def world(**changes: object) -> FakeClusterReader:
    nodes = [
        replace(node("n1", images=[(IMAGE, 2 * GiB), ("busybox:1.36", 5_000_000)]),
                capacity={"ephemeral-storage": "100Gi"}),
        replace(node("n2"), capacity={"ephemeral-storage": "50Gi"}),
        replace(node("n3"), capacity={"ephemeral-storage": "50Gi"}),
        node("down", ready=False),
        node("cordoned", unschedulable=True),
        replace(node("gpu"), taints=({"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},)),
    ]
    summaries = {
        "n1": NodeFsSummary("n1", FsStats(100 * GiB, 40 * GiB, 60 * GiB), FsStats(200 * GiB, 50 * GiB, None)),
        "n2": NodeFsSummary("n2", FsStats(50 * GiB, 10 * GiB, 40 * GiB), None),  # images on the root fs
        "n3": NodeFsSummary("n3", FsStats(50 * GiB, 25 * GiB, 25 * GiB), None),
        "gpu": NodeFsSummary("gpu", FsStats(50 * GiB, 25 * GiB, 25 * GiB), None),
    }
    reader = FakeClusterReader(nodes=nodes, summaries=summaries, deployments=[deployment()], hpas=[hpa()])
    for key, value in changes.items():
        setattr(reader, key, value)
    return reader


def test_reach_is_the_hpas_max_and_figures_come_from_the_summary_api():
    reader = world()
    pressure = read_pressure(reader, "prod", "api", image_bytes=4 * GiB, image=IMAGE)
    assert pressure.workload == "Deployment prod/api"
    assert pressure.max_replicas == 30 and pressure.image_bytes == 4 * GiB
    assert pressure.source == "summary"
    figures = {n.node: n for n in pressure.nodes}
    assert sorted(figures) == ["n1", "n2", "n3"]  # not ready, cordoned and untolerated taints are left out
    assert (figures["n1"].capacity_bytes, figures["n1"].used_bytes) == (200 * GiB, 150 * GiB)  # imagefs
    assert (figures["n2"].capacity_bytes, figures["n2"].used_bytes) == (50 * GiB, 40 * GiB)  # nodefs, shared
    assert figures["n1"].has_image and not figures["n2"].has_image
    assert any("can scale Deployment api to 30" in note for note in pressure.notes)


def test_tolerations_and_node_selectors_decide_the_receiving_nodes():
    tolerated = world(deployments=[deployment({"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]})])
    assert "gpu" in {n.node for n in read_pressure(tolerated, "prod", "api", image_bytes=1).nodes}
    selected = world(deployments=[deployment({"nodeSelector": {"kubernetes.io/hostname": "n3"}})])
    assert [n.node for n in read_pressure(selected, "prod", "api", image_bytes=1).nodes] == ["n3"]


def test_required_node_affinity_decides_the_receiving_nodes():
    pinned = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "NotIn", "values": ["n1", "n2"]}]}]}}}}
    assert [n.node for n in read_pressure(world(deployments=[deployment(pinned)]), "prod", "api",
                                          image_bytes=1).nodes] == ["n3"]


def test_without_nodes_proxy_the_figures_fall_back_to_status_images_and_say_so():
    reader = world(forbidden={"node_fs_summary"})
    pressure = read_pressure(reader, "prod", "api", image_bytes=4 * GiB, image=IMAGE)
    assert reader.calls["node_fs_summary"] == 1  # one probe, not one refusal per node
    assert pressure.source == "status.images"
    figures = {n.node: n for n in pressure.nodes}
    assert (figures["n1"].capacity_bytes, figures["n1"].used_bytes) == (100 * GiB, 2 * GiB + 5_000_000)
    assert figures["n2"].used_bytes == 0 and figures["n2"].source == "status.images"
    (note,) = [n for n in pressure.notes if "status.images" in n]
    assert "3 of 3 nodes" in note and "get nodes/proxy" in note


def test_the_summary_api_can_be_skipped_when_time_is_short():
    reader = world()
    pressure = read_pressure(reader, "prod", "api", image_bytes=1, use_summary=False)
    assert reader.calls["node_fs_summary"] == 0 and pressure.source == "status.images"
    assert any("(the summary API was not asked)" in n for n in pressure.notes)


@pytest.mark.parametrize("down", ["n1", "n3"])  # the first node, asked alone as the probe, or another
def test_one_unreachable_kubelet_falls_back_for_that_node_only(down):
    reader = world()
    del reader.summaries[down]
    pressure = read_pressure(reader, "prod", "api", image_bytes=1)
    assert pressure.source == "mixed"
    sources = {n.node: n.source for n in pressure.nodes}
    assert sources == {name: "status.images" if name == down else "summary" for name in ("n1", "n2", "n3")}
    assert any("status.images on 1 of 3 nodes (the summary API did not answer for them)" in n for n in pressure.notes)


def test_without_an_hpa_the_spec_replicas_are_the_reach():
    pressure = read_pressure(world(hpas=[]), "prod", "api", image_bytes=1)
    assert pressure.max_replicas == 4
    assert any("no HorizontalPodAutoscaler" in note for note in pressure.notes)


def test_statefulsets_and_daemonsets_take_what_the_caller_holds():
    sts = read_pressure(world(hpas=[hpa(12, kind="StatefulSet")]), "prod", "api", image_bytes=1, kind="StatefulSet",
                        replicas=3, template={"spec": {}})
    assert sts.max_replicas == 12 and sts.workload == "StatefulSet prod/api"
    daemons = read_pressure(world(), "prod", "api", image_bytes=1, kind="DaemonSet", template={"spec": {}})
    # one pod per receiving node, the cordoned one included: the DaemonSet controller tolerates cordoning
    assert daemons.max_replicas == 4


def test_errors_are_cluster_read_errors():
    with pytest.raises(ClusterNotFound):
        read_pressure(world(deployments=[]), "prod", "api", image_bytes=1)
    with pytest.raises(ClusterReadError, match="connection refused"):
        read_pressure(world(failing={"list_nodes"}), "prod", "api", image_bytes=1)
    with pytest.raises(ClusterReadError, match="not CronJob"):
        read_pressure(world(), "prod", "api", image_bytes=1, kind="CronJob")


def test_an_hpa_whose_max_is_below_the_spec_replicas_reaches_the_spec_replicas():
    pressure = read_pressure(world(hpas=[hpa(2)], deployments=[deployment(replicas=5)]), "prod", "api", image_bytes=1)
    assert pressure.max_replicas == 5  # the rollout starts 5 pods before the HPA scales down
    assert any("asks for 5 replicas, more than the HPA's max" in note for note in pressure.notes)


def test_of_two_hpas_on_one_deployment_the_larger_max_is_the_reach():
    pressure = read_pressure(world(hpas=[hpa(6), replace(hpa(40), name="api-burst")]), "prod", "api", image_bytes=1)
    assert pressure.max_replicas == 40


def test_a_node_listing_the_image_by_digest_holds_a_tag_and_digest_reference():
    digest = "sha256:" + "ab" * 32
    reader = world()
    reader.nodes[1] = replace(node("n2", images=[((f"registry.example.com/shop/api@{digest}",
                                                   "registry.example.com/shop/api:v1"), GiB)]),
                              capacity={"ephemeral-storage": "50Gi"})
    pressure = read_pressure(reader, "prod", "api", image_bytes=1, image=f"registry.example.com/shop/api:v2@{digest}")
    assert {n.node: n.has_image for n in pressure.nodes} == {"n1": False, "n2": True, "n3": False}


def test_the_platform_is_the_receiving_nodes_one():
    reader = world()
    reader.nodes = [replace(n, platform="linux/arm64") for n in reader.nodes]
    assert read_pressure(reader, "prod", "api", image_bytes=1).platform == "linux/arm64"
    # a mixed pool: the most common platform among the nodes the pods can land on, and a note says so
    reader.nodes[2] = replace(reader.nodes[2], platform="linux/amd64")
    reader.nodes[5] = replace(reader.nodes[5], platform="linux/amd64")  # the gpu node: not receiving
    pressure = read_pressure(reader, "prod", "api", image_bytes=1)
    assert pressure.platform == "linux/arm64"
    assert any("2 linux/arm64, 1 linux/amd64" in note for note in pressure.notes)
    # a tie goes to the configured platform
    reader.nodes[1] = replace(reader.nodes[1], platform=None)
    assert read_pressure(reader, "prod", "api", image_bytes=1, default_platform="linux/amd64").platform == "linux/amd64"
    # no node says: None, the reader's own platform
    reader.nodes = [replace(n, platform=None) for n in reader.nodes]
    assert read_pressure(reader, "prod", "api", image_bytes=1).platform is None


def test_daemonset_pods_land_on_nodes_under_condition_taints_a_deployments_would_not():
    reader = world()
    reader.nodes[2] = replace(reader.nodes[2], taints=(
        {"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule"},))
    assert "n3" not in {n.node for n in read_pressure(reader, "prod", "api", image_bytes=1).nodes}
    daemons = read_pressure(reader, "prod", "api", image_bytes=1, kind="DaemonSet", template={"spec": {}})
    assert "n3" in {n.node for n in daemons.nodes}
    assert "gpu" not in {n.node for n in daemons.nodes}  # a taint of someone's own still needs a toleration
