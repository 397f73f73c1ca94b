"""Blast radius and the real culprit on pressured nodes: noisy neighbours, disks filled by logs or volumes,
and what cannot be seen without the summary API. Built snapshots, through the engine."""

import dataclasses

import pytest

from bot.cluster.snapshots import (
    ContainerStats,
    OwnerRef,
    PodStats,
    VolumeSnapshot,
    VolumeStats,
    WorkloadSnapshot,
)
from bot.checks import disk
from bot.checks.context import CheckContext
from bot.domain import Confidence, Target
from bot.engine.cache import CachingClusterReader
from tests.unit.reasoning.world import NOW, GiB, World, ago


def by_rule(d, rule):
    return [f for f in d.findings if f.rule == rule]


def stats(pod, *, memory=0, logs=0, rootfs=0, volumes=None):
    vols = tuple(VolumeStats(name, used) for name, used in (volumes or {}).items())
    total = logs + rootfs + sum(used for _, used in (volumes or {}).items())
    return PodStats(pod.name, pod.namespace, memory_working_set_bytes=memory, ephemeral_storage_used_bytes=total,
                    containers=(ContainerStats("c", memory, rootfs, logs),), volumes=vols)


def noisy_world(*, owner_kind="Job", owner="nightly-reindex-28675260", namespace="analytics", pressured=2,
                others=("recommendation-api",), summary=True):
    """The service (revision 18, 4 days old, memory limits) shares nodes with an unlimited batch workload."""
    w = World(namespace="checkout", name="cart-service")
    hot = [w.add_node(f"ip-10-3-1-{i}", pressure=("MemoryPressure",), since=ago(minutes=12)).name
           for i in range(1, pressured + 1)]
    cool = w.add_node("ip-10-3-2-1").name
    w.revision(17, ago(days=11))
    rs = w.revision(18, ago(days=4), current=True)
    live = [w.pod(rs, "ok1", cool)]
    evicted = [w.pod(rs, f"ev{i}", node, phase="Failed", ready=False, reason="Evicted",
                     pod_message="The node was low on resource: memory. ") for i, node in enumerate(hot)]
    hogs, hit = [], []
    for i, node in enumerate(hot):
        hogs.append(w.other(namespace, owner_kind, owner, f"{owner}-{i}x", node, memory_limit=None,
                            priority=100000, priority_class="batch-high"))
        for other in others:
            hit.append(w.other("shop", "ReplicaSet", f"{other}-5d8f9", f"{other}-5d8f9-{i}q", node, evicted="memory",
                               labels={"app": other, "pod-template-hash": "5d8f9"}))
            w.other("shop", "ReplicaSet", f"{other}-5d8f9", f"{other}-5d8f9-{i}r", node,
                    labels={"app": other, "pod-template-hash": "5d8f9"})
    if owner_kind == "Job":
        w.reader.jobs.append(WorkloadSnapshot("Job", owner, namespace, {}, owners=(OwnerRef("CronJob", "nightly-reindex"),)))
    if summary:
        for node, hog in zip(hot, hogs, strict=True):
            pods = [stats(hog, memory=int(29.4 * GiB))] + [
                stats(p, memory=300 * 1024**2) for p in w.reader.pods if p.node_name == node and p.phase == "Running"
                and p is not hog]
            w.summary(node, nodefs=(100 * GiB, 70 * GiB), pods=tuple(pods))
        w.summary(cool, nodefs=(100 * GiB, 70 * GiB), pods=())
    return w, live, evicted, hit


@pytest.mark.parametrize(("owner_kind", "owner", "namespace", "workload"), [
    ("Job", "nightly-reindex-28675260", "analytics", ("analytics/nightly-reindex", "CronJob")),
    ("StatefulSet", "es-hot", "search", ("search/es-hot", "StatefulSet")),
    ("DaemonSet", "profiler", "monitoring", ("monitoring/profiler", "DaemonSet")),
])
def test_the_workload_that_takes_the_memory_is_named_and_the_service_is_not_rolled_back(owner_kind, owner, namespace,
                                                                                       workload):
    w, _, evicted, hit = noisy_world(owner_kind=owner_kind, owner=owner, namespace=namespace)
    d = w.diagnose(node_proxy=True)
    (noisy,) = by_rule(d, "noisy-neighbour")
    assert (noisy.evidence["workload"], noisy.evidence["kind"]) == workload
    assert noisy.evidence["source"] == "kubelet summary API" and noisy.evidence["is_service"] is False
    assert noisy.evidence["priority_class"] == "batch-high" and noisy.evidence["share"] > 0.9
    assert workload[0] in noisy.remediation and "checkout/cart-service" not in noisy.remediation
    (blast,) = by_rule(d, "blast-radius")
    assert blast.evidence["other_pods"] == len(hit) == 2
    assert blast.evidence["workloads_hit"] == {"shop/recommendation-api": 2}
    top = blast.evidence["nodes"][0]["consumers"][0]
    assert top["workload"] == workload[0] and top["memory_bytes"] == int(29.4 * GiB)
    # Not the service: revision 18 is 4 days old and its pods fail only through their nodes.
    assert not d.rollback.recommended and d.recommended is None
    assert d.rollback.reason == ("revision 18 has been live 4 d; its pods fail only for reasons outside it "
                                 "(2 evicted), and the same nodes' trouble also hit 2 pods of 1 other workload")
    assert d.cause.chain[0].text == f"{workload[0]} ({workload[1]}), no memory limit, 58.8 GB memory on 2 nodes"
    assert d.cause.summary.startswith(f"{workload[0]} ({workload[1]}), no memory limit")
    assert "MemoryPressure on 2 nodes" in d.cause.summary and "2 pods of 1 other workload hit too" in d.cause.summary
    assert d.cause.confidence is Confidence.HIGH
    assert any(r.startswith("a rollback: revision 18") for r in d.cause.ruled_out)
    pressure = by_rule(d, "node-pressure")[0]
    assert "noisy-neighbour" in pressure.remediation and "limits" not in pressure.remediation


def test_more_workloads_hit_are_counted_by_workload():
    w, _, _, hit = noisy_world(pressured=3, others=("recommendation-api", "search-ui", "reviews"))
    d = w.diagnose(node_proxy=True)
    (blast,) = by_rule(d, "blast-radius")
    assert (blast.evidence["other_pods"], blast.evidence["other_workloads"]) == (9, 3)
    assert "hit 9 pods of 3 other workloads" in d.rollback.reason


def test_without_the_summary_api_the_only_unlimited_workload_is_suspected_from_its_spec():
    w, _, _, _ = noisy_world(summary=False)
    d = w.diagnose(node_proxy=False)
    (noisy,) = by_rule(d, "noisy-neighbour")
    assert noisy.evidence["workload"] == "analytics/nightly-reindex" and noisy.evidence["source"] == "pod specs"
    assert noisy.evidence["used_bytes"] is None and "suspected from the pod specs" in noisy.title
    (blast,) = by_rule(d, "blast-radius")
    assert "summary API" in blast.evidence["unseen"]
    assert d.cause.confidence is Confidence.MEDIUM and not d.rollback.recommended


def test_two_unlimited_workloads_without_figures_name_no_culprit():
    w, _, _, _ = noisy_world(summary=False)
    for node in ("ip-10-3-1-1", "ip-10-3-1-2"):
        w.other("ml", "StatefulSet", "trainer", f"trainer-{node[-1]}", node, memory_limit=None)
    d = w.diagnose(node_proxy=False)
    assert by_rule(d, "noisy-neighbour") == []
    assert d.cause.chain[0].text.startswith("unknown consumer (cannot see how much memory and disk each pod uses")
    assert d.cause.confidence is Confidence.LOW and not d.rollback.recommended


def test_the_service_itself_without_a_limit_is_told_to_set_one_not_to_roll_back():
    w = World(namespace="analytics", name="report-worker")
    nodes = [w.add_node(f"n{i}", pressure=("MemoryPressure",), since=ago(minutes=11)).name for i in range(3)]
    w.revision(11, ago(days=14), memory_limit=None)
    rs = w.revision(12, ago(hours=16), memory_limit=None, current=True)
    pods = [w.pod(rs, f"p{i}", node, waiting="CrashLoopBackOff", restarts=5, last="OOMKilled")
            for i, node in enumerate(nodes)]
    gateway = w.other("edge", "ReplicaSet", "api-gateway-7c9", "api-gateway-7c9-1", nodes[0], evicted="memory",
                      labels={"app": "api-gateway", "pod-template-hash": "7c9"})
    for node, pod in zip(nodes, pods, strict=True):
        w.summary(node, nodefs=(100 * GiB, 60 * GiB), pods=(stats(pod, memory=14 * GiB),))
    d = w.diagnose(node_proxy=True)
    (noisy,) = by_rule(d, "noisy-neighbour")
    assert noisy.evidence["is_service"] and noisy.evidence["workload"] == "analytics/report-worker"
    assert "(the service itself)" in noisy.title
    assert not d.rollback.recommended
    assert "the service itself has no memory limit" in d.rollback.reason
    assert gateway.name in by_rule(d, "blast-radius")[0].evidence["nodes"][0]["hit"][0]


def test_a_revision_that_dropped_its_memory_limit_and_now_crowds_its_nodes_is_rolled_back():
    w = World(namespace="analytics", name="report-worker")
    nodes = [w.add_node(f"n{i}", pressure=("MemoryPressure",), since=ago(minutes=30)).name for i in range(2)]
    w.revision(11, ago(days=14), memory_limit="2Gi")
    rs = w.revision(12, ago(hours=2), memory_limit=None, current=True)
    pods = [w.pod(rs, f"p{i}", node) for i, node in enumerate(nodes)]
    for node, pod in zip(nodes, pods, strict=True):
        w.summary(node, nodefs=(100 * GiB, 60 * GiB), pods=(stats(pod, memory=20 * GiB),))
    d = w.diagnose(node_proxy=True)
    assert d.rollback.recommended and d.rollback.revision == 11
    assert d.rollback.implicated_by == ("noisy-neighbour",)
    assert "limits.memory 2Gi -> unset" in d.rollback.reason
    assert d.cause.summary.startswith("revision 12 (limits.memory 2Gi -> unset) → MemoryPressure on 2 nodes")


# --- disks ---------------------------------------------------------------------------------------------


def disk_world(*, separate_imagefs=True, summary=True, filler="logs", owner_kind="ReplicaSet",
               owner="log-spammer-6b7c", namespace="batch"):
    """nodefs fills on two nodes; imagefs (when separate) sits at 40 %. The service is old and fine."""
    w = World(namespace="shop", name="catalog")
    hot = [w.add_node(f"disk-{i}", pressure=("DiskPressure",), since=ago(minutes=15),
                      images=[(("registry.internal:5000/catalog:8",), 2 * GiB)]).name for i in range(2)]
    w.revision(7, ago(days=12))
    rs = w.revision(8, ago(days=3), current=True)
    mine = [w.pod(rs, f"ev{i}", node, phase="Failed", ready=False, reason="Evicted",
                  pod_message="The node was low on resource: ephemeral-storage. ") for i, node in enumerate(hot)]
    labels = {"app": "log-spammer", "pod-template-hash": "6b7c"} if owner_kind == "ReplicaSet" else {"app": owner}
    writers = []
    for i, node in enumerate(hot):
        pod = w.other(namespace, owner_kind, owner, f"{owner}-{i}w", node, labels=labels)
        if filler == "emptyDir":
            pod = dataclasses.replace(pod, volumes=(VolumeSnapshot("scratch", "emptyDir"),))
            w.reader.pods[-1] = pod
        writers.append(pod)
    for node, pod in zip(hot, writers, strict=True):
        used = 58 * GiB
        pod_stats = stats(pod, logs=used) if filler == "logs" else stats(pod, volumes={"scratch": used})
        if summary:
            w.summary(node, nodefs=(100 * GiB, 5 * GiB), imagefs=(200 * GiB, 120 * GiB) if separate_imagefs else None,
                      pods=(pod_stats, stats(mine[0], logs=GiB)))
    return w


@pytest.mark.parametrize(("filler", "owner_kind", "owner", "namespace", "workload", "words"), [
    ("logs", "ReplicaSet", "log-spammer-6b7c", "batch", "batch/log-spammer", "container logs"),
    ("emptyDir", "StatefulSet", "kafka-mirror", "streaming", "streaming/kafka-mirror", "emptyDir volumes"),
])
def test_a_nodefs_filled_by_a_workload_names_it_and_never_advises_removing_images(filler, owner_kind, owner,
                                                                                 namespace, workload, words):
    w = disk_world(filler=filler, owner_kind=owner_kind, owner=owner, namespace=namespace)
    d = w.diagnose(node_proxy=True)
    disks = by_rule(d, "node-disk-high")
    assert {f.evidence["filesystem"] for f in disks} == {"nodefs"} and len(disks) == 2
    disk = disks[0]
    assert disk.evidence["attribution"] == filler
    assert disk.evidence["top_consumers"][0]["workload"] == workload
    assert f"{words} take" in disk.title and workload in disk.title and "largest image" not in disk.title
    assert "crictl" not in disk.remediation and "roll back" not in disk.remediation
    assert workload in disk.remediation
    assert not any("garbage-collecting" in (f.remediation or "") for f in d.findings)
    assert not d.rollback.recommended
    assert d.cause.chain[0].text.startswith(f"{words} of {workload} ({owner_kind if owner_kind != 'ReplicaSet' else 'Deployment'}), 58")
    assert "nodefs 95% used on 2 nodes" in d.cause.summary


def test_images_on_a_nodefs_without_a_separate_imagefs_are_blamed_when_they_fill_it():
    w = World(namespace="shop", name="catalog")
    node = w.add_node("disk-1", pressure=("DiskPressure",), since=ago(minutes=15),
                      images=[(("registry.internal:5000/ml:3",), 70 * GiB), (("registry.internal:5000/catalog:8",), GiB)]).name
    w.revision(7, ago(days=12))
    rs = w.revision(8, ago(days=3), current=True)
    pod = w.pod(rs, "a", node)
    w.summary(node, nodefs=(100 * GiB, 5 * GiB), pods=(stats(pod, logs=GiB),))
    d = w.diagnose(node_proxy=True)
    (disk,) = by_rule(d, "node-disk-high")
    assert disk.evidence["attribution"] == "images" and disk.evidence["separate_imagefs"] is False
    assert "registry.internal:5000/ml:3" in disk.title and "crictl rmi --prune" in disk.remediation


def test_without_the_summary_api_a_disk_pressure_says_what_cannot_be_seen_and_guesses_no_images():
    w = disk_world(summary=False)
    d = w.diagnose(node_proxy=False)
    disk = by_rule(d, "node-disk-high")[0]
    assert disk.evidence["attribution"] is None and "cannot be seen" in disk.title
    assert "image" not in disk.title.split(";", 1)[1].replace("image store", "")
    assert "crictl" not in disk.remediation and "summary API" in disk.remediation
    assert not d.rollback.recommended
    assert d.cause.chain[0].text.startswith("unknown consumer") and d.cause.confidence is Confidence.LOW


def test_per_pod_figures_are_read_only_for_the_nodes_shown_one_by_one():
    w = disk_world()
    ctx = CheckContext(service=w.name, target=Target(None, w.namespace, "Deployment", w.name),
                       cluster=CachingClusterReader(w.reader), now=NOW, node_proxy_enabled=True)
    found = disk.run(ctx, disk.DiskParams(max_nodes=1))
    shown, rest = found
    assert shown.evidence["attribution"] == "logs" and rest.evidence["count"] == 1
    assert w.reader.calls["node_fs_summary"] == 2 + 1  # every node's summary, one node's per-pod figures


def test_a_fresh_rollout_is_not_blamed_for_evictions_a_neighbour_causes():
    w, _, _, _ = noisy_world()
    rs18 = next(rs for rs in w.reader.replicasets if rs.revision == 18)
    fresh = dataclasses.replace(rs18, created_at=ago(minutes=40))
    w.reader.replicasets[w.reader.replicasets.index(rs18)] = fresh
    d = w.diagnose(node_proxy=True)
    assert not d.rollback.recommended
    assert d.rollback.reason.startswith("revision 18 has been live 40 min; its pods fail only for reasons outside it")
    assert d.cause.chain[0].rules == ("noisy-neighbour",)


def test_a_grown_image_is_not_blamed_for_a_disk_that_logs_fill():
    w = disk_world()
    old, new = "registry.internal:5000/catalog:7", "registry.internal:5000/catalog:8"
    rs7 = next(rs for rs in w.reader.replicasets if rs.revision == 7)
    rs8 = next(rs for rs in w.reader.replicasets if rs.revision == 8)
    w.reader.replicasets = [dataclasses.replace(rs7, containers=(dataclasses.replace(rs7.containers[0], image=old),)),
                            dataclasses.replace(rs8, created_at=ago(hours=2),
                                                containers=(dataclasses.replace(rs8.containers[0], image=new),))]
    w.reader.deployments = [dataclasses.replace(w.reader.deployments[0], containers=w.reader.replicasets[1].containers)]
    w.reader.nodes = [dataclasses.replace(n, images=n.images + ((type(n.images[0])((old,), 200 * 1024**2)),))
                      for n in w.reader.nodes]
    d = w.diagnose(node_proxy=True)
    assert "image-size-regression" in {f.rule for f in d.findings}  # 2 GB against 200 MB
    assert not d.rollback.recommended
    assert d.cause.chain[0].text.startswith("container logs of batch/log-spammer")
