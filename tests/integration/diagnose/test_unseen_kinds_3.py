"""Node-level and shared-infrastructure incident kinds no shipped scenario covers (files next to this test,
each opening with its SRE answer), through the official kubernetes client against the sim: no rollback where
the nodes or the registry are to blame, the cause the evidence supports, the culprit or the others named."""

from pathlib import Path

from bot.domain import Confidence
from bot.engine.diagnose import diagnose

HERE = Path(__file__).parent / "scenarios"


def run(cluster, playbook, scenario, service, *, summary=True):
    with cluster(HERE / f"{scenario}.yaml") as c:
        return diagnose(service, cluster=c.reader, playbook=playbook, node_proxy_enabled=summary)


def only(d, rule):
    (found,) = [f for f in d.findings if f.rule == rule]
    return found


def rules(d):
    return {f.rule for f in d.findings}


def advice(d):
    return " ".join(f.remediation or "" for f in d.findings)


def test_a_jobs_writable_layer_filling_a_shared_nodefs_is_named_not_the_images(cluster, playbook):
    d = run(cluster, playbook, "job-writable-layer", "storefront-api")
    assert not d.rollback.recommended and d.rollback.reason.startswith("revision 18 has been live 10 d")
    disks = [f for f in d.findings if f.rule == "node-disk-high"]
    assert len(disks) == 2 and {f.evidence["attribution"] for f in disks} == {"writable layers"}
    assert only(d, "noisy-neighbour").evidence["workload"] == "batch/ledger-export"
    assert d.cause.summary.startswith("writable layers of batch/ledger-export (Job)")
    assert only(d, "blast-radius").evidence["workloads_hit"] == {"web/cart-svc": 1}
    assert "crictl" not in advice(d) and "images on" not in d.cause.summary


def test_a_jobs_writable_layer_without_the_summary_api_guesses_no_culprit(cluster, playbook):
    d = run(cluster, playbook, "job-writable-layer", "storefront-api", summary=False)
    assert not d.rollback.recommended
    assert "noisy-neighbour" not in rules(d)
    assert all(f.evidence["attribution"] is None for f in d.findings if f.rule == "node-disk-high")
    assert d.cause.summary.startswith("unknown consumer (cannot see which filesystem")
    assert d.cause.confidence is Confidence.LOW and "crictl" not in advice(d)


def test_a_pool_whose_runtime_died_after_an_innocent_rollout_does_not_blame_the_rollout(cluster, playbook):
    d = run(cluster, playbook, "nodepool-runtime-down", "search-api")
    assert not d.rollback.recommended
    assert d.rollback.reason.startswith("revision 15 has been live 33 min; its pods fail only for reasons outside it "
                                        "(2 on NotReady nodes, as revision 14's pods do there)")
    assert d.cause.summary.startswith("container runtime is down on nodes b-1, b-2, b-3 → 3 nodes NotReady → ")
    assert d.cause.chain[0].rules == ("node-not-ready",) and "revision" not in d.cause.chain[0].text
    assert only(d, "blast-radius").evidence["workloads_hit"] == {"catalog/indexer": 2, "web/frontend": 1}
    assert "noisy-neighbour" not in rules(d) and "unknown consumer" not in d.cause.summary


def test_a_registry_down_for_every_workload_blames_the_registry_and_names_the_others(cluster, playbook):
    d = run(cluster, playbook, "registry-down-everyone", "ledger-api")
    assert not d.rollback.recommended
    assert d.rollback.reason.startswith("revision 22 had been live 11 d when its pulls began to fail; its pods fail "
                                        "only on the registry's side")
    radius = only(d, "blast-radius")
    assert radius.evidence["workloads_hit"] == {"payments/fx-rates": 1, "ops/metrics-agent": 2}
    assert d.cause.summary.startswith("registry.internal:5000 is unreachable (connection refused, 503) → "
                                      "the image cannot be pulled (connection refused)")
    assert d.cause.confidence is Confidence.HIGH
    assert "roll back" not in advice(d).lower() and "smaller image" not in advice(d)


def test_a_daemonset_without_a_memory_limit_is_the_culprit_of_memory_pressure(cluster, playbook):
    d = run(cluster, playbook, "daemonset-memory-hog", "cart")
    assert not d.rollback.recommended and d.rollback.reason.startswith("revision 9 has been live 22 d")
    noisy = only(d, "noisy-neighbour")
    assert (noisy.evidence["workload"], noisy.evidence["kind"], noisy.evidence["source"]) == (
        "observability/trace-agent", "DaemonSet", "kubelet summary API")
    assert "restart its pods" in noisy.remediation and "move it" not in noisy.remediation
    assert d.cause.summary.startswith("observability/trace-agent (DaemonSet), no memory limit, 66 GB memory on 3 nodes"
                                      " → MemoryPressure on 3 nodes")
    assert d.cause.confidence is Confidence.HIGH
    assert only(d, "blast-radius").evidence["workloads_hit"] == {"shop/search": 1}


def test_a_daemonset_without_a_memory_limit_is_suspected_from_the_specs_without_the_summary_api(cluster, playbook):
    d = run(cluster, playbook, "daemonset-memory-hog", "cart", summary=False)
    assert not d.rollback.recommended
    noisy = only(d, "noisy-neighbour")
    assert (noisy.evidence["workload"], noisy.evidence["source"], noisy.evidence["used_bytes"]) == (
        "observability/trace-agent", "pod specs", None)
    assert d.cause.summary.startswith("observability/trace-agent (DaemonSet), no memory limit → MemoryPressure")
    assert d.cause.confidence is Confidence.MEDIUM


def test_a_drain_without_spare_capacity_names_the_cordoned_nodes_not_the_revision(cluster, playbook):
    d = run(cluster, playbook, "drain-no-capacity", "order-api")
    assert not d.rollback.recommended
    assert d.rollback.reason == ("revision 12 has been live 9 d; its pods fail only for reasons outside it "
                                 "(3 unschedulable), not by themselves")
    assert d.cause.summary == ("nodes p-4, p-5 cordoned → the scheduler cannot place them: 0/5 nodes are available: "
                               "2 node(s) were unschedulable, 3 Insufficient cpu. → 3 of 6 pods not ready (mostly Pending)")
    assert d.cause.confidence is Confidence.MEDIUM
    assert only(d, "pods-not-ready").severity.name == "MEDIUM"
    assert not rules(d) & {"noisy-neighbour", "blast-radius", "node-pressure", "registry-errors"}
