from bot.checks import nodes
from bot.domain import Severity
from tests.doubles.cluster_reader import FakeClusterReader, node


def rules(findings):
    return sorted(f.rule for f in findings)


def test_not_ready_and_disk_pressure_nodes_are_named_with_reason_and_since(meltdown, ctx_of):
    findings = nodes.run(ctx_of(meltdown), nodes.NodesParams())
    not_ready = [f for f in findings if f.rule == "node-not-ready"]
    pressure = [f for f in findings if f.rule == "node-pressure"]
    assert sorted(f.evidence["node"] for f in not_ready) == ["node-1", "node-2", "node-3"]
    assert {f.evidence["condition"] for f in pressure} == {"DiskPressure"}
    first = next(f for f in pressure if f.evidence["node"] == "node-1")
    assert "KubeletHasDiskPressure" in first.title
    assert "since 2024-05-14 02:50:00 (10 min)" in first.title
    # node-1 hosts the service's pods: it matters more than a node that does not.
    n1 = next(f for f in not_ready if f.evidence["node"] == "node-1")
    n2 = next(f for f in not_ready if f.evidence["node"] == "node-2")
    assert n1.severity is Severity.CRITICAL and n1.evidence["hosts_service"]
    assert n2.severity.rank >= n1.severity.rank


def test_cordoned_node(ctx_of, meltdown):
    meltdown.nodes.append(node("node-9", unschedulable=True))
    findings = nodes.run(ctx_of(meltdown), nodes.NodesParams())
    assert [f.evidence["node"] for f in findings if f.rule == "node-cordoned"] == ["node-9"]


def test_healthy_nodes_give_nothing(healthy, ctx_of):
    assert nodes.run(ctx_of(healthy), nodes.NodesParams()) == []


def test_many_bad_nodes_are_summed_up_beyond_max_nodes(ctx_of, meltdown):
    meltdown.nodes.extend(node(f"extra-{i:03}", ready=False) for i in range(50))
    findings = nodes.run(ctx_of(meltdown), nodes.NodesParams(max_nodes=5))
    not_ready = [f for f in findings if f.rule == "node-not-ready"]
    assert len(not_ready) == 6
    assert not_ready[-1].evidence["count"] == 48
    assert "48 more nodes" in not_ready[-1].title


def test_memory_pressure_storm_is_reported_per_node(ctx_of):
    reader = FakeClusterReader(nodes=[node(f"n{i}", pressure=("MemoryPressure",)) for i in range(3)])
    findings = nodes.run(ctx_of(reader), nodes.NodesParams(scope="cluster"))
    assert [f.evidence["condition"] for f in findings] == ["MemoryPressure"] * 3
