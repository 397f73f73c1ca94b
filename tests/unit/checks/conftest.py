"""A hand-built registry-meltdown world for the check unit tests, on `FakeClusterReader`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.cluster.snapshots import (
    Condition,
    DeploymentSnapshot,
    FsStats,
    HpaSnapshot,
    NodeFsSummary,
    OwnerRef,
    ReplicaSetSnapshot,
)
from bot.domain import Target
from bot.engine.cache import CachingClusterReader
from bot.checks.context import CheckContext
from tests.doubles.cluster_reader import FakeClusterReader, container, event, node, pod

T0 = datetime(2024, 5, 14, 2, 0, 0, tzinfo=UTC)
NS, NAME = "prod", "user-profile-service"
REPO = "registry.example.com/shop/user-profile-service"
BIG, SMALL = 4_509_715_660, 230_686_720
LABELS = {"app": NAME}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _rs(revision: int, tag: str, created: datetime, *, replicas: int, ready: int) -> ReplicaSetSnapshot:
    name = f"{NAME}-{revision}abc"
    template = {
        "metadata": {"labels": {**LABELS, "pod-template-hash": f"{revision}abc"}, "annotations": {"team": "profile"}},
        "spec": {"containers": [{"name": "app", "image": f"{REPO}:{tag}"}]},
    }
    return ReplicaSetSnapshot(
        name=name,
        namespace=NS,
        labels={**LABELS, "pod-template-hash": f"{revision}abc"},
        revision=revision,
        revision_history=(),
        replicas=replicas,
        ready_replicas=ready,
        available_replicas=ready,
        containers=(container("app", f"{REPO}:{tag}"),),
        owners=(OwnerRef("Deployment", NAME),),
        created_at=created,
        annotations={"deployment.kubernetes.io/revision": str(revision), "team": "profile"},
        template=template,
    )


def meltdown_reader() -> FakeClusterReader:
    big, small = f"{REPO}:v7", f"{REPO}:v6"
    nodes = [
        node(f"node-{i}", ready=i > 3, pressure=("DiskPressure",) if i <= 3 else (), since=at(50),
             images=[((big, f"{REPO}@sha256:{'7' * 64}"), BIG)] if i <= 3 else [((small,), SMALL), (("busybox:1.36",), 5_000_000)])
        for i in range(1, 7)
    ]
    summaries = {
        n.name: NodeFsSummary(
            n.name,
            nodefs=FsStats(100_000_000_000, 3_000_000_000 if i <= 3 else 60_000_000_000, None),
            imagefs=None,
        )
        for i, n in enumerate(nodes, 1)
    }
    rs5 = _rs(5, "v5", at(-3000), replicas=0, ready=0)
    rs6 = _rs(6, "v6", at(-1440), replicas=0, ready=0)
    rs7 = _rs(7, "v7", at(30), replicas=10, ready=3)
    deployment = DeploymentSnapshot(
        name=NAME, namespace=NS, labels=LABELS, selector=LABELS, replicas=10, ready_replicas=3, updated_replicas=10,
        available_replicas=3, revision=7, paused=False,
        containers=(container("app", big, memory_limit=None, readiness="tcp"),),
        annotations={"deployment.kubernetes.io/revision": "7", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
    )
    pods = []
    for i in range(10):
        node_name = f"node-{i % 6 + 1}"
        if i < 3:
            pods.append(pod(f"{rs7.name}-ok{i}", labels=LABELS, node_name="node-1", owner=rs7.name,
                            containers=[container("app", big)]))
        elif i < 7:
            pods.append(pod(f"{rs7.name}-pull{i}", labels=LABELS, node_name=f"node-{4 + i % 3}", owner=rs7.name, ready=False,
                            phase="Pending",
                            containers=[container("app", big, ready=False, state="waiting", reason="ImagePullBackOff",
                                                  message=f'Back-off pulling image "{big}": received unexpected HTTP status: 503 Service Unavailable')]))
        else:
            pods.append(pod(f"{rs7.name}-ev{i}", labels=LABELS, node_name=node_name, owner=rs7.name, ready=False, phase="Failed",
                            reason="Evicted", message="The node was low on resource: ephemeral-storage."))
    events = [
        event(f"{rs7.name}-ok0", "Pulled", f'Successfully pulled image "{big}" in 3m12.5s (3m40s including waiting). Image size: {BIG} bytes.', type="Normal", at=at(35)),
        event(f"{rs7.name}-ok1", "Pulled", f'Successfully pulled image "{big}" in 2m1s. Image size: {BIG} bytes.', type="Normal", at=at(36)),
        event(f"{rs7.name}-ok2", "Pulled", f'Container image "{big}" already present on machine', type="Normal", at=at(37)),
        event(f"{rs7.name}-pull4", "Failed", f'Failed to pull image "{big}": rpc error: code = Unknown desc = Get "https://registry.example.com/v2/shop/user-profile-service/manifests/v7": received unexpected HTTP status: 503 Service Unavailable', count=12, at=at(55)),
        event(f"{rs7.name}-ev8", "Evicted", "The node was low on resource: ephemeral-storage.", at=at(52)),
        event(f"{rs6.name}-old1", "Pulled", f'Successfully pulled image "{small}" in 4.2s', type="Normal", at=at(-1400)),
        event(NAME, "ScalingReplicaSet", f"Scaled up replica set {rs7.name} to 10", kind="Deployment", type="Normal", at=at(30)),
        event(NAME, "SuccessfulRescale", "New size: 6; reason: cpu resource utilization (percentage of request) above target", kind="HorizontalPodAutoscaler", type="Normal", at=at(40)),
        event(NAME, "SuccessfulRescale", "New size: 8; reason: cpu resource utilization above target", kind="HorizontalPodAutoscaler", type="Normal", at=at(44)),
        event(NAME, "SuccessfulRescale", "New size: 10; reason: cpu resource utilization above target", kind="HorizontalPodAutoscaler", type="Normal", at=at(48)),
        event("other-service-abc", "BackOff", "unrelated", at=at(40)),
    ]
    hpa = HpaSnapshot(
        name=NAME, namespace=NS, target_kind="Deployment", target_name=NAME, min_replicas=3, max_replicas=10,
        current_replicas=10, desired_replicas=14, last_scale_time=at(48),
        conditions=(Condition("ScalingLimited", "True", "TooManyReplicas"),),
    )
    return FakeClusterReader(
        nodes=nodes, summaries=summaries, pods=pods, events=events, deployments=[deployment],
        replicasets=[rs5, rs6, rs7], hpas=[hpa],
    )


def make_ctx(reader: FakeClusterReader, *, node_proxy: bool = False, images=None, entry=None) -> CheckContext:
    return CheckContext(
        service=NAME,
        target=Target(reader.context, NS, "Deployment", NAME),
        cluster=CachingClusterReader(reader),
        now=at(60),
        images=images,
        entry=entry,
        node_proxy_enabled=node_proxy,
    )


@pytest.fixture
def meltdown() -> FakeClusterReader:
    return meltdown_reader()


@pytest.fixture
def healthy() -> FakeClusterReader:
    """One calm revision: nothing should fire."""
    image = f"{REPO}:v6"
    rs = _rs(6, "v6", at(-1440), replicas=2, ready=2)
    deployment = DeploymentSnapshot(
        name=NAME, namespace=NS, labels=LABELS, selector=LABELS, replicas=2, ready_replicas=2, updated_replicas=2,
        available_replicas=2, revision=6, paused=False, containers=(container("app", image),),
    )
    return FakeClusterReader(
        nodes=[node("node-1", images=[((image,), SMALL)]), node("node-2", images=[((image,), SMALL)])],
        summaries={n: NodeFsSummary(n, FsStats(100_000_000_000, 70_000_000_000, None), None) for n in ("node-1", "node-2")},
        pods=[pod(f"{rs.name}-{i}", labels=LABELS, node_name=f"node-{i}", owner=rs.name, containers=[container("app", image)]) for i in (1, 2)],
        deployments=[deployment],
        replicasets=[rs],
    )


@pytest.fixture
def ctx_of():
    """`ctx_of(reader, node_proxy=False, images=None, entry=None)` -> a CheckContext at 03:00."""
    return make_ctx
