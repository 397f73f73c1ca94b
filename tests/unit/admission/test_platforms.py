"""NodePlatforms: the image of a multi-arch index the webhook reads is the one the workload's nodes run."""

from __future__ import annotations

from dataclasses import replace

from bot.admission.platforms import NodePlatforms
from tests.doubles.cluster_reader import FakeClusterReader, node


def pool() -> FakeClusterReader:
    arm = [replace(node(f"arm-{i}"), platform="linux/arm64", labels={"kubernetes.io/arch": "arm64"}) for i in range(3)]
    amd = [replace(node(f"amd-{i}"), platform="linux/amd64", labels={"kubernetes.io/arch": "amd64"}) for i in range(2)]
    return FakeClusterReader(nodes=arm + amd)


def test_the_platform_is_the_nodes_the_template_can_land_on():
    reader = pool()
    platforms = NodePlatforms(lambda: reader, default="linux/amd64")
    assert platforms.platform({"spec": {}}, kind="Deployment") == "linux/arm64"  # 3 of 5 nodes
    pinned = {"spec": {"nodeSelector": {"kubernetes.io/arch": "amd64"}}}
    assert platforms.platform(pinned, kind="Deployment") is None  # the default: the reader's own
    assert reader.calls["list_nodes"] == 1  # the node list is kept between reviews


def test_without_a_cluster_or_nodes_the_reader_keeps_its_platform():
    assert NodePlatforms(lambda: None, default="linux/amd64").platform({"spec": {}}, kind="Deployment") is None
    failing = FakeClusterReader(nodes=[], failing={"list_nodes"})
    assert NodePlatforms(lambda: failing, default="linux/amd64").platform({}, kind="DaemonSet") is None
