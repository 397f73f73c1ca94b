"""Each shipped scenario's SRE answer, through the official kubernetes client against the sim: the right
probable cause first, a rollback recommended exactly where it helps, the culprit workload named."""

from bot.domain import Confidence
from bot.engine.diagnose import diagnose


def only(d, rule):
    (found,) = [f for f in d.findings if f.rule == rule]
    return found


def rules(d):
    return {f.rule for f in d.findings}


def consistent(d):
    """Every sink reads the same answer: the decision, the candidates' flag, the findings, the JSON."""
    flagged = [c.revision for c in d.rollback_candidates if c.recommended]
    assert flagged == ([d.rollback.revision] if d.rollback.recommended else [])
    assert ("rollback-candidate" in rules(d)) is d.rollback.recommended
    assert d.to_json()["rollback"] == d.rollback.to_json()
    assert d.to_json()["cause"]["summary"] == d.cause.summary


def test_registry_meltdown_blames_revision_5s_image_and_rolls_back_to_4(cluster, playbook):
    with cluster("registry-meltdown") as c:
        d = diagnose("user-profile-service", cluster=c.reader, images=c.images, playbook=playbook,
                     node_proxy_enabled=True)
    consistent(d)
    assert d.rollback.recommended and d.rollback.revision == 4
    assert d.rollback.implicated_by[-1] == "image-size-regression"
    assert d.cause.summary == (
        "revision 5 (image 4.2 GB, 19.5× revision 4) → 3 nodes' imagefs full → DiskPressure/NotReady → "
        "25 of 30 pods not ready (mostly Pending), 3 pods evicted, HPA pulls 63 GB → registry 503")
    assert [link.role for link in d.cause.chain][:3] == ["trigger", "mechanism", "mechanism"]
    assert d.cause.confidence is Confidence.HIGH
    # The autopsy's size-regression rides on the rollout's finding: one fact, one finding.
    assert "size-regression" not in rules(d)
    assert only(d, "image-size-regression").evidence["also"][0]["rule"] == "size-regression"
    disks = [f for f in d.findings if f.rule == "node-disk-high"]
    assert all(f.evidence["attribution"] == "images" and "crictl rmi --prune" in f.remediation for f in disks)


def test_crashloop_after_a_config_change_rolls_back_to_6_naming_the_configmap(cluster, playbook):
    with cluster("crashloop-bad-config") as c:
        d = diagnose("checkout-api", cluster=c.reader, playbook=playbook, node_proxy_enabled=True)
    consistent(d)
    assert d.rollback.recommended and d.rollback.revision == 6 and d.rollback.implicated_by == ("crashloop",)
    assert "envFrom configMap checkout-api-config-v6 -> checkout-api-config-v7" in d.rollback.reason
    assert d.cause.summary.startswith("revision 7 (envFrom configMap checkout-api-config-v6 -> checkout-api-config-v7")
    assert "→ containers exit (Error, status 1) →" in d.cause.summary
    assert d.cause.confidence is Confidence.HIGH
    assert not {"noisy-neighbour", "blast-radius"} & rules(d)


def test_memory_pressure_storm_tells_report_worker_to_set_a_limit_not_to_roll_back(cluster, playbook):
    with cluster("memory-pressure-storm") as c:
        d = diagnose("report-worker", cluster=c.reader, playbook=playbook, node_proxy_enabled=True)
    consistent(d)
    assert not d.rollback.recommended
    assert "the service itself has no memory limit" in d.rollback.reason
    noisy = only(d, "noisy-neighbour")
    assert noisy.evidence["workload"] == "analytics/report-worker" and noisy.evidence["is_service"]
    assert "resources.limits.memory on analytics/report-worker" in noisy.remediation
    assert d.cause.chain[0].text == "analytics/report-worker (Deployment), no memory limit"
    assert "MemoryPressure on 3 nodes" in d.cause.summary
    blast = only(d, "blast-radius")
    assert blast.evidence["workloads_hit"] == {"edge/api-gateway": 2}


def test_noisy_neighbour_names_the_cronjob_and_does_not_roll_back_cart_service(cluster, playbook):
    with cluster("noisy-neighbour") as c:
        d = diagnose("cart-service", cluster=c.reader, playbook=playbook, node_proxy_enabled=True)
    consistent(d)
    assert not d.rollback.recommended and d.rollback.revision is None
    # Ages on the API server's clock (the scenario's now): revision 18 rolled out 3 days 23 hours before.
    assert d.rollback.reason == ("revision 18 has been live 3 d; its pods fail only for reasons outside it "
                                 "(3 evicted, 3 unschedulable), and the same nodes' trouble also hit 2 pods of "
                                 "1 other workload")
    noisy = only(d, "noisy-neighbour")
    assert (noisy.evidence["workload"], noisy.evidence["kind"]) == ("analytics/nightly-reindex", "CronJob")
    assert noisy.evidence["source"] == "kubelet summary API" and noisy.evidence["priority_class"] == "batch-high"
    assert "analytics/nightly-reindex" in noisy.remediation and "cart-service" not in noisy.remediation
    assert d.cause.chain[0].text == "analytics/nightly-reindex (CronJob), no memory limit, 58.8 GB memory on 2 nodes"
    assert d.cause.confidence is Confidence.HIGH
    assert any(line.startswith("a rollback: revision 18") for line in d.cause.ruled_out)


def test_noisy_neighbour_without_the_summary_api_suspects_the_cronjob_from_its_spec(cluster, playbook):
    with cluster("noisy-neighbour") as c:
        d = diagnose("cart-service", cluster=c.reader, playbook=playbook, node_proxy_enabled=False)
        assert not any("/proxy/" in p for p in c.sim.paths())
    consistent(d)
    assert not d.rollback.recommended
    noisy = only(d, "noisy-neighbour")
    assert noisy.evidence["workload"] == "analytics/nightly-reindex" and noisy.evidence["source"] == "pod specs"
    assert "summary API" in only(d, "blast-radius").evidence["unseen"]
    assert d.cause.confidence is Confidence.MEDIUM


def test_a_healthy_service_gets_no_rollback_and_no_fault(cluster, playbook):
    with cluster("healthy-service") as c:
        d = diagnose("order-api", cluster=c.reader, images=c.images, playbook=playbook, node_proxy_enabled=True)
    consistent(d)
    assert not d.rollback.recommended and d.recommended is None
    assert d.rollback.reason == "revision 12 has been live 7 d and is healthy (4/4 pods ready): nothing points at it"
    assert d.cause.summary == "no fault found in orders/order-api: its pods are ready and its nodes are healthy"
    assert d.cause.confidence is Confidence.HIGH and d.cause.chain == ()
    assert not {"noisy-neighbour", "blast-radius", "node-disk-high", "node-pressure"} & rules(d)


def test_nodefs_filled_by_a_daemonsets_spool_names_it_and_no_image_advice(cluster, playbook):
    with cluster("nodefs-logs-fill") as c:
        d = diagnose("catalog-api", cluster=c.reader, images=c.images, playbook=playbook, node_proxy_enabled=True)
    consistent(d)
    assert not d.rollback.recommended
    assert d.rollback.reason == ("revision 31 has been live 6 d; its pods fail only for reasons outside it (3 evicted, "
                                 "3 unschedulable), and the same nodes' trouble also hit 1 pod of 1 other workload")
    disks = [f for f in d.findings if f.rule == "node-disk-high"]
    assert len(disks) == 3 and all(f.evidence["filesystem"] == "nodefs" and f.evidence["separate_imagefs"]
                                   for f in disks)
    assert all(f.evidence["attribution"] == "emptyDir" for f in disks)
    assert all(f.evidence["top_consumers"][0]["workload"] == "telemetry/event-collector" for f in disks)
    advice = " ".join(f.remediation or "" for f in d.findings)
    assert "crictl" not in advice and "garbage-collecting" not in advice
    noisy = only(d, "noisy-neighbour")
    assert (noisy.evidence["workload"], noisy.evidence["kind"]) == ("telemetry/event-collector", "DaemonSet")
    assert only(d, "blast-radius").evidence["workloads_hit"] == {"catalog/search-indexer": 1}
    assert d.cause.chain[0].text.startswith("emptyDir volumes of telemetry/event-collector (DaemonSet), 80")
    assert "→ nodefs 95.2% used on 3 nodes → DiskPressure on 3 nodes →" in d.cause.summary
    assert d.cause.confidence is Confidence.HIGH


def test_a_config_change_that_crash_loops_rolls_back_to_14(cluster, playbook):
    with cluster("config-change-crashloop") as c:
        d = diagnose("notification-worker", cluster=c.reader, images=c.images, playbook=playbook,
                     node_proxy_enabled=True)
    consistent(d)
    assert d.rollback.recommended and d.rollback.revision == 14 and d.rollback.implicated_by == ("crashloop",)
    assert "args --queue notifications.v2 --config /etc/worker/config.yaml" in d.rollback.reason
    rb = only(d, "rollback-candidate")
    assert rb.evidence["undo_command"] == ("kubectl rollout undo deployment/notification-worker -n notifications "
                                           "--to-revision=14")
    assert d.cause.summary.startswith("revision 15 (args --queue notifications.v2 --config /etc/worker/config.yaml; "
                                      "env QUEUE_SCHEMA) → containers exit (Error, status 2): …")
    assert "No such file or directory: '/etc/worker/config.yaml'" in d.cause.summary
    assert d.cause.confidence is Confidence.HIGH
