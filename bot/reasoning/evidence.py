"""Typed reads of the findings' evidence that the reasoning needs, so the decision code reads like the rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain import Finding


# What the service itself shows, and what its nodes show (node findings say whether the node hosts it).
SERVICE_SYMPTOMS = ("crashloop", "pods-not-ready", "image-pull-failing", "image-pull-slow", "evictions",
                    "registry-errors", "pull-pressure")
NODE_SYMPTOMS = ("node-pressure", "node-not-ready", "node-disk-high")


def on_service(finding: Finding) -> bool:
    """Whether a finding is a symptom of this service: its pods' trouble, or trouble on a node hosting them.
    Node trouble elsewhere in the cluster, and configuration findings, are not."""
    if finding.rule in SERVICE_SYMPTOMS:
        return True
    return finding.rule in NODE_SYMPTOMS and finding.evidence.get("hosts_service") is True


def first(findings: Sequence[Finding], rule: str) -> Finding | None:
    return next((f for f in findings if f.rule == rule), None)


def every(findings: Sequence[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


def blast(findings: Sequence[Finding], scope: str) -> Finding | None:
    """The `blast-radius` finding of the nodes' trouble (`nodes`) or of a registry's (`registry`)."""
    return next((f for f in every(findings, "blast-radius") if f.evidence.get("scope", "nodes") == scope), None)


def when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def counts(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): int(n) for k, n in value.items() if isinstance(n, int | float)}


def growth_ratio(evidence: Mapping[str, Any]) -> str:
    """An image-size-regression's growth as its title shows it: from the sizes, not the rounded `ratio`."""
    current, previous = evidence.get("current_size_bytes"), evidence.get("previous_size_bytes")
    if isinstance(current, int) and isinstance(previous, int) and previous:
        return f"{current / previous:.1f}"
    return f"{float(evidence.get('ratio') or 0):.1f}"


@dataclass(frozen=True)
class Implication:
    """`rollback-candidate`'s `implication` evidence (written by `bot.checks.rollout.implication`)."""

    current_revision: int | None
    rolled_out_at: datetime | None
    failures: dict[str, int]
    own_failures: dict[str, int]
    failing_since: datetime | None
    previous_revision: int | None  # the last good revision when revisions between failed by themselves
    previous_failures: dict[str, int]
    changes: tuple[Mapping[str, str], ...]
    explained_by: dict[str, list[str]]
    pods_ready: int | None
    replicas: int | None
    window_hours: float
    now: datetime | None
    failed_between: tuple[int, ...] = ()  # revisions after previous_revision that failed by themselves too
    trouble_rolled_out_at: datetime | None = None  # the rollout of the first of them (else rolled_out_at)
    restart_only: bool = False  # it changed only the pod template's annotations or labels

    @classmethod
    def of(cls, finding: Finding | None) -> Implication | None:
        raw = (finding.evidence.get("implication") if finding is not None else None) or None
        if not isinstance(raw, Mapping):
            return None
        explained = raw.get("explained_by") or {}
        return cls(
            current_revision=raw.get("current_revision"),
            rolled_out_at=when(raw.get("rolled_out_at")),
            failures=counts(raw.get("failures")),
            own_failures=counts(raw.get("own_failures")),
            failing_since=when(raw.get("failing_since")),
            previous_revision=raw.get("previous_revision"),
            previous_failures=counts(raw.get("previous_failures")),
            changes=tuple(c for c in raw.get("changes") or () if isinstance(c, Mapping)),
            explained_by={str(k): [str(x) for x in v] for k, v in explained.items()} if isinstance(explained, Mapping) else {},
            pods_ready=raw.get("pods_ready"),
            replicas=raw.get("replicas"),
            window_hours=float(raw.get("window_hours") or 24),
            now=when(raw.get("now")),
            failed_between=tuple(int(r) for r in raw.get("failed_between") or () if isinstance(r, int)),
            trouble_rolled_out_at=when(raw.get("trouble_rolled_out_at")),
            restart_only=raw.get("restart_only") is True,
        )

    @property
    def live_seconds(self) -> float | None:
        if self.now is None or self.rolled_out_at is None:
            return None
        return (self.now - self.rolled_out_at).total_seconds()

    @property
    def node_level_failures(self) -> dict[str, int]:
        return {k: n for k, n in self.failures.items() if k not in self.own_failures}
