"""Incident kinds the earlier scenarios left out (files next to this test, each opening with its SRE
answer), through the official kubernetes client against the sim: a rollout that is stuck or paused, an
image built for another CPU architecture, a registry failing the re-pulls of running pods, replacement pods
that are no pull storm, and a slow leak counted once."""

from pathlib import Path

from bot.engine.diagnose import diagnose
from bot.images.mirrors import parse_mirrors
from bot.images.registry_reader import RegistryImageReader

HERE = Path(__file__).parent / "scenarios"


def run(cluster, playbook, scenario, service, *, registry=False):
    """`registry`: read images as production does, RegistryImageReader through the sim's registry as mirror."""
    with cluster(HERE / f"{scenario}.yaml") as c:
        images = RegistryImageReader(mirrors=parse_mirrors(c.sim.mirror_setting().partition("=")[2])) \
            if registry else None
        return diagnose(service, cluster=c.reader, playbook=playbook, node_proxy_enabled=True, images=images)


def only(d, rule):
    (found,) = [f for f in d.findings if f.rule == rule]
    return found


def rules(d):
    return {f.rule for f in d.findings}


def test_a_slow_leak_is_counted_the_same_by_the_finding_and_the_rollback_reason(cluster, playbook):
    d = run(cluster, playbook, "cache-ttl-leak", "ranker")
    crash = only(d, "crashloop")
    assert len(crash.evidence["pods"]) == 8 and "8 pods of recs/ranker are restarting again and again" in crash.title
    assert crash.severity.name == "HIGH"  # they serve between kills
    assert d.rollback.recommended and d.rollback.revision == 26 and d.rollback.implicated_by == ("crashloop",)
    assert d.rollback.reason.startswith("pods of revision 27: 8 OOM-killed at their memory limit, where revision "
                                        "26's did not, and it changed env CACHE_TTL")
    assert d.cause.summary.startswith("revision 27 (env CACHE_TTL) → containers exit (OOMKilled, status 137)")


def test_running_pods_that_cannot_pull_their_image_again_are_in_the_registrys_blast_radius(cluster, playbook):
    d = run(cluster, playbook, "registry-502-repulls", "notifier")
    assert not d.rollback.recommended
    assert d.rollback.reason.startswith("revision 9 had been live 6 d when its pulls began to fail; its pods fail only "
                                        "on the registry's side")
    radius = only(d, "blast-radius")
    # Their pods are Running: a Pending-only view saw none of them.
    assert radius.evidence["workloads_hit"] == {"billing/invoicer": 2, "search/indexer": 1}
    assert radius.evidence["how"] == {"registry-error": 3} and "unseen" not in radius.evidence
    assert d.cause.summary.startswith("registry.internal:5000 fails pulls (502) → the image cannot be pulled "
                                      "(502 Bad Gateway) → 2 of 6 pods not ready")
    assert d.cause.summary.endswith("3 pods of 2 other workloads fail the same pulls")
    assert d.cause.confidence.name == "HIGH"


def test_replacement_pods_of_a_drain_are_no_pull_storm(cluster, playbook):
    d = run(cluster, playbook, "drain-replacements", "pricing")
    assert not d.rollback.recommended and d.rollback.reason.startswith("revision 17 has been live 12 d")
    # 4 pulls of a 750 MB image, pulled in 14 s before, none failing: no pressure on the registry.
    assert "pull-pressure" not in rules(d)
    assert d.cause.summary.startswith("node d-2 cordoned → the scheduler cannot place them: 0/4 nodes are available: "
                                      "1 node(s) were unschedulable, 3 Insufficient memory. → 4 of 8 pods not ready")
    assert "pulls" not in d.cause.summary
    assert "smaller image" not in " ".join(f.remediation or "" for f in d.findings)


def test_an_image_built_for_arm64_on_amd64_nodes_is_named_from_its_config(cluster, playbook):
    d = run(cluster, playbook, "arm64-image", "transcoder", registry=True)
    assert d.rollback.recommended and d.rollback.revision == 11 and d.rollback.implicated_by == ("crashloop",)
    crash = only(d, "crashloop")
    assert (crash.evidence["image_platform"], crash.evidence["node_platforms"]) == ("linux/arm64", ["linux/amd64"])
    assert crash.evidence["platform_image"] == "registry.internal:5000/transcoder:3.2.0"
    assert "rebuild it for linux/amd64" in crash.remediation
    assert d.cause.summary.startswith("revision 12 (image transcoder:3.1.4 -> transcoder:3.2.0) → containers exit "
                                      "(Error, status 1): the image is linux/arm64, the nodes are linux/amd64 →")


def test_the_same_image_unread_says_nothing_it_cannot_know(cluster, playbook):
    d = run(cluster, playbook, "arm64-image", "transcoder")
    crash = only(d, "crashloop")
    assert "image_platform" not in crash.evidence and "exec_format_error" not in crash.evidence
    assert "(Error, status 1) →" in d.cause.summary


def test_exec_format_error_in_the_exit_message_is_explained_when_the_image_cannot_be_read(cluster, playbook):
    d = run(cluster, playbook, "exec-format-unreadable", "report-worker", registry=True)
    assert d.rollback.recommended and d.rollback.revision == 3
    crash = only(d, "crashloop")
    assert crash.evidence["exec_format_error"] is True and "image_platform" not in crash.evidence
    assert "registry.internal:5000" in crash.evidence["image_unread"]  # why it was not read: said, not guessed
    assert "exec format error" in crash.remediation and "#! line" in crash.remediation
    assert ("containers exit (Error, status 255): exec format error: the binary is built for another CPU "
            "architecture than the nodes (linux/amd64), or is a script without a #! line →") in d.cause.summary


def test_a_rollout_past_its_deadline_on_full_nodes_is_stuck_not_rolled_back(cluster, playbook):
    d = run(cluster, playbook, "rollout-deadline-full-nodes", "search-api")
    assert not d.rollback.recommended
    assert d.rollback.reason == ("revision 15 has been live 30 min; its pods fail only for reasons outside it "
                                 "(2 unschedulable), not by themselves")
    halted = only(d, "rollout-stuck")
    assert halted.title == ("The rollout of revision 15 of catalog/search-api is stuck since 2025-08-12 11:10 "
                            "(ProgressDeadlineExceeded): 2 of 2 new pods not ready (2 unschedulable); revision 14 "
                            "still serves 8 ready of 8 pods")
    assert (halted.evidence["old_ready"], halted.severity.name) == (8, "MEDIUM")
    assert d.cause.summary == ("the rollout of revision 15, stuck since 2025-08-12 11:10 (ProgressDeadlineExceeded) → "
                               "the scheduler cannot place them: 0/4 nodes are available: 4 Insufficient memory. → "
                               "2 of 10 pods not ready (mostly Pending), revision 14 still serves 8 ready pods")
    assert d.cause.confidence.name == "MEDIUM"


def test_a_paused_rollout_whose_new_pods_crash_is_rolled_back_after_a_resume(cluster, playbook):
    d = run(cluster, playbook, "rollout-paused-half", "cart-api")
    assert d.rollback.recommended and d.rollback.revision == 7 and d.rollback.implicated_by == ("crashloop",)
    halted = only(d, "rollout-stuck")
    assert halted.title.startswith("The rollout of revision 8 of shop/cart-api is paused since 2025-08-14 13:06 "
                                   "with 3 of 6 pods updated, 0 ready (3 crash-loop); revision 7 still serves 3 ready")
    candidate = only(d, "rollback-candidate")
    assert candidate.remediation.startswith("`kubectl rollout resume deployment/cart-api -n shop`, then `kubectl "
                                            "rollout undo deployment/cart-api -n shop --to-revision=7`")
    assert d.cause.summary.startswith("revision 8 (env CART_STORE; image cart-api:2.6.0 -> cart-api:2.7.0) → "
                                      "containers exit (Error, status 1): fatal: store: dial tcp")
    assert d.cause.summary.endswith("the rollout of revision 8, paused since 2025-08-14 13:06 with 3 of 6 pods "
                                    "updated, revision 7 still serves 3 ready pods")
