"""rollout-stuck for a StatefulSet and a DaemonSet, from the rolling update's status counters served by the
sim in the API's shape and read through the official kubernetes client: a halt on a not-ready pod, a halt on
maxUnavailable, and a partition held on purpose that is not stuck."""

from pathlib import Path

import pytest
import yaml

from bot.engine.diagnose import diagnose

HERE = Path(__file__).parent / "scenarios"


def run(cluster, playbook, scenario, service):
    with cluster(HERE / f"{scenario}.yaml") as c:
        return diagnose(service, cluster=c.reader, playbook=playbook, node_proxy_enabled=True)


def only(d, rule):
    (found,) = [f for f in d.findings if f.rule == rule]
    return found


def test_a_statefulset_halted_at_ordinal_2_by_a_crash_looping_pod_is_stuck_and_rolls_back(cluster, playbook):
    d = run(cluster, playbook, "statefulset-halted-crashloop", "zookeeper")
    halted = only(d, "rollout-stuck")
    ev = halted.evidence
    assert (ev["reason"], ev["kind"], ev["halted_at"], ev["ordinal"]) == (
        "OrderedUpdateHalted", "StatefulSet", "zookeeper-2", 2)
    assert (ev["revision"], ev["desired"], ev["updated"], ev["new_pods"], ev["new_ready"]) == (5, 3, 1, 1, 0)
    assert ev["since"] == "2025-02-18T08:40:00+00:00" and ev["paused"] is False
    assert ev["new_failures"] == {"crash-loop": 1}
    assert ev["old"] == [{"revision": 4, "pods": 2, "ready": 2}] and ev["old_ready"] == 2
    assert "halted at ordinal 2 (zookeeper-2 not ready (1 crash-loop))" in halted.title
    assert d.rollback.recommended and d.rollback.revision == 4
    assert d.recommended.undo_command == "kubectl rollout undo statefulset/zookeeper -n search --to-revision=4"
    assert any(link.rules == ("rollout-stuck",) and "stuck since 2025-02-18 08:40 at ordinal 2 (zookeeper-2 not "
               "ready), revision 4 still serves 2 ready pods" in link.text for link in d.cause.chain)
    assert "rollout-held" not in {f.rule for f in d.findings}


def test_a_statefulset_partitioned_on_purpose_is_held_not_stuck(cluster, playbook):
    d = run(cluster, playbook, "statefulset-partitioned", "cassandra")
    assert "rollout-stuck" not in {f.rule for f in d.findings}
    held = only(d, "rollout-held")
    assert (held.evidence["reason"], held.evidence["partition"], held.evidence["updated"],
            held.evidence["desired"]) == ("Partitioned", 3, 2, 5)
    assert held.severity.value == "info" and "is partitioned at 3" in held.title
    assert not d.rollback.recommended


def test_a_daemonset_halted_by_max_unavailable_on_a_pull_error_is_stuck_and_rolls_back(cluster, playbook):
    d = run(cluster, playbook, "daemonset-maxunavailable-pull", "node-exporter")
    halted = only(d, "rollout-stuck")
    ev = halted.evidence
    assert (ev["reason"], ev["kind"], ev["max_unavailable"], ev["unavailable"]) == (
        "MaxUnavailable", "DaemonSet", 1, 1)
    assert (ev["revision"], ev["desired"], ev["updated"], ev["new_pods"], ev["new_ready"]) == (4, 5, 1, 1, 0)
    assert ev["since"] == "2025-04-22T10:00:00+00:00"
    assert ev["old"] == [{"revision": 3, "pods": 4, "ready": 4}]
    assert d.rollback.recommended and d.rollback.revision == 3
    assert d.recommended.undo_command == "kubectl rollout undo daemonset/node-exporter -n monitoring --to-revision=3"
    assert any(link.rules == ("rollout-stuck",) and "with 1 pods unavailable (maxUnavailable 1)" in link.text
               for link in d.cause.chain)


def test_a_daemonset_whose_update_reached_every_node_is_not_stuck_however_broken(cluster, playbook):
    # Every node runs the new revision (updatedNumberScheduled == desiredNumberScheduled): the rollout is
    # done; that its pods fail is the rollback's business, not a halted rollout.
    d = run(cluster, playbook, "daemonset-image-pull", "fluent-bit")
    assert not {"rollout-stuck", "rollout-held"} & {f.rule for f in d.findings}


def variant(tmp_path, scenario, **changes):
    """The scenario with top-level keys or the first workload's keys replaced (`workload={...}`)."""
    data = yaml.safe_load((HERE / f"{scenario}.yaml").read_text())
    data["workloads"][0].update(changes.pop("workload", {}))
    data.update(changes)
    path = tmp_path / f"{scenario}-variant.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def rules_of(cluster, playbook, path, service):
    with cluster(path) as c:
        d = diagnose(service, cluster=c.reader, playbook=playbook, node_proxy_enabled=True)
    return {f.rule: f for f in d.findings}


def test_a_halted_statefulset_within_the_deadline_is_not_yet_stuck(cluster, playbook, tmp_path):
    # Five minutes after the revision: a rolling update may take that long to start a pod.
    found = rules_of(cluster, playbook, variant(tmp_path, "statefulset-halted-crashloop", now="2025-02-18T08:45:00Z"),
                     "zookeeper")
    assert "rollout-stuck" not in found and "rollout-held" not in found


def test_an_on_delete_statefulset_is_held_by_its_strategy_not_stuck(cluster, playbook, tmp_path):
    path = variant(tmp_path, "statefulset-halted-crashloop", workload={"update_strategy": "OnDelete"})
    found = rules_of(cluster, playbook, path, "zookeeper")
    assert "rollout-stuck" not in found
    held = found["rollout-held"]
    assert (held.evidence["reason"], held.evidence["strategy"]) == ("OnDelete", "OnDelete")
    assert "replaces no pod by itself, 1 of 3 run revision 5" in held.title


def test_a_daemonset_with_room_under_a_percentage_max_unavailable_is_not_stuck(cluster, playbook, tmp_path):
    # 50% of 5 nodes rounds up to 3: one unavailable pod leaves the controller room to go on.
    path = variant(tmp_path, "daemonset-maxunavailable-pull", workload={"max_unavailable": "50%"})
    assert "rollout-stuck" not in rules_of(cluster, playbook, path, "node-exporter")


def test_a_partition_on_a_daemonset_is_refused_in_one_line(tmp_path):
    from bot.sim.scenario import ScenarioError, load_scenario

    path = variant(tmp_path, "daemonset-maxunavailable-pull", workload={"partition": 2})
    with pytest.raises(ScenarioError, match="a DaemonSet has no partition"):
        load_scenario(path)


def test_a_statefulset_whose_new_pod_is_ready_is_halted_by_an_old_pod_that_is_not(cluster, playbook, tmp_path):
    # zookeeper-2 runs revision 5 and is ready; zookeeper-0, still on revision 4, is not: the controller
    # replaces no pod while one is unavailable, so the update waits on the old pod, not the new one.
    pods = [
        {"revision": 4, "count": 1, "names": ["zookeeper-0"], "nodes": ["z-1"], "created": "2024-12-03T10:02:00Z",
         "ready": False},
        {"revision": 4, "count": 1, "names": ["zookeeper-1"], "nodes": ["z-2"], "created": "2024-12-03T10:02:00Z"},
        {"revision": 5, "count": 1, "names": ["zookeeper-2"], "nodes": ["z-3"], "created": "2025-02-18T08:40:20Z"},
    ]
    found = rules_of(cluster, playbook, variant(tmp_path, "statefulset-halted-crashloop", workload={"pods": pods}),
                     "zookeeper")
    ev = found["rollout-stuck"].evidence
    assert (ev["halted_at"], ev["ordinal"], ev["new_ready"], ev["new_failures"]) == ("zookeeper-0", 0, 1, {})
