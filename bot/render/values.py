"""How a value reads, the same in every sink: a time (`2024-05-14 03:02:11`, UTC), an evidence value
(sizes in `human_bytes`, ratios in percent), a rollback candidate, a severity label.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.domain import RollbackCandidate, Severity
from bot.render.order import utc
from bot.units import human_bytes

SEVERITY_LABEL = {
    Severity.CRITICAL: "CRITICAL",
    Severity.HIGH: "HIGH",
    Severity.MEDIUM: "MEDIUM",
    Severity.LOW: "LOW",
    Severity.INFO: "INFO",
}


def stamp(dt: datetime) -> str:
    """`2024-05-14 03:02:11`, always UTC, no fractions: the incident report's style."""
    return utc(dt).strftime("%Y-%m-%d %H:%M:%S")


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
        return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)  # "19.5×", not "19.5\\u00d7"
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


def rollback_text(candidate: RollbackCandidate) -> str:
    size = human_bytes(candidate.size_bytes) if candidate.size_bytes is not None else "size unknown"
    health = "healthy" if candidate.healthy else "not healthy"
    return f"revision {candidate.revision}: {candidate.image} ({size}, {health})"
