"""The shipped diagnosis scenarios carry the facts their checks look for."""

from collections import Counter

import pytest

from bot.sim.scenario import load_scenario, shipped_scenarios


@pytest.mark.parametrize("name", ["registry-meltdown", "crashloop-bad-config", "memory-pressure-storm",
                                  "rbac-forbidden"])
def test_every_shipped_scenario_loads(name):
    assert name in shipped_scenarios()
    scenario = load_scenario(name)
    assert scenario.nodes and scenario.deployments and scenario.incident is not None
    assert set(scenario.summaries) == {n["metadata"]["name"] for n in scenario.nodes}


def test_crashloop_bad_config():
    scenario = load_scenario("crashloop-bad-config")
    waiting = [cs["state"]["waiting"] for p in scenario.pods for cs in p["status"].get("containerStatuses", [])
               if "waiting" in cs["state"]]
    assert {w["reason"] for w in waiting} == {"CrashLoopBackOff"}
    crashing = [p for p in scenario.pods if p["metadata"]["labels"]["pod-template-hash"] == "85b9c7f6d4"]
    assert all(p["status"]["containerStatuses"][0]["restartCount"] >= 5 for p in crashing)
    assert all(p["status"]["containerStatuses"][0]["lastState"]["terminated"]["reason"] == "Error" for p in crashing)
    envs = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]:
            rs["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"]
            for rs in scenario.replicasets}
    assert envs["7"] == "checkout-api-config-v7" and envs["6"] == "checkout-api-config-v6"
    healthy = [p for p in scenario.pods if p["metadata"]["labels"]["pod-template-hash"] == "6f7d9c8b5c"]
    assert healthy and all(c["status"] == "True" for p in healthy for c in p["status"]["conditions"]
                           if c["type"] == "Ready")
    assert Counter(e["reason"] for e in scenario.events)["BackOff"] == 2


def test_memory_pressure_storm():
    scenario = load_scenario("memory-pressure-storm")
    pressured = [n["metadata"]["name"] for n in scenario.nodes
                 if any(c["type"] == "MemoryPressure" and c["status"] == "True" for c in n["status"]["conditions"])]
    assert len(pressured) == 3
    worker = next(rs for rs in scenario.replicasets if rs["metadata"]["name"].startswith("report-worker"))
    assert "limits" not in worker["spec"]["template"]["spec"]["containers"][0]["resources"]
    evicted = [p for p in scenario.pods if p["status"].get("reason") == "Evicted"]
    assert len(evicted) == 4 and all("low on resource: memory" in p["status"]["message"] for p in evicted)
    assert any(p["status"].get("containerStatuses", [{}])[0].get("lastState", {}).get("terminated", {}).get("reason")
               == "OOMKilled" for p in scenario.pods)
    for name in pressured:
        memory = scenario.summaries[name]["node"]["memory"]
        assert memory["availableBytes"] < 1024**3


def test_rbac_forbidden_is_the_meltdown_cluster_with_gaps():
    scenario = load_scenario("rbac-forbidden")
    meltdown = load_scenario("registry-meltdown")
    assert scenario.pods == meltdown.pods
    assert scenario.is_forbidden("get", "nodes/proxy", None)
    assert scenario.is_forbidden("list", "events", "prod")
    assert not scenario.is_forbidden("list", "pods", "prod")
