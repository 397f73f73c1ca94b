"""A service that is a StatefulSet or a DaemonSet, through the official kubernetes client against the sim:
resolved to its kind, its pods found by its selector and owner, and the checks that read ReplicaSets said
to be not assessed rather than failed or silently healthy."""

from pathlib import Path

from bot.engine.diagnose import diagnose

HERE = Path(__file__).parent / "scenarios"


def run(cluster, playbook, scenario, service):
    with cluster(HERE / f"{scenario}.yaml") as c:
        return diagnose(service, cluster=c.reader, playbook=playbook, node_proxy_enabled=True)


def only(d, rule):
    (found,) = [f for f in d.findings if f.rule == rule]
    return found


def test_a_statefulset_filling_its_nodes_is_diagnosed_as_the_culprit_it_is(cluster, playbook):
    d = run(cluster, playbook, "statefulset-emptydir", "kafka-mirror")
    assert (d.target.kind, d.target.namespace, d.target.name, d.resolved_via) == (
        "StatefulSet", "data", "kafka-mirror", "statefulset name")
    assert d.to_json()["target"]["kind"] == "StatefulSet"
    noisy = only(d, "noisy-neighbour")
    assert noisy.evidence["workload"] == "data/kafka-mirror" and noisy.evidence["is_service"]
    assert not d.rollback.recommended
    assert {c.check: c.status for c in d.checks}["workload"] == "ok"


def test_a_daemonset_is_found_by_name_and_its_pods_by_its_owner(cluster, playbook):
    d = run(cluster, playbook, "daemonset-memory-hog", "trace-agent")
    assert (d.target.kind, d.target.name, d.resolved_via) == ("DaemonSet", "trace-agent", "daemonset name")
    # Its three pods run and are ready: no pod finding; the missing memory limit is its own.
    assert not {"pods-not-ready", "crashloop"} & {f.rule for f in d.findings}
    assert only(d, "no-memory-limit").evidence
    assert not d.rollback.recommended


def test_a_statefulset_revision_crash_looping_on_a_config_change_rolls_back_to_the_previous_one(cluster, playbook):
    d = run(cluster, playbook, "statefulset-config-crashloop", "kafka")
    assert (d.target.kind, d.resolved_via) == ("StatefulSet", "statefulset name")
    assert d.rollback.recommended and d.rollback.revision == 2 and d.rollback.implicated_by == ("crashloop",)
    assert "envFrom configMap kafka-config-v4 -> kafka-config-v5" in d.rollback.reason
    assert d.recommended.undo_command == "kubectl rollout undo statefulset/kafka -n data --to-revision=2"
    assert d.recommended.patch[0]["path"] == "/spec/template"
    assert d.cause.summary.startswith("revision 3 (envFrom configMap kafka-config-v4 -> kafka-config-v5) → "
                                      "containers exit (Error, status 1)")
    assert not {"noisy-neighbour", "blast-radius", "check-not-assessed"} & {f.rule for f in d.findings}
    assert any("StatefulSet data/kafka revision 3 rolled out (ControllerRevision kafka-" in e.text for e in d.timeline)
