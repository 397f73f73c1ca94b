"""ClusterAsOf rewinds a recorded cluster to before a rollout, for the demo's gate."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bot.cluster.snapshots import FsStats, NodeFsSummary
from bot.demo.as_of import ClusterAsOf
from tests.doubles.cluster_reader import FakeClusterReader, node

GiB = 1 << 30
NEW, OLD = "registry.example.com/app:v5", "registry.example.com/app:v4"
ROLLOUT = datetime(2024, 5, 14, 2, 38, 3, tzinfo=UTC)
LATER = datetime(2024, 5, 14, 2, 58, 21, tzinfo=UTC)


def recorded() -> FakeClusterReader:
    full = replace(node("full", ready=False, pressure=("DiskPressure",), since=LATER,
                        images=[(NEW, 4 * GiB), (OLD, GiB)]),
                   taints=({"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule",
                            "timeAdded": "2024-05-14T02:51:40Z"},
                           {"key": "dedicated", "value": "web", "effect": "NoSchedule", "timeAdded": "2024-01-01T00:00:00Z"}))
    return FakeClusterReader(
        nodes=[full],
        summaries={"full": NodeFsSummary("full", FsStats(30 * GiB, 3 * GiB, 27 * GiB),
                                         FsStats(100 * GiB, 2 * GiB, 98 * GiB))},
    )


def test_what_came_after_the_rollout_is_undone():
    (before,) = ClusterAsOf(recorded(), ROLLOUT, [NEW]).list_nodes()
    assert before.ready
    assert before.condition("DiskPressure").status == "False"  # type: ignore[union-attr]
    assert [t["key"] for t in before.taints] == ["dedicated"]  # the older taint stays
    assert [i.names for i in before.images] == [(OLD,)]


def test_the_arrived_images_bytes_leave_the_image_filesystem():
    summary = ClusterAsOf(recorded(), ROLLOUT, [NEW]).node_fs_summary("full")
    assert summary.imagefs == FsStats(100 * GiB, 6 * GiB, 94 * GiB)
    assert summary.nodefs == FsStats(30 * GiB, 3 * GiB, 27 * GiB)  # images live on imagefs here


def test_conditions_older_than_the_moment_stay_as_recorded():
    (node_now,) = ClusterAsOf(recorded(), LATER, []).list_nodes()
    assert not node_now.ready and len(node_now.images) == 2
