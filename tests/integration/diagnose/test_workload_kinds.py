"""A service that is a StatefulSet or a DaemonSet, through the official kubernetes client against the sim:
resolved to its kind, its pods found by its selector and owner, and the checks that read ReplicaSets said
to be not assessed rather than failed or silently healthy."""

from pathlib import Path

import pytest

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


def test_a_statefulset_pod_pinned_by_its_zonal_volume_is_not_a_rollback_and_names_its_claim(cluster, playbook):
    d = run(cluster, playbook, "statefulset-volume-node-affinity", "postgres")
    assert not d.rollback.recommended and "fail only for reasons outside it (1 unschedulable)" in d.rollback.reason
    ready = only(d, "pods-not-ready")
    assert ready.evidence["pods"] == ["postgres-1"] and ready.evidence["claims"] == ["data-postgres-1"]
    assert ("the scheduler cannot place them: 0/3 nodes are available: 3 node(s) had volume node affinity conflict "
            "(PersistentVolumeClaim data-postgres-1)") in d.cause.summary
    assert "rollback-candidate" not in {f.rule for f in d.findings}


def test_a_daemonset_whose_new_tag_does_not_exist_rolls_back_on_every_node(cluster, playbook):
    d = run(cluster, playbook, "daemonset-image-pull", "fluent-bit")
    assert (d.target.kind, d.resolved_via) == ("DaemonSet", "daemonset name")
    assert d.rollback.recommended and d.rollback.revision == 5
    assert "4 failing to pull their image, where revision 5's did not" in d.rollback.reason
    assert d.recommended.undo_command == "kubectl rollout undo daemonset/fluent-bit -n logging --to-revision=5"
    assert d.cause.summary == ("revision 6 (image fluent-bit:3.1.4 -> fluent-bit:3.1.40) → the image cannot be "
                               "pulled (not found) → 4 of 4 pods not ready (mostly ImagePullBackOff)")
    assert not {"registry-errors", "noisy-neighbour", "blast-radius"} & {f.rule for f in d.findings}


def test_a_named_statefulset_or_daemonset_is_read_by_get_not_by_listing_its_namespace(cluster, playbook):
    for scenario, service, namespace, resource in (("statefulset-emptydir", "kafka-mirror", "data", "statefulsets"),
                                                   ("daemonset-memory-hog", "trace-agent", "observability",
                                                    "daemonsets")):
        with cluster(HERE / f"{scenario}.yaml") as c:
            d = diagnose(service, cluster=c.reader, playbook=playbook, namespace=namespace, node_proxy_enabled=True)
            paths = [path.split("?")[0] for _, path in c.sim.requests]
        assert d.target.name == service and d.resolved_via == f"{resource[:-1]} name"
        assert f"/apis/apps/v1/namespaces/{namespace}/{resource}/{service}" in paths
        assert f"/apis/apps/v1/namespaces/{namespace}/{resource}" not in paths


def test_a_statefulset_and_a_daemonset_by_name_over_the_wire_and_404_as_not_found(cluster):
    from kubernetes.client.exceptions import ApiException

    from bot.ports import ClusterNotFound

    with cluster(HERE / "statefulset-emptydir.yaml") as c:
        kafka = c.reader.get_statefulset("data", "kafka-mirror")
        assert (kafka.kind, kafka.namespace, kafka.name) == ("StatefulSet", "data", "kafka-mirror")
        assert kafka.containers and kafka.selector
        with pytest.raises(ClusterNotFound, match='statefulsets.apps "nope" not found') as info:
            c.reader.get_statefulset("data", "nope")
        assert isinstance(info.value.__cause__, ApiException) and info.value.__cause__.status == 404
        assert '"kind":"Status"' in info.value.__cause__.body.replace(" ", "")
    with cluster(HERE / "daemonset-memory-hog.yaml") as c:
        agent = c.reader.get_daemonset("observability", "trace-agent")
        assert (agent.kind, agent.name) == ("DaemonSet", "trace-agent")
        with pytest.raises(ClusterNotFound, match='daemonsets.apps "kafka" not found'):
            c.reader.get_daemonset("observability", "kafka")
