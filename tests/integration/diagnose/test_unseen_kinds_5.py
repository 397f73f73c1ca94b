"""Incident kinds the earlier scenarios left out (files next to this test, each opening with its SRE
answer), through the official kubernetes client against the sim: an image index without the nodes'
platform, a cordoned node during a stuck rollout, a bad rollout beside an unrelated neighbour's pressure,
nodes out of pod slots, and a StatefulSet pod whose volume stayed in another zone."""

from pathlib import Path

from bot.engine.diagnose import diagnose
from bot.images.mirrors import parse_mirrors
from bot.images.registry_reader import RegistryImageReader

HERE = Path(__file__).parent / "scenarios"


def run(cluster, playbook, scenario, service, *, registry=False):
    with cluster(HERE / f"{scenario}.yaml") as c:
        images = RegistryImageReader(mirrors=parse_mirrors(c.sim.mirror_setting().partition("=")[2])) \
            if registry else None
        return diagnose(service, cluster=c.reader, playbook=playbook, node_proxy_enabled=True, images=images)


def only(d, rule):
    (found,) = [f for f in d.findings if f.rule == rule]
    return found


def rules(d):
    return {f.rule for f in d.findings}


def test_an_index_without_the_nodes_platform_is_the_revisions_image_and_rolled_back(cluster, playbook):
    d = run(cluster, playbook, "index-without-amd64", "thumbnailer")
    assert d.rollback.recommended and d.rollback.revision == 7 and d.rollback.implicated_by == ("image-pull-failing",)
    # The deciding evidence is in the reason, not only in the finding.
    assert d.rollback.reason.startswith("pods of revision 8: 2 failing to pull their image (its image has no "
                                        "linux/amd64 variant), where revision 7's did not")
    pull = only(d, "image-pull-failing")
    # containerd does not name the platform: the nodes the pulls failed on do.
    assert pull.evidence["missing_platform"] == "linux/amd64"
    assert pull.title.endswith("the image has no linux/amd64 variant")
    assert "publish it for linux/amd64" in pull.remediation
    assert d.cause.summary.startswith("revision 8 (image thumbnailer:3.9.2 -> thumbnailer:4.0.0) → the image cannot "
                                      "be pulled: it has no linux/amd64 variant → 2 of 6 pods not ready")
    assert d.cause.confidence.name == "HIGH"
    assert "blast-radius" not in rules(d) and "registry-errors" not in rules(d)


def test_a_crash_loop_on_an_image_of_another_architecture_says_so_in_the_rollback_reason(cluster, playbook):
    d = run(cluster, playbook, "arm64-image", "transcoder", registry=True)
    assert "2 crash-looping (its image is linux/arm64, the nodes are linux/amd64)" in d.rollback.reason
    # Unread, the image's platform is not known: the reason does not guess it.
    assert "linux/arm64" not in run(cluster, playbook, "arm64-image", "transcoder").rollback.reason


def test_a_cordon_during_a_rollout_is_the_one_trigger_and_the_stuck_rollout_its_symptom(cluster, playbook):
    d = run(cluster, playbook, "cordon-during-rollout", "checkout")
    assert not d.rollback.recommended
    assert only(d, "node-cordoned").evidence["since"] == "2025-10-07T10:02:00+00:00"
    assert [link.role for link in d.cause.chain].count("trigger") == 1
    assert d.cause.summary == ("node c-4 cordoned → the scheduler cannot place them: 0/4 nodes are available: 1 node(s) "
                               "were unschedulable, 3 Insufficient cpu. → 2 of 10 pods not ready (mostly Pending), the "
                               "rollout of revision 22, stuck since 2025-10-07 10:10 (ProgressDeadlineExceeded), "
                               "revision 21 still serves 8 ready pods")
    assert d.cause.confidence.name == "MEDIUM"


def test_a_cordon_older_than_the_rollout_contributes_and_the_rollout_is_the_trigger(cluster, playbook):
    d = run(cluster, playbook, "cordoned-before-rollout", "checkout")
    assert not d.rollback.recommended
    (trigger,) = [link for link in d.cause.chain if link.role == "trigger"]
    assert trigger.rules == ("rollout-stuck",)
    assert trigger.text == "the rollout of revision 22, stuck since 2025-10-07 10:10 (ProgressDeadlineExceeded)"
    (factor,) = [link for link in d.cause.chain if link.role == "amplifier"]
    assert factor.rules == ("node-cordoned",) and factor.text.startswith("node c-4 cordoned before the rollout began")


def test_a_bad_rollout_beside_an_unrelated_neighbour_leads_with_the_revision_and_names_the_neighbour(cluster, playbook):
    d = run(cluster, playbook, "crashloop-beside-neighbour", "orders")
    assert d.rollback.recommended and d.rollback.revision == 13 and d.rollback.implicated_by == ("crashloop",)
    noisy = only(d, "noisy-neighbour")
    assert (noisy.evidence["workload"], noisy.evidence["kind"], noisy.evidence["nodes"]) == (
        "batch/etl-backfill", "Job", ["o-3"])
    assert noisy.evidence["summary"] == "batch/etl-backfill (Job), no memory limit, 27 GB memory on o-3"
    chain = d.cause.chain
    assert chain[0].role == "trigger" and chain[0].text.startswith("revision 14 (env DATABASE_URL, ORDERS_DB_URL")
    assert chain[1].text == "containers exit (Error, status 1): panic: config: ORDERS_DB_URL is not set"
    # The eviction is not the revision's doing: it is told with its own cause, as a contributing factor.
    (aside,) = [link for link in chain if link.role == "amplifier"]
    assert aside.rules == ("noisy-neighbour", "node-pressure", "evictions")
    assert aside.text == ("separately, batch/etl-backfill (Job), no memory limit, 27 GB memory on o-3: MemoryPressure "
                          "on node o-3, 1 pod evicted")
    assert not any("evicted" in link.text for link in chain if link.role != "amplifier")
    # Each symptom has its own well-evidenced explanation: the chain stays high.
    assert d.cause.confidence.name == "HIGH"


def test_nodes_out_of_pod_slots_name_who_holds_them_counted_from_the_pod_list(cluster, playbook):
    d = run(cluster, playbook, "pod-slots-cronjob", "storefront")
    assert not d.rollback.recommended and d.rollback.reason.startswith("revision 31 has been live 10 d")
    slots = only(d, "noisy-neighbour")
    ev = slots.evidence
    # The hung runs count, the finished run (6 Succeeded pods) holds no slot.
    assert (ev["workload"], ev["kind"], ev["resource"], ev["pods_held"], ev["slots"]) == (
        "reports/export", "CronJob", "pods", 78, 120)
    assert ev["per_node"] == {f"w-{i}": 13 for i in range(1, 7)}
    assert ev["top_holders"][1] == {"workload": "web/cart", "kind": "Deployment", "pods": 18}
    assert "concurrencyPolicy: Forbid" in slots.remediation
    assert d.cause.summary == ("reports/export (CronJob) holds 78 of the 120 pod slots of 6 nodes at maxPods → the "
                               "scheduler cannot place them: 0/6 nodes are available: 6 Too many pods. → 4 of 10 pods "
                               "not ready (mostly Pending)")
    assert d.cause.confidence.name == "HIGH"
