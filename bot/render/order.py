"""The one order of findings and the one order of the timeline, used by the engine, the store's readers
and every sink, so a finding is `F3` in the draft and third in Slack alike."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

from bot.domain import Finding, TimelineEntry

# Evidence keys that measure how bad a finding is, most telling first. Within one severity and rule, the
# finding with the larger measure comes first: the fullest disk, the largest pull, the most restarts.
_WEIGHT_KEYS = ("used_percent", "ratio", "bytes", "restarts", "count", "pods")
# Within one instant, the cause reads before its effects: the rollout, then the node, then the events.
_SOURCE_ORDER = {"rollout": 0, "node": 1, "kubernetes": 2, "pagerduty": 3, "coroner": 4}


def _weight(finding: Finding) -> float:
    for key in _WEIGHT_KEYS:
        value = finding.evidence.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return 0.0


def _evidence_key(finding: Finding) -> str:
    return json.dumps(finding.evidence, sort_keys=True, default=str, separators=(",", ":"))


def order_findings(findings: Iterable[Finding]) -> list[Finding]:
    """By severity, then rule, then the larger measure first, then the title and the evidence, so equal
    titles keep one order whatever order the checks answered in."""
    return sorted(findings, key=lambda f: (f.severity.rank, f.rule, -_weight(f), f.title, _evidence_key(f)))


def utc(dt: datetime) -> datetime:
    """Naive datetimes are taken as UTC: that is how the readers and the store hand them over."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def order_timeline(entries: Iterable[TimelineEntry], *, limit: int | None = None) -> list[TimelineEntry]:
    """Oldest first; within one instant by source (cause before effect), then text. The first entry of each
    `key` wins (the stable dedupe key). `limit` keeps the latest entries."""
    seen: dict[str, TimelineEntry] = {}
    for entry in entries:
        seen.setdefault(entry.key, entry)
    ordered = sorted(seen.values(), key=lambda e: (utc(e.at), _SOURCE_ORDER.get(e.source, 9), e.text, e.key))
    if limit is not None and len(ordered) > limit:
        ordered = ordered[-limit:]
    return ordered
