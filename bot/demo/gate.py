"""The demo's ending: `coroner gate` on the revision that caused the outage, as if it had run when that
revision was rolled out. The images come from the scenario's recorded evidence, the cluster from the
sim rewound to that moment (`ClusterAsOf`); `decide` does the rest, as it does in CI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.cluster.snapshots import selector_string
from bot.demo.as_of import ClusterAsOf
from bot.gate import GateDecision, decide, read_pressure
from bot.images.autopsy import autopsy
from bot.ports import ClusterReader
from bot.sim.images import ScenarioImageReader
from bot.sim.model import Scenario


@dataclass(frozen=True)
class DemoGate:
    revision: int
    at: datetime  # when the revision was rolled out: the moment the gate is replayed at
    workload: str  # "prod/user-profile-service"
    decision: GateDecision


def gate_at_rollout(scenario: Scenario, cluster: ClusterReader, namespace: str, name: str) -> DemoGate | None:
    """The gate on the Deployment's current revision against the one before, or None without one."""
    deployment = cluster.get_deployment(namespace, name)
    revisions = {rs.revision: rs for rs in cluster.list_replicasets(namespace, label_selector=selector_string(
        deployment.selector)) if rs.revision is not None and rs.containers}  # fmt: skip
    revision = deployment.revision
    current = revisions.get(revision) if revision is not None else None
    earlier = [r for r in revisions if revision is not None and r < revision]
    if revision is None or current is None or current.created_at is None or not earlier:
        return None
    previous = revisions[max(earlier)]
    images = ScenarioImageReader(scenario)
    image = current.containers[0].image
    dockerfile = scenario.dockerfile_for(image)
    candidate = autopsy(images, image, dockerfile_text=dockerfile, dockerfile_path="Dockerfile" if dockerfile else None)
    reference = autopsy(images, previous.containers[0].image)
    pressure = read_pressure(ClusterAsOf(cluster, current.created_at, [image]), namespace, name,
                             image_bytes=candidate.totals.size_bytes, image=image)
    return DemoGate(revision=revision, at=current.created_at, workload=f"{namespace}/{name}",
                    decision=decide(candidate, reference, pressure=pressure))
