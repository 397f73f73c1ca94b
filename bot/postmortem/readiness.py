"""How many of the service's pods were not ready, as each diagnosis run of the incident measured it, and the
peak of those measures for the draft's Impact.

A run measures readiness even when nothing was wrong: `pods-not-ready` fires only when some pod is not ready,
but the rollout check records the workload's ready pods and replicas in its `implication` evidence either
way. So "0 of 4" (every pod ready at every diagnosis) is told apart from "not measured" (no run looked).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain import Finding
from bot.reasoning.evidence import Implication, first


@dataclass(frozen=True)
class NotReady:
    """One diagnosis run's count of the service's pods that were not ready, of `total` (None: unknown)."""

    count: int
    total: int | None
    at: datetime | None = None  # when the run started; None for the findings the draft is written from

    def text(self) -> str:
        """`3 of 6`, `0 of 4`, `3`."""
        return f"{self.count} of {self.total}" if self.total else str(self.count)


def not_ready_of(findings: Sequence[Finding], *, at: datetime | None = None) -> NotReady | None:
    """The run's measure: its `pods-not-ready` finding's count, else the rollout's ready pods against its
    replicas (0 not ready when they match); None when the run measured neither."""
    finding = first(findings, "pods-not-ready")
    count = finding.evidence.get("count") if finding is not None else None
    if finding is not None and isinstance(count, int) and not isinstance(count, bool):
        total = finding.evidence.get("pods_total") or finding.evidence.get("desired")
        return NotReady(count, total if isinstance(total, int) else None, at)
    for candidate in findings:
        implication = Implication.of(candidate)
        if implication is not None and isinstance(implication.pods_ready, int) and isinstance(implication.replicas,
                                                                                              int):
            return NotReady(max(implication.replicas - implication.pods_ready, 0), implication.replicas, at)
    return None


def peak(measures: Iterable[NotReady | None]) -> NotReady | None:
    """The most pods not ready in any run; among equals the draft's own findings' (their finding is cited),
    then the earliest run's. None when no run measured."""
    known = [m for m in measures if m is not None]
    if not known:
        return None
    return max(known, key=lambda m: (m.count, m.total or 0, m.at is None, -(m.at.timestamp() if m.at else 0.0)))
