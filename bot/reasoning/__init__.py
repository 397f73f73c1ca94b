"""Reasoning over a diagnosis's findings (issue 9): merge findings that state the same fact, decide whether
to roll back, and name one probable cause. Pure: findings and rollback candidates in, the same out plus
the decision and the cause; no cluster reads. The engine calls `reason` once per diagnosis, so every sink
(text, JSON, Slack, the postmortem, the store) reads the same conclusions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain import Finding, ProbableCause, RollbackCandidate, RollbackDecision
from bot.reasoning import cause, merge, rollback

# Rules the reasoning itself writes (the rollout check's candidate finding becomes this when no rollback helps).
RULES = ("rollback-not-indicated",)


@dataclass(frozen=True)
class Reasoned:
    findings: tuple[Finding, ...]
    candidates: tuple[RollbackCandidate, ...]
    rollback: RollbackDecision
    cause: ProbableCause


def reason(findings: Sequence[Finding], candidates: Sequence[RollbackCandidate], *, where: str) -> Reasoned:
    """`where` names the service's workload ("prod/user-profile-service") in the cause's sentences."""
    merged = merge.merge_same_facts(findings)
    decision = rollback.decide(merged, candidates)
    decided, marked = rollback.apply(decision, merged, candidates)
    return Reasoned(
        findings=tuple(decided),
        candidates=tuple(marked),
        rollback=decision,
        cause=cause.probable_cause(decided, decision, where=where),
    )
