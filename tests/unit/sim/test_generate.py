from collections import Counter

import pytest

from bot.sim.generate import CURRENT_IMAGE, TARGET, generate_scenario, generate_scenario_data
from bot.sim.scenario import parse_scenario


def test_generated_cluster_has_the_requested_size():
    scenario = generate_scenario(nodes=40, pods_per_node=10)
    assert len(scenario.nodes) == 40
    assert len(scenario.pods) == pytest.approx(400, abs=5)
    assert set(scenario.summaries) == {n["metadata"]["name"] for n in scenario.nodes}
    assert len({n["metadata"]["name"] for n in scenario.nodes}) == 40
    # revisions: every deployment has at least two ReplicaSets
    owners = Counter(rs["metadata"]["ownerReferences"][0]["name"] for rs in scenario.replicasets)
    assert all(count >= 2 for count in owners.values())
    assert scenario.events


def test_generated_cluster_contains_the_outage():
    scenario = generate_scenario(nodes=20)
    assert any(d["metadata"]["name"] == TARGET for d in scenario.deployments)
    assert scenario.image(CURRENT_IMAGE).manifest.size_bytes == 4509715660
    assert any(not all(c["status"] != "True" or c["type"] != "DiskPressure" for c in n["status"]["conditions"])
               for n in scenario.nodes)
    assert any("503 Service Unavailable" in e["message"] for e in scenario.events)


def test_generation_is_deterministic():
    first = generate_scenario_data(nodes=10)
    assert first == generate_scenario_data(nodes=10)
    assert parse_scenario(first).pods == parse_scenario(generate_scenario_data(nodes=10)).pods


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="must be at least 1"):
        generate_scenario(nodes=0)


def test_generated_cluster_can_forbid():
    scenario = generate_scenario(nodes=5, forbidden=[{"verb": "get", "resource": "nodes/proxy"}])
    assert scenario.is_forbidden("get", "nodes/proxy", None)
