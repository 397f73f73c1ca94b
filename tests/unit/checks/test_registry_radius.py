"""The registry's blast radius counts running pods that must pull their image again, read from the
namespaces the failed-pull events name, and says what it left unread."""

import dataclasses

from bot.checks import registry_radius
from bot.checks.container_state import PULL_FAILURES
from tests.doubles.cluster_reader import container, event, pod

REFUSED = ('Failed to pull image "registry.example.com/shop/{name}:1": failed to resolve reference: '
           "unexpected status from HEAD request to https://registry.example.com/v2/shop/{name}/manifests/1: "
           "503 Service Unavailable")


def _pulling(name, *, namespace, phase):
    image = f"registry.example.com/shop/{name}:1"
    return pod(f"{name}-0", namespace=namespace, phase=phase, ready=False, owner=f"{name}-abc",
               containers=[container("app", image, state="waiting", reason="ImagePullBackOff", ready=False,
                                     restarts=1 if phase == "Running" else 0,
                                     message=f'Back-off pulling image "{image}"')])


def _service_pulls_fail(world):
    """The healthy service's pods wait on a registry answering 503."""
    image = "registry.example.com/shop/user-profile-service:v6"
    world.pods = [dataclasses.replace(p, phase="Pending", conditions=(), containers=(
        container("app", image, state="waiting", reason="ImagePullBackOff", ready=False,
                  message=f'Back-off pulling image "{image}"'),)) for p in world.pods]
    world.events += [event(p.name, "Failed", REFUSED.format(name="user-profile-service")) for p in world.pods]


def test_a_running_pod_waiting_on_its_image_again_is_counted(healthy, ctx_of):
    _service_pulls_fail(healthy)
    healthy.pods.append(_pulling("invoicer", namespace="billing", phase="Running"))
    healthy.events.append(event("invoicer-0", "Failed", REFUSED.format(name="invoicer"), namespace="billing"))
    finding = registry_radius.blast_radius(ctx_of(healthy))
    assert finding is not None and finding.evidence["hit"] == ["billing/invoicer-0"]
    assert finding.evidence["other_workloads"] == 1 and "unseen" not in finding.evidence


def test_a_running_pod_that_pulls_fine_is_not_counted(healthy, ctx_of):
    _service_pulls_fail(healthy)
    fine = _pulling("invoicer", namespace="billing", phase="Running")
    healthy.pods.append(dataclasses.replace(fine, containers=(container("app", "registry.example.com/shop/invoicer:1"),)))
    # An old failure event of a pod whose container has since pulled and runs: not hit now.
    healthy.events.append(event("invoicer-0", "Failed", REFUSED.format(name="invoicer"), namespace="billing"))
    finding = registry_radius.blast_radius(ctx_of(healthy))
    assert finding is not None and finding.evidence["other_pods"] == 0
    assert all(c.state_reason not in PULL_FAILURES for c in healthy.pods[-1].containers)


def test_past_the_namespace_bound_the_rest_is_said_unseen(healthy, ctx_of):
    _service_pulls_fail(healthy)
    for i in range(registry_radius.MAX_NAMESPACES + 3):
        healthy.pods.append(_pulling(f"w{i}", namespace=f"ns-{i:02d}", phase="Running"))
        healthy.events.append(event(f"w{i}-0", "Failed", REFUSED.format(name=f"w{i}"), namespace=f"ns-{i:02d}"))
    finding = registry_radius.blast_radius(ctx_of(healthy))
    assert finding is not None and finding.evidence["other_pods"] == registry_radius.MAX_NAMESPACES
    assert finding.evidence["unseen"] == "running pods re-pulling in 3 more namespaces (read at most 20)"
