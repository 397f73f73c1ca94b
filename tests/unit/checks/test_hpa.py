from bot.checks import hpa
from bot.domain import Severity


def by_rule(findings):
    return {f.rule: f for f in findings}


def test_hpa_at_max_and_scaling_fast(meltdown, ctx_of):
    f = by_rule(hpa.run(ctx_of(meltdown), hpa.HpaParams()))["hpa-scaling"]
    assert f.severity is Severity.HIGH
    assert f.evidence["at_max"] and f.evidence["scaling_fast"] and f.evidence["count"] == 3
    assert "10 replicas, 14 desired, max 10" in f.title


def test_pull_pressure_is_size_times_pods_without_the_image(meltdown, ctx_of):
    f = by_rule(hpa.run(ctx_of(meltdown), hpa.HpaParams()))["pull-pressure"]
    # 4 pending pods on nodes 4-6 (no v7 there) + 7 pods the HPA wants (14 desired - 7 live).
    assert f.evidence["pods"] == 11
    assert f.evidence["bytes"] == 11 * 4_509_715_660
    assert f.evidence["pods_to_create"] == 7
    assert f.severity is Severity.CRITICAL
    assert f.evidence["registry_egress_bytes_per_second"] == round(11 * 4_509_715_660 / ((192.5 + 121) / 2))
    assert "46.2 GB" in f.title


def test_calm_hpa_and_cached_image_give_nothing(healthy, ctx_of):
    from bot.cluster.snapshots import HpaSnapshot

    healthy.hpas = [HpaSnapshot("user-profile-service", "prod", "Deployment", "user-profile-service", 2, 10, 2, 2, None)]
    assert hpa.run(ctx_of(healthy), hpa.HpaParams()) == []


def test_forbidden_hpa_still_reports_pull_pressure(meltdown, ctx_of):
    meltdown.forbidden.add("list_hpas")
    ctx = ctx_of(meltdown)
    found = hpa.run(ctx, hpa.HpaParams())
    assert {f.rule for f in found} == {"pull-pressure"}
    assert [(c, e.verb, e.resource) for c, e in ctx.gaps] == [("hpa", "list", "horizontalpodautoscalers")]


def test_forbidden_events_still_report_from_pods_and_nodes(meltdown, ctx_of):
    from bot.checks import workload

    meltdown.forbidden.add("list_events")
    ctx = ctx_of(meltdown)
    found = {f.rule for f in workload.run(ctx, workload.WorkloadParams())}
    assert {"pods-not-ready", "image-pull-failing", "registry-errors", "evictions"} <= found
    assert "image-pull-slow" not in found  # only events tell pull durations
    assert {(c, e.resource) for c, e in ctx.gaps} == {("workload", "events")}


def _replacements(world, *, count, size):
    """`count` replacement pods of the healthy service, unscheduled, for an image of `size` bytes."""
    from tests.doubles.cluster_reader import container, node, pod

    image = world.deployments[0].containers[0].image
    world.nodes = [node(n, images=[((image,), size)]) for n in ("node-1", "node-2")]
    owner = world.replicasets[0].name
    world.pods += [pod(f"{owner}-r{i}", labels={"app": "user-profile-service"}, owner=owner, node_name=None,
                       phase="Pending", ready=False, containers=[container("app", image, state="waiting",
                                                                           reason="ContainerCreating", ready=False)])
                   for i in range(count)]
    return image


def test_replacement_pods_that_pull_a_medium_image_in_time_are_no_pressure(healthy, ctx_of):
    # 4 pods × 800 MB is over the medium threshold, but they pull once and nothing strains.
    _replacements(healthy, count=4, size=800_000_000)
    assert "pull-pressure" not in by_rule(hpa.run(ctx_of(healthy), hpa.HpaParams()))


def test_the_same_pulls_are_a_pressure_when_they_are_slow(healthy, ctx_of):
    from tests.doubles.cluster_reader import event

    image = _replacements(healthy, count=4, size=800_000_000)
    name = healthy.pods[-1].name
    healthy.events.append(event(name, "Pulled", f'Successfully pulled image "{image}" in 1m32s (2m10s including waiting)',
                                type="Normal"))
    f = by_rule(hpa.run(ctx_of(healthy), hpa.HpaParams()))["pull-pressure"]
    assert f.severity is Severity.MEDIUM and f.evidence["strain"] == ["1 slow (over 60s)"] and not f.evidence["storm"]


def test_the_same_pulls_are_a_pressure_when_they_fail(healthy, ctx_of):
    import dataclasses

    _replacements(healthy, count=4, size=800_000_000)
    stuck = healthy.pods[-1]
    healthy.pods[-1] = dataclasses.replace(stuck, containers=(dataclasses.replace(
        stuck.containers[0], state_reason="ImagePullBackOff"),))
    f = by_rule(hpa.run(ctx_of(healthy), hpa.HpaParams()))["pull-pressure"]
    assert f.evidence["strain"] == ["1 failing"]


def test_many_concurrent_pulls_of_a_large_image_are_a_storm(healthy, ctx_of):
    _replacements(healthy, count=5, size=1_500_000_000)
    f = by_rule(hpa.run(ctx_of(healthy), hpa.HpaParams()))["pull-pressure"]
    assert f.evidence["storm"] and f.evidence["strain"] == [] and f.evidence["pods"] == 5
    # One pod fewer is no storm.
    assert "pull-pressure" not in by_rule(hpa.run(ctx_of(healthy), hpa.HpaParams(storm_pods=6)))
