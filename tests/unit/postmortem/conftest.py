"""The registry-meltdown outage as plain domain data: the evidence a postmortem is drafted from."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain import (
    CauseLink,
    Confidence,
    Finding,
    Incident,
    ProbableCause,
    RollbackCandidate,
    RollbackDecision,
    Severity,
    TimelineEntry,
)
from bot.postmortem.evidence import DockerfileFix, ImageSummary, LayerSummary, PathSize

GiB = 1024**3
MiB = 1024**2


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2024, 5, 14, hh, mm, ss, tzinfo=UTC)


@pytest.fixture
def incident() -> Incident:
    return Incident(
        id="inc-1",
        source="pagerduty",
        external_id="PGR0VU2",
        title="user-profile-service: readiness failing",
        service="user-profile-service",
        status="resolved",
        urgency="high",
        created_at=at(3, 2, 11),
        resolved_at=at(5, 32, 11),
        number=2,
        html_url="https://example.pagerduty.com/incidents/PGR0VU2",
    )


@pytest.fixture
def timeline() -> list[TimelineEntry]:
    return [
        TimelineEntry(at(3, 2, 11), "pagerduty", "PagerDuty triggers. user-profile-service: readiness failing", "pd:1"),
        TimelineEntry(at(2, 41, 0), "kubernetes", "Deployment user-profile-service rolled out revision 8", "rs:8"),
        TimelineEntry(at(2, 55, 30), "kubernetes", "Node node-3 DiskPressure=True (KubeletHasDiskPressure)", "cond:n3"),
        TimelineEntry(at(3, 0, 2), "kubernetes", "Failed to pull image: 503 Service Unavailable", "ev:pull"),
        TimelineEntry(at(5, 32, 11), "pagerduty", "PagerDuty resolves.", "pd:2"),
    ]


@pytest.fixture
def findings() -> list[Finding]:
    return [
        Finding("fat-layer", Severity.HIGH, "Layer 3 COPY . . adds 1.8 GB", {"layer": 3, "bytes": int(1.8 * GiB)},
                "Add a .dockerignore", "image"),
        Finding("vcs-directory", Severity.HIGH, ".git (800 MB) is in the image", {"layer": 3, "path": ".git",
                "bytes": 800 * MiB}, "Add a .dockerignore", "image"),
        Finding("build-toolchain", Severity.MEDIUM, "CUDA toolkit and compilers in the runtime image",
                {"layer": 2, "bytes": int(2.1 * GiB)}, "Use a multi-stage build", "image"),
        Finding("node-disk-high", Severity.CRITICAL, "imagefs 97% on node-3", {"node": "node-3",
                "imagefs_used_ratio": 0.97}, None, "disk"),
        Finding("node-disk-high", Severity.CRITICAL, "imagefs 96% on node-1", {"node": "node-1",
                "imagefs_used_ratio": 0.96}, None, "disk"),
        Finding("pull-pressure", Severity.HIGH, "12 new pods will pull 50.4 GB", {"pods": 12,
                "bytes": int(50.4 * GiB)}, "Cap the HPA's scale-up rate", "hpa"),
        Finding("registry-errors", Severity.HIGH, "Registry answered 503 to 14 pulls", {"count": 14}, None, "workload"),
        Finding("rollback-candidate", Severity.INFO, "Revision 7 is the newest healthy revision",
                {"revision": 7}, None, "rollout"),
    ]


@pytest.fixture
def candidates() -> list[RollbackCandidate]:
    return [
        RollbackCandidate(revision=8, image="registry.local/ups:8", size_bytes=int(4.2 * GiB), healthy=False),
        RollbackCandidate(
            revision=7,
            image="registry.local/ups:7",
            size_bytes=220 * MiB,
            healthy=True,
            live_from=at(1, 0),
            live_until=at(2, 41),
            recommended=True,
            undo_command="kubectl rollout undo deployment/user-profile-service -n prod --to-revision=7",
        ),
    ]


@pytest.fixture
def image() -> ImageSummary:
    return ImageSummary(
        ref="registry.local/ups:8",
        layers=(
            LayerSummary(0, "ADD rootfs.tar.xz /", 81579212),
            LayerSummary(1, "RUN pip install -r requirements.txt", 300 * MiB),
            LayerSummary(2, "RUN apt-get update && apt-get install -y build-essential cuda-toolkit-12-1",
                         int(2.1 * GiB)),
            LayerSummary(3, "COPY . .", int(1.8 * GiB), top_paths=(
                PathSize("app/data/test.csv", 400 * MiB), PathSize("app/.git", 800 * MiB),
                PathSize("app/.venv", 600 * MiB))),
        ),
        total_bytes=4509715660,
    )


@pytest.fixture
def fix() -> DockerfileFix:
    return DockerfileFix(
        diff="--- a/Dockerfile\n+++ b/Dockerfile\n@@ -3,2 +3,3 @@\n-RUN apt-get install -y build-essential\n"
             "+RUN apt-get install -y --no-install-recommends build-essential \\\n+ && rm -rf /var/lib/apt/lists/*\n",
        notes=("Added --no-install-recommends and an apt cache cleanup",),
        rules=("DL3015", "DL3009"),
    )


@pytest.fixture
def cause() -> ProbableCause:
    """The diagnosis's own probable cause, as the engine decides it (bot.reasoning) and the store keeps it."""
    return ProbableCause(
        summary="revision 8 (image 4.2 GB, 19.5× revision 7) → 2 nodes' imagefs full → HPA pulls 50.4 GB → registry 503",
        chain=(
            CauseLink("trigger", "revision 8 (image 4.2 GB, 19.5× revision 7)", ("fat-layer", "vcs-directory")),
            CauseLink("mechanism", "2 nodes' imagefs full", ("node-disk-high",)),
            CauseLink("amplifier", "HPA pulls 50.4 GB", ("pull-pressure",)),
            CauseLink("amplifier", "registry 503", ("registry-errors",)),
        ),
        supporting=("fat-layer", "vcs-directory", "node-disk-high", "pull-pressure", "registry-errors"),
        ruled_out=("a noisy neighbour: no other workload uses more than 2% of the nodes' disk",),
        confidence=Confidence.HIGH,
    )


@pytest.fixture
def rollback() -> RollbackDecision:
    return RollbackDecision(True, 7, "revision 8's image grew 19.5× and its pods cannot pull it", ("fat-layer",))
