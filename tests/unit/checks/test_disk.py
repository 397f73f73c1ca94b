from bot.checks import disk
from bot.domain import Severity


def test_summary_api_measures_nodefs_against_eviction_threshold(meltdown, ctx_of):
    findings = disk.run(ctx_of(meltdown, node_proxy=True), disk.DiskParams())
    high = sorted((f for f in findings if f.rule == "node-disk-high"), key=lambda f: f.evidence["node"])
    assert [f.evidence["node"] for f in high] == ["node-1", "node-2", "node-3"]
    f = high[0]
    assert f.severity is Severity.CRITICAL
    assert f.evidence["used_percent"] == 97.0
    assert f.evidence["source"] == "kubelet summary API"
    assert "nodefs.available<10%" in f.title
    assert f.evidence["largest_images"][0] == {
        "image": "registry.example.com/shop/user-profile-service:v7",
        "size_bytes": 4_509_715_660,
    }
    assert f.evidence["service_image_bytes_on_node"] == 4_509_715_660
    # Images (4.2 GB) do not explain 97 GB used, and this kubelet gives no per-pod stats: not guessed.
    assert f.evidence["attribution"] is None and "cannot be seen" in f.title and "crictl" not in f.remediation
    # One summary per node, plus the per-pod stats of the three full nodes (to see what fills them).
    assert meltdown.calls["node_fs_summary"] == 6 + 3


def test_gc_threshold_gives_high_not_critical(meltdown, ctx_of):
    from bot.cluster.snapshots import FsStats, NodeFsSummary

    meltdown.summaries["node-4"] = NodeFsSummary("node-4", FsStats(100, 60, None), FsStats(100, 13, None))
    findings = disk.run(ctx_of(meltdown, node_proxy=True), disk.DiskParams())
    n4 = next(f for f in findings if f.evidence.get("node") == "node-4")
    assert n4.evidence["filesystem"] == "imagefs"
    assert n4.severity is Severity.CRITICAL  # 13 % available < 15 % imagefs eviction
    meltdown.summaries["node-4"] = NodeFsSummary("node-4", FsStats(100, 60, None), FsStats(100, 15, None))
    findings = disk.run(ctx_of(meltdown, node_proxy=True), disk.DiskParams())
    n4 = next(f for f in findings if f.evidence.get("node") == "node-4")
    assert n4.severity is Severity.HIGH and "image-GC high" in n4.title


def test_without_summary_falls_back_to_conditions_and_images(meltdown, ctx_of):
    findings = disk.run(ctx_of(meltdown, node_proxy=False), disk.DiskParams())
    assert meltdown.calls["node_fs_summary"] == 0
    assert {f.evidence["node"] for f in findings} == {"node-1", "node-2", "node-3"}
    assert all(f.evidence["source"] == "node conditions and status.images" for f in findings)
    # Which filesystem is full and what fills it cannot be seen: images are listed, not blamed (issue 9).
    assert "cannot be seen without the kubelet summary API" in findings[0].title and "4.2 GB" not in findings[0].title
    assert findings[0].evidence["largest_images"][0]["size_bytes"] == 4_509_715_660
    assert findings[0].evidence["attribution"] is None and "crictl" not in findings[0].remediation


def test_forbidden_summary_names_the_permission_and_still_reports(meltdown, ctx_of):
    meltdown.forbidden.add("node_fs_summary")
    ctx = ctx_of(meltdown, node_proxy=True)
    findings = disk.run(ctx, disk.DiskParams())
    ((check, exc),) = ctx.gaps
    assert (check, exc.verb, exc.resource) == ("disk", "get", "nodes/proxy")
    assert meltdown.calls["node_fs_summary"] == 1  # one probe, not one per node
    assert len([f for f in findings if f.rule == "node-disk-high"]) == 3


def test_unreachable_kubelets_fall_back_per_node(meltdown, ctx_of):
    del meltdown.summaries["node-2"]
    findings = disk.run(ctx_of(meltdown, node_proxy=True), disk.DiskParams())
    by_node = {f.evidence.get("node"): f for f in findings if f.evidence.get("node")}
    assert by_node["node-2"].evidence["source"] == "node conditions and status.images"
    assert by_node["node-1"].evidence["source"] == "kubelet summary API"
    assert any("summary unavailable on 1 nodes" in f.title for f in findings)


def test_healthy_disks_give_nothing(healthy, ctx_of):
    assert disk.run(ctx_of(healthy, node_proxy=True), disk.DiskParams()) == []


def test_summaries_are_fetched_concurrently_through_a_bounded_pool(ctx_of):
    from bot.cluster.snapshots import FsStats, NodeFsSummary
    from tests.doubles.cluster_reader import FakeClusterReader, node

    names = [f"n{i:03}" for i in range(60)]
    reader = FakeClusterReader(
        nodes=[node(n) for n in names],
        summaries={n: NodeFsSummary(n, FsStats(100, 50, None), None) for n in names},
        slow={"node_fs_summary": 0.02},
    )
    disk.run(ctx_of(reader, node_proxy=True), disk.DiskParams(max_workers=8))
    assert reader.calls["node_fs_summary"] == 60
    assert 1 < reader.max_in_flight["node_fs_summary"] <= 8
