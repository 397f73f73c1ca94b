"""The check registry: an explicit table of (name, function, params model). No discovery, no magic.

A check is `run(ctx: CheckContext, params: P) -> list[Finding]` where P is a pydantic model with
`extra="forbid"`, so a misspelt parameter in a playbook is an error at load time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from bot import reasoning
from bot.checks import disk, dockerfile, hpa, image, neighbours, nodes, rollout, workload
from bot.domain import Finding
from bot.checks.context import CheckContext


@dataclass(frozen=True)
class CheckSpec:
    name: str
    run: Callable[[CheckContext, Any], list[Finding]]
    params: type[BaseModel]
    rules: tuple[str, ...]
    summary: str


CHECKS: dict[str, CheckSpec] = {
    spec.name: spec
    for spec in (
        CheckSpec("nodes", nodes.run, nodes.NodesParams, nodes.RULES, "Node readiness, pressure conditions, cordons."),
        CheckSpec("disk", disk.run, disk.DiskParams, disk.RULES, "Node filesystems vs image-GC and eviction thresholds."),
        CheckSpec("workload", workload.run, workload.WorkloadParams, workload.RULES, "The service's pods, pulls, limits, probes."),
        CheckSpec("rollout", rollout.run, rollout.RolloutParams, rollout.RULES, "Revision history, image size regression, rollback candidates."),
        CheckSpec("neighbours", neighbours.run, neighbours.NeighboursParams, neighbours.RULES, "Who uses pressured nodes, whom their trouble hit, the noisy neighbour."),
        CheckSpec("hpa", hpa.run, hpa.HpaParams, hpa.RULES, "Autoscaler at max or scaling fast, and the pull pressure it creates."),
        CheckSpec("image", image.run, image.ImageParams, image.RULES, "Image autopsy of the current revision's image."),
        CheckSpec("dockerfile", dockerfile.run, dockerfile.DockerfileParams, dockerfile.RULES, "Lint and fix the catalog's Dockerfile."),
    )
}

# Findings the engine itself emits when a check cannot run.
ENGINE_RULES = ("check-forbidden", "check-failed", "check-timeout", "check-not-assessed")
# Findings the engine's reasoning writes over the checks' (bot.reasoning).
REASONING_RULES = reasoning.RULES

ALL_RULES: tuple[str, ...] = (
    tuple(rule for spec in CHECKS.values() for rule in spec.rules) + ENGINE_RULES + REASONING_RULES
)
