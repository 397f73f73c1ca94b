import pytest

from bot.checks import workload
from bot.checks.pulls import go_duration, parse_pulled, registry_error_kind, registry_host
from bot.domain import Severity
from tests.doubles.cluster_reader import container, pod


def by_rule(findings):
    out = {}
    for f in findings:
        out.setdefault(f.rule, []).append(f)
    return out


def test_meltdown_workload_findings(meltdown, ctx_of):
    found = by_rule(workload.run(ctx_of(meltdown), workload.WorkloadParams()))
    assert set(found) == {
        "pods-not-ready", "image-pull-failing", "image-pull-slow", "evictions", "registry-errors",
        "no-memory-limit", "weak-probe",
    }
    not_ready = found["pods-not-ready"][0]
    assert not_ready.evidence["count"] == 4 and not_ready.evidence["pods_total"] == 7
    assert not_ready.evidence["reasons"] == {"ImagePullBackOff": 4}
    assert found["image-pull-failing"][0].evidence["reasons"] == {"ImagePullBackOff": 4}
    slow = found["image-pull-slow"][0]
    assert slow.evidence["slowest_seconds"] == 192.5 and slow.evidence["size_bytes"] == 4_509_715_660
    assert "3 min" in slow.title
    ev = found["evictions"][0]
    assert ev.evidence["count"] == 3 and "ephemeral-storage" in ev.title
    reg = found["registry-errors"][0]
    assert reg.evidence["errors"] == {"503": 16}
    assert reg.evidence["registries"] == {"registry.example.com": 16}
    assert found["weak-probe"][0].evidence["readiness_probe"] == "tcp"
    # The unrelated service's BackOff is not ours.
    assert "crashloop" not in found


def test_healthy_workload_gives_nothing(healthy, ctx_of):
    assert workload.run(ctx_of(healthy), workload.WorkloadParams()) == []


def test_crashloop_after_bad_config(healthy, ctx_of):
    healthy.pods[0] = pod(
        healthy.pods[0].name, labels={"app": "user-profile-service"}, owner=healthy.pods[0].owners[0].name, ready=False,
        containers=[container("app", state="waiting", reason="CrashLoopBackOff", restarts=14, last_terminated="Error",
                              message="back-off 5m0s restarting failed container=app")],
    )
    found = by_rule(workload.run(ctx_of(healthy), workload.WorkloadParams()))
    crash = found["crashloop"][0]
    assert crash.evidence["restarts"] == 14 and crash.evidence["last_terminated_reasons"] == {"Error": 1}
    assert crash.severity is Severity.HIGH and "logs --previous" in crash.remediation
    assert found["pods-not-ready"][0].evidence["reasons"] == {"CrashLoopBackOff": 1}


def test_oomkilled_crashloop_points_at_memory(healthy, ctx_of):
    healthy.pods = [
        pod(p.name, labels={"app": "user-profile-service"}, owner=p.owners[0].name, ready=False,
            containers=[container(state="waiting", reason="CrashLoopBackOff", ready=False, restarts=9,
                                  last_terminated="OOMKilled")])
        for p in healthy.pods
    ]
    crash = by_rule(workload.run(ctx_of(healthy), workload.WorkloadParams()))["crashloop"][0]
    assert crash.severity is Severity.CRITICAL and "memory" in crash.remediation
    assert "are crash-looping" in crash.title


def test_a_slow_leak_counts_every_pod_oom_killed_twice_as_the_rollback_decision_does(healthy, ctx_of):
    from bot.checks import revision_health

    restarts = [2, 1]  # the healthy world's two pods: killed twice (a leak), killed once (a spike)
    healthy.pods = [
        pod(p.name, labels={"app": "user-profile-service"}, owner=p.owners[0].name,
            containers=[container(restarts=n, last_terminated="OOMKilled")])
        for p, n in zip(healthy.pods, restarts, strict=True)
    ]
    crash = by_rule(workload.run(ctx_of(healthy), workload.WorkloadParams()))["crashloop"][0]
    looping = [healthy.pods[0].name]
    assert crash.evidence["pods"] == looping
    # The same pods, by the decision's own reading of them: one definition.
    assert sorted(p.name for p in healthy.pods if revision_health.pod_failure(p, {}) == "oom-killed") == looping
    # Ready between kills: restarting, not an outage.
    assert crash.severity is Severity.HIGH and "restarting again and again" in crash.title


@pytest.mark.parametrize(
    ("message", "seconds", "total", "size"),
    [
        ('Successfully pulled image "a:1" in 1m32.5s (1m40s including waiting). Image size: 4200000000 bytes.', 92.5, 100, 4200000000),
        ('Successfully pulled image "a:1" in 850ms (850ms including waiting)', 0.85, 0.85, None),
        ('Successfully pulled image "a:1" in 2h3m4s', 7384, None, None),
        ('Successfully pulled image "a:1"', None, None, None),
        ('Successfully pulled image "a:1" in 4.123456789s. Image size: 12 bytes.', 4.123456789, None, 12),
    ],
)
def test_pulled_messages_parse_leniently(message, seconds, total, size):
    record = parse_pulled(message)
    assert record.image == "a:1"
    assert record.seconds == pytest.approx(seconds) if seconds is not None else record.seconds is None
    assert record.total_seconds == pytest.approx(total) if total is not None else record.total_seconds is None
    assert record.size_bytes == size


def test_cache_hits_and_garbage():
    assert parse_pulled('Container image "a:1" already present on machine').cached
    assert parse_pulled("Pulling image something") is None
    assert go_duration("nonsense") is None


def test_registry_error_classification():
    assert registry_error_kind("toomanyrequests: You have reached your pull rate limit") == "rate-limited"
    assert registry_error_kind('dial tcp 10.0.0.5:5000: connect: connection refused') == "connection refused"
    assert registry_error_kind("manifest unknown") is None
    assert registry_host('Failed to pull image "nginx:1": x') == "docker.io"
    assert registry_host('Failed to pull image "localhost:5000/app:1": x') == "localhost:5000"


def test_memory_limit_and_probe_present_gives_no_warning(ctx_of, healthy):
    found = by_rule(workload.run(ctx_of(healthy), workload.WorkloadParams()))
    assert "no-memory-limit" not in found and "weak-probe" not in found


def test_no_readiness_probe_is_weak(healthy, ctx_of):
    from dataclasses import replace

    healthy.deployments[0] = replace(healthy.deployments[0], containers=(container(readiness=None),))
    found = by_rule(workload.run(ctx_of(healthy), workload.WorkloadParams()))
    assert found["weak-probe"][0].title.endswith("has no readiness probe")


def test_forbidden_replicasets_do_not_blind_the_pod_checks(meltdown, ctx_of):
    meltdown.forbidden.add("list_replicasets")
    found = by_rule(workload.run(ctx_of(meltdown), workload.WorkloadParams()))
    assert {"pods-not-ready", "image-pull-failing", "evictions", "registry-errors"} <= set(found)
