"""Incidents where the service's own revision is, or is not, to blame (scenario files next to this test,
each opening with its SRE answer), through the official kubernetes client against the sim: a rollback
exactly where the revision is at fault, to the last revision that was good, with the cause on top."""

from pathlib import Path

from bot.domain import Confidence
from bot.engine.diagnose import diagnose

HERE = Path(__file__).parent / "scenarios"


def run(cluster, playbook, scenario, service):
    with cluster(HERE / f"{scenario}.yaml") as c:
        return diagnose(service, cluster=c.reader, playbook=playbook, node_proxy_enabled=True)


def test_a_rollout_reading_a_secret_key_that_does_not_exist_is_rolled_back(cluster, playbook):
    d = run(cluster, playbook, "secret-key-missing", "auth-api")
    assert d.rollback.recommended and d.rollback.revision == 13 and d.rollback.implicated_by == ("pods-not-ready",)
    assert "env JWT_SIGNING_KEY_V2 (from secret auth-keys key signing-key-v2)" in d.rollback.reason
    assert d.cause.summary.startswith("revision 14 (env JWT_SIGNING_KEY_V2 (from secret auth-keys key signing-key-v2)")
    assert ("→ the kubelet cannot create the containers (CreateContainerConfigError): couldn't find key "
            "signing-key-v2 in Secret identity/auth-keys") in d.cause.summary
    assert d.cause.confidence is Confidence.HIGH


def test_a_cpu_request_beyond_every_node_is_rolled_back_not_blamed_on_capacity(cluster, playbook):
    d = run(cluster, playbook, "requests-unfit", "embedder")
    assert d.rollback.recommended and d.rollback.revision == 7 and d.rollback.implicated_by == ("pods-not-ready",)
    assert "2 requesting more than any node can hold" in d.rollback.reason
    assert "requests.cpu 2 -> 12" in d.rollback.reason
    assert d.cause.summary.startswith("revision 8 (requests.cpu 2 -> 12) → the scheduler cannot place them: "
                                      "0/4 nodes are available: 4 Insufficient cpu")


def test_a_memory_leak_in_a_three_hour_old_image_is_rolled_back_even_below_the_crash_loop_threshold(cluster, playbook):
    d = run(cluster, playbook, "memory-leak", "bidder")
    assert d.rollback.recommended and d.rollback.revision == 18 and d.rollback.implicated_by == ("crashloop",)
    # All six pods are OOM-killed again and again, the three with 3 restarts too.
    assert "pods of revision 19: 6 OOM-killed at their memory limit, where revision 18's did not" in d.rollback.reason
    assert d.cause.summary.startswith("revision 19 (image bidder:3.8.4 -> bidder:3.9.0) → containers exit (OOMKilled, "
                                      "status 137)")
    assert "load" not in d.cause.summary  # the HPA is not at its maximum


def test_an_image_that_cannot_exec_on_the_nodes_is_rolled_back(cluster, playbook):
    d = run(cluster, playbook, "exec-format", "geo-router")
    assert d.rollback.recommended and d.rollback.revision == 5 and d.rollback.implicated_by == ("crashloop",)
    assert d.cause.summary.startswith("revision 6 (image geo-router:4.0.3 -> geo-router:4.1.0) → containers exit "
                                      "(Error, status 255)")


def test_a_liveness_timeout_cut_is_rolled_back_and_the_kubelets_kills_are_the_mechanism(cluster, playbook):
    d = run(cluster, playbook, "liveness-timeout", "ledger-api")
    assert d.rollback.recommended and d.rollback.revision == 30 and d.rollback.implicated_by == ("crashloop",)
    assert "it changed livenessProbe timeoutSeconds 5 -> 1" in d.rollback.reason
    assert d.cause.summary.startswith("revision 31 (livenessProbe timeoutSeconds 5 -> 1) → the kubelet kills the "
                                      "containers on failed liveness probes (28×): …")
    assert "context deadline exceeded" in d.cause.summary
    assert "liveness probe" in (next(f for f in d.findings if f.rule == "crashloop").remediation or "")


def test_after_two_bad_rollouts_in_a_row_the_last_good_revision_is_recommended(cluster, playbook):
    d = run(cluster, playbook, "two-bad-rollouts", "cart-api")
    assert d.rollback.recommended and d.rollback.revision == 39 and d.rollback.implicated_by == ("crashloop",)
    assert d.rollback.reason.startswith("pods of revision 41: 2 crash-looping, where revision 39's did not "
                                        "(revision 40 after it failed too), and it changed image cart-api:6.2.0 -> "
                                        "cart-api:6.3.1")
    assert [c.revision for c in d.rollback_candidates if c.recommended] == [39]
    assert not next(c for c in d.rollback_candidates if c.revision == 40).healthy
    assert d.cause.summary.startswith("revisions 40 and 41 (image cart-api:6.2.0 -> cart-api:6.3.1) → containers exit "
                                      "(Error, status 2): panic: config: REDIS_TLS_CA is required →")


def test_a_restart_onto_a_node_that_cannot_network_pods_is_not_rolled_back(cluster, playbook):
    d = run(cluster, playbook, "restart-onto-broken-node", "price-sync")
    assert not d.rollback.recommended and d.rollback.revision is None
    assert d.rollback.reason.startswith("revision 12 (a restart: its containers are revision 11's) has been live 20 min;"
                                        " its pods fail only for reasons outside it (2 without a pod sandbox")
    assert ("the kubelet cannot start them on node w-3 (FailedCreatePodSandBox): …" in d.cause.summary
            and d.cause.summary.endswith("failed to assign an IP address to container → 2 of 5 pods not ready "
                                         "(mostly ContainerCreating)"))
    assert any(r.startswith("a rollback: revision 12 (a restart") for r in d.cause.ruled_out)
