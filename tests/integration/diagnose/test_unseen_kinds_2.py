"""More incident kinds no shipped scenario covers (files next to this test, each opening with its SRE
answer), through the official kubernetes client against the sim: rollback exactly where the revision is to
blame, the cause the evidence supports, the culprit or the other workloads named."""

from pathlib import Path


from bot.domain import Confidence, Severity
from bot.engine.diagnose import diagnose

HERE = Path(__file__).parent / "scenarios"


def run(cluster, playbook, scenario, service):
    with cluster(HERE / f"{scenario}.yaml") as c:
        return diagnose(service, cluster=c.reader, playbook=playbook, node_proxy_enabled=True)


def only(d, rule):
    (found,) = [f for f in d.findings if f.rule == rule]
    return found


def test_a_readiness_probe_moved_to_a_path_the_app_does_not_serve_is_rolled_back(cluster, playbook):
    d = run(cluster, playbook, "probe-path-change", "storefront")
    assert d.rollback.recommended and d.rollback.revision == 21 and d.rollback.implicated_by == ("pods-not-ready",)
    assert "readinessProbe httpGet /healthz:8080 -> httpGet /health/ready:8080" in d.rollback.reason
    assert d.cause.summary.startswith("revision 22 (readinessProbe httpGet /healthz:8080 -> httpGet /health/ready:8080)")


def test_a_memory_limit_cut_mid_rollout_is_rolled_back_to_the_old_replicaset(cluster, playbook):
    d = run(cluster, playbook, "limit-cut-midrollout", "thumbnailer")
    assert d.rollback.recommended and d.rollback.revision == 12 and d.rollback.implicated_by == ("crashloop",)
    assert "limits.memory 2Gi -> 256Mi" in d.rollback.reason
    assert "→ containers exit (OOMKilled, status 137)" in d.cause.summary


def test_oom_kills_after_traffic_growth_are_load_not_a_ten_day_old_revision(cluster, playbook):
    d = run(cluster, playbook, "oom-traffic-growth", "query-api")
    assert not d.rollback.recommended and d.rollback.reason.startswith("revision 40 had been live 10 d")
    assert d.cause.summary.startswith("load beyond the memory limit (HPA at its maximum, 6 of max 6 replicas) → "
                                      "containers exit (OOMKilled, status 137)")
    assert d.cause.confidence is Confidence.MEDIUM


def test_a_crash_loop_that_began_days_after_the_rollout_quotes_the_exit_and_blames_no_revision(cluster, playbook):
    d = run(cluster, playbook, "dependency-crashloop", "fulfillment")
    assert not d.rollback.recommended and d.rollback.reason.startswith("revision 7 had been live 5 d")
    assert d.cause.chain[0].text == d.rollback.reason
    assert d.cause.chain[1].text.startswith("containers exit (Error, status 1): …") and "orders-db" in d.cause.chain[1].text
    assert d.cause.confidence is Confidence.LOW and d.cause.candidates  # what changed outside is not seen


def test_a_lost_node_is_named_with_the_other_workloads_it_took(cluster, playbook):
    d = run(cluster, playbook, "node-lost", "gateway")
    assert not d.rollback.recommended
    assert d.rollback.reason == ("revision 31 has been live 7 d; its pods fail only for reasons outside it (2 on "
                                 "NotReady nodes), and the same nodes' trouble also hit 2 pods of 2 other workloads")
    assert only(d, "blast-radius").evidence["workloads_hit"] == {"payments/fraud-scorer": 1, "risk/rules-engine": 1}
    assert d.cause.summary.startswith("node k-3 stopped reporting (kubelet or node down) → ")
    assert "unknown consumer" not in d.cause.summary and "noisy-neighbour" not in {f.rule for f in d.findings}


def test_a_saturated_service_at_its_hpa_maximum_is_load_not_no_fault(cluster, playbook):
    d = run(cluster, playbook, "hpa-max-cpu", "pricing-engine")
    assert not d.rollback.recommended and d.rollback.reason.endswith("nothing points at it")
    assert d.cause.summary.startswith("load beyond what the HPA may add (HPA at its maximum, 12 of max 12 replicas)")
    assert d.cause.confidence is Confidence.MEDIUM


def test_a_statefulsets_emptydir_on_a_shared_nodefs_is_named_and_no_image_advice(cluster, playbook):
    d = run(cluster, playbook, "statefulset-emptydir", "session-svc")
    assert not d.rollback.recommended
    disks = [f for f in d.findings if f.rule == "node-disk-high"]
    assert len(disks) == 2 and all(f.evidence["attribution"] == "emptyDir" and not f.evidence["separate_imagefs"]
                                   for f in disks)
    assert (only(d, "noisy-neighbour").evidence["workload"], only(d, "noisy-neighbour").evidence["kind"]) == (
        "data/kafka-mirror", "StatefulSet")
    assert d.cause.summary.startswith("emptyDir volumes of data/kafka-mirror (StatefulSet)")
    assert "crictl" not in " ".join(f.remediation or "" for f in d.findings)


def test_pid_pressure_evictions_do_not_roll_back_and_count_the_other_workloads(cluster, playbook):
    d = run(cluster, playbook, "pid-fork-bomb", "stock-api")
    assert not d.rollback.recommended and "also hit 1 pod of 1 other workload" in d.rollback.reason
    assert "PIDPressure on 2 nodes" in d.cause.summary


def test_pid_pressure_names_the_process_leaking_daemonset(cluster, playbook):
    d = run(cluster, playbook, "pid-fork-bomb", "stock-api")
    noisy = only(d, "noisy-neighbour")
    assert (noisy.evidence["workload"], noisy.evidence["resource"], noisy.evidence["processes"]) == (
        "logging/log-forwarder", "pids", 58_800)
    assert d.cause.summary.startswith("logging/log-forwarder (DaemonSet), 58,800 processes on 2 nodes → "
                                      "PIDPressure on 2 nodes")


def test_pid_pressure_without_the_summary_api_names_no_one_and_says_what_it_cannot_see(cluster, playbook):
    with cluster(HERE / "pid-fork-bomb.yaml") as c:
        d = diagnose("stock-api", cluster=c.reader, playbook=playbook, node_proxy_enabled=False)
    assert "noisy-neighbour" not in {f.rule for f in d.findings}
    assert only(d, "blast-radius").evidence["unseen"].startswith(
        "how many processes each pod runs, which no pod spec limits (the kubelet summary API is off")
    assert d.cause.summary.startswith("unknown consumer (cannot see how many processes")


def test_a_registry_auth_failure_on_a_three_day_old_revision_is_not_rolled_back(cluster, playbook):
    d = run(cluster, playbook, "registry-auth-outage", "invoice-api")
    assert not d.rollback.recommended and d.rollback.reason.startswith("revision 11 had been live 2 d")
    assert "the image cannot be pulled (401 Unauthorized)" in d.cause.summary


def test_a_registry_auth_failure_names_the_registry_and_the_other_workloads(cluster, playbook):
    d = run(cluster, playbook, "registry-auth-outage", "invoice-api")
    radius = only(d, "blast-radius")
    assert radius.evidence["workloads_hit"] == {"billing/tax-calc": 1, "web/frontend": 1}
    assert (radius.evidence["scope"], radius.evidence["registries"]) == ("registry", ["registry.internal:5000"])
    assert d.cause.summary.startswith("registry.internal:5000 refuses the pull credentials (401 Unauthorized) → ")
    assert d.cause.confidence is Confidence.HIGH
    assert "and the pulls of 2 pods of 2 other workloads too" in d.rollback.reason


def test_one_pod_pending_on_a_tainted_pool_is_no_rollback(cluster, playbook):
    d = run(cluster, playbook, "tainted-pending", "profile-api")
    assert not d.rollback.recommended and "1 unschedulable" in d.rollback.reason


def test_one_pod_pending_on_a_tainted_pool_is_low_severity(cluster, playbook):
    d = run(cluster, playbook, "tainted-pending", "profile-api")
    assert only(d, "pods-not-ready").severity <= Severity.LOW and "untolerated taint" in d.cause.summary
