"""The neighbours check when it cannot see everything: RBAC, kubelets that do not answer, pressure it cannot
weigh, nodes with evictions but no condition, and the owners it cannot follow."""

from bot.checks import neighbours
from bot.cluster.snapshots import OwnerRef, WorkloadSnapshot
from bot.domain import Target
from bot.engine.cache import CachingClusterReader
from bot.checks.context import CheckContext
from tests.unit.reasoning.world import NOW, World, ago


def run(w: World, *, node_proxy: bool = False):
    ctx = CheckContext(service=w.name, target=Target(w.reader.context, w.namespace, "Deployment", w.name),
                       cluster=CachingClusterReader(w.reader), now=NOW, node_proxy_enabled=node_proxy)
    return ctx, neighbours.run(ctx, neighbours.NeighboursParams())


def pressured(pressure=("MemoryPressure",)):
    w = World()
    node = w.add_node("n1", pressure=pressure, since=ago(minutes=5)).name
    w.revision(1, ago(days=9))
    rs = w.revision(2, ago(days=3), current=True)
    w.pod(rs, "a", node)
    return w, node


def test_calm_nodes_give_nothing_and_list_no_pods():
    w = World()
    w.add_node("n1")
    w.revision(1, ago(days=3), current=True)
    _, found = run(w)
    assert found == [] and w.reader.calls["list_pods"] <= 1  # only the service's own pods, if at all


def test_without_list_on_pods_cluster_wide_the_gap_is_reported_once():
    w, node = pressured()
    w.reader.forbidden.add("list_pods:*")
    ctx, found = run(w)
    assert found == []  # the engine reports the missing permission (check-forbidden); nothing is made up
    assert [(check, exc.resource) for check, exc in ctx.gaps] == [("neighbours", "pods")]


def test_a_kubelet_that_does_not_answer_leaves_the_figures_unseen_not_guessed():
    w, node = pressured()
    w.other("batch", "Job", "etl-1", "etl-1-x", node, memory_limit=None)
    # No summary for n1 in the fake: the kubelet is unreachable.
    _, found = run(w, node_proxy=True)
    blast = next(f for f in found if f.rule == "blast-radius")
    assert blast.evidence["source"] == "pod specs" and "unreachable" in blast.evidence["unseen"]
    noisy = next(f for f in found if f.rule == "noisy-neighbour")
    assert noisy.evidence["workload"] == "batch/etl-1" and noisy.evidence["kind"] == "Job"  # Jobs not listable here


def test_a_jobs_cronjob_is_named_when_jobs_can_be_listed():
    w, node = pressured()
    w.other("batch", "Job", "etl-28675260", "etl-28675260-x", node, memory_limit=None)
    w.reader.jobs.append(WorkloadSnapshot("Job", "etl-28675260", "batch", {}, owners=(OwnerRef("CronJob", "etl"),)))
    _, found = run(w)
    assert next(f for f in found if f.rule == "noisy-neighbour").evidence["workload"] == "batch/etl"


def test_pid_pressure_is_reported_but_no_one_is_blamed_without_process_counts():
    w, node = pressured(("PIDPressure",))
    w.other("batch", "Deployment", "forker", "forker-x", node, memory_limit=None)
    _, found = run(w)
    assert [f.rule for f in found] == ["blast-radius"]
    assert found[0].evidence["nodes"][0]["resource"] == "pids"


def test_a_node_with_evictions_and_no_condition_is_read_by_what_the_kubelet_evicted_for():
    w = World()
    node = w.add_node("n1").name
    w.revision(1, ago(days=9))
    rs = w.revision(2, ago(days=3), current=True)
    w.pod(rs, "ev", node, phase="Failed", ready=False, reason="Evicted",
          pod_message="The node was low on resource: ephemeral-storage. ")
    hit = w.other("shop", "StatefulSet", "redis", "redis-0", node, evicted="ephemeral-storage")
    _, found = run(w)
    (blast,) = found
    assert blast.evidence["nodes"][0]["resource"] == "ephemeral-storage"
    assert blast.evidence["workloads_hit"] == {"shop/redis": 1} and hit.name in blast.evidence["nodes"][0]["hit"][0]
    # Without figures nothing is blamed for disk: almost no workload sets an ephemeral-storage limit.
    assert "noisy-neighbour" not in [f.rule for f in found]


def test_two_workloads_without_limits_are_not_guessed_between():
    w, node = pressured()
    w.other("batch", "Deployment", "a", "a-x", node, memory_limit=None)
    w.other("batch", "StatefulSet", "b", "b-0", node, memory_limit=None)
    _, found = run(w)
    assert [f.rule for f in found] == ["blast-radius"]


def test_a_forbidden_summary_api_is_asked_once_and_reported():
    w, node = pressured()
    w.add_node("n2", pressure=("MemoryPressure",), since=ago(minutes=5))
    w.reader.forbidden.add("node_fs_summary")
    ctx, found = run(w, node_proxy=True)
    assert w.reader.calls["node_fs_summary"] == 1
    assert [(check, exc.resource) for check, exc in ctx.gaps] == [("neighbours", "nodes/proxy")]
    blast = next(f for f in found if f.rule == "blast-radius")
    assert len(blast.evidence["nodes"]) == 2 and "nodes/proxy" in blast.evidence["unseen"]
