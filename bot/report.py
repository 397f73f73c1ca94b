"""Plain-text rendering of findings and the timeline, shared by the terminal, Slack and the postmortem.

Every rendering of the same evidence must agree, so the small decisions live here once: how a time is
written (`[2024-05-14 03:02:11]`, UTC), how the timeline is ordered and deduplicated, how an evidence
value is shown (sizes in `human_bytes`, ratios in percent), and in which order findings appear.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.domain import Finding, RollbackCandidate, Severity, TimelineEntry, sort_findings
from bot.redact import redact
from bot.units import human_bytes

SEVERITY_LABEL = {
    Severity.CRITICAL: "CRITICAL",
    Severity.HIGH: "HIGH",
    Severity.MEDIUM: "MEDIUM",
    Severity.LOW: "LOW",
    Severity.INFO: "INFO",
}


def utc(dt: datetime) -> datetime:
    """Naive datetimes are taken as UTC: that is how the readers and the store hand them over."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def stamp(dt: datetime) -> str:
    """`2024-05-14 03:02:11`, always UTC, no fractions: the incident report's style."""
    return utc(dt).strftime("%Y-%m-%d %H:%M:%S")


def ordered_timeline(entries: Iterable[TimelineEntry]) -> list[TimelineEntry]:
    """Oldest first; ties by source then key; the first entry of each `key` wins (the stable dedupe key)."""
    seen: set[str] = set()
    ordered: list[TimelineEntry] = []
    for entry in sorted(entries, key=lambda e: (utc(e.at), e.source, e.key, e.text)):
        if entry.key in seen:
            continue
        seen.add(entry.key)
        ordered.append(entry)
    return ordered


def timeline_line(entry: TimelineEntry) -> str:
    """`[2024-05-14 03:02:11] PagerDuty triggers. …` with the text folded onto one line."""
    return f"[{stamp(entry.at)}] {' '.join(entry.text.split())}"


def ordered_findings(findings: Iterable[Finding]) -> list[Finding]:
    """`sort_findings`, then the evidence as a last tie-break so equal titles keep one order."""
    return sort_findings(sorted(findings, key=lambda f: evidence_json(f.evidence)))


def evidence_json(evidence: Mapping[str, Any]) -> str:
    return json.dumps(evidence, sort_keys=True, default=str, separators=(",", ":"))


def is_size_key(key: str) -> bool:
    """`bytes`, `size_bytes`, `bytes_if_max`, `size`: evidence keys that hold a byte count."""
    return "bytes" in key.lower().split("_") or key == "size"


def format_value(key: str, value: Any, *, max_items: int = 10) -> str:
    """One evidence value as text. Sizes are human (`4.2 GB`), ratios percent (`97%`)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float) and is_size_key(key):
        return human_bytes(value)
    if isinstance(value, float) and key.endswith(("ratio", "_fraction")):
        # A used/free ratio is a share; a growth ratio (19.55) is a factor.
        return f"{value * 100:.0f}%" if 0 <= value <= 1 else f"{value:.1f}×"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, str) and "\n" in value.strip():
        # A diff or a file: one line of evidence cannot hold it, and its own section shows it in full.
        lines = value.strip().splitlines()
        return f"{lines[0]} … ({len(lines)} lines)"
    if isinstance(value, str | int):
        return str(value)
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, Sequence):
        if not value:
            return "none"
        items = [format_value(key, item) for item in value]
        more = len(items) - max_items
        shown = ", ".join(items[:max_items])
        return f"{shown}, … {more} more" if more > 0 else shown
    return str(value)


def evidence_pairs(evidence: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Sorted `(key, text)` pairs: sorted so the rendering never depends on dict insertion order."""
    return [(key, format_value(key, evidence[key])) for key in sorted(evidence)]


def evidence_text(evidence: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={text}" for key, text in evidence_pairs(evidence))


def rollback_text(candidate: RollbackCandidate) -> str:
    size = human_bytes(candidate.size_bytes) if candidate.size_bytes is not None else "size unknown"
    health = "healthy" if candidate.healthy else "not healthy"
    return f"revision {candidate.revision}: {candidate.image} ({size}, {health})"


def text_report(
    *,
    title: str,
    findings: Sequence[Finding],
    timeline: Sequence[TimelineEntry] = (),
    rollback_candidates: Sequence[RollbackCandidate] = (),
) -> str:
    """What the on-call reads in a terminal: the timeline, the findings by severity, the rollback."""
    lines = [title, ""]
    if timeline:
        lines.append("Timeline")
        lines += [timeline_line(e) for e in ordered_timeline(timeline)]
        lines.append("")
    lines.append("Findings")
    if not findings:
        lines.append("  none")
    for finding in ordered_findings(findings):
        lines.append(f"  {SEVERITY_LABEL[finding.severity]:<8} {finding.rule}: {' '.join(finding.title.split())}")
        if finding.evidence:
            lines.append(f"           evidence: {evidence_text(finding.evidence)}")
        if finding.remediation:
            lines.append(f"           fix: {' '.join(finding.remediation.split())}")
    candidates = sorted(rollback_candidates, key=lambda c: (not c.recommended, -c.revision))
    if candidates:
        lines += ["", "Rollback candidates"]
        for c in candidates:
            mark = "*" if c.recommended else " "
            lines.append(f" {mark} {rollback_text(c)}")
            if c.recommended and c.undo_command:
                lines.append(f"     undo: {c.undo_command}")
    return redact("\n".join(lines)) + "\n"
