"""The one-line probable cause shown on the incident's root message (and in the PagerDuty note), read from
the diagnosis's own cause, never re-derived: "revision 5 (image 4.2 GB, 19.5× revision 4) → 3 nodes'
imagefs full → … → registry 503; roll back to revision 4". The rollback clause is there only when the
diagnosis's rollback decision recommends it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain import Finding, Severity

NOT_CAUSES = ("rollback-candidate", "rollback-not-indicated", "check-failed", "check-forbidden", "check-timeout")


def probable_cause(
    cause: Mapping[str, Any] | None, rollback: Mapping[str, Any] | None, findings: Sequence[Finding]
) -> str | None:
    parts: list[str] = []
    summary = (cause or {}).get("summary")
    if summary:
        parts.append(" ".join(str(summary).split()))
    else:
        # A run stored before the engine reasoned about cause: its most severe finding.
        worst = sorted((f for f in findings if f.severity.rank <= Severity.HIGH.rank and f.rule not in NOT_CAUSES),
                       key=lambda f: f.severity.rank)
        if worst:
            parts.append(" ".join(worst[0].title.split()))
    if rollback and rollback.get("recommended") and rollback.get("revision") is not None:
        parts.append(f"roll back to revision {rollback['revision']}")
    return "; ".join(parts) if parts else None
