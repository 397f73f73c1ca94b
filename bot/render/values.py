"""How a value reads, the same in every sink: a time (`2024-05-14 03:02:11`, UTC), an evidence value
(sizes in `human_bytes`, ratios in percent, counts and records as a person reads them, never raw JSON), a
rollback candidate, a severity label.
"""

from __future__ import annotations

import json
import re
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


# A record (a node's trouble, a consumer, a rollback candidate) is named by the first of these it holds.
NAME_KEYS = ("workload", "node", "pod", "name", "rule", "revision", "path", "image")
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def format_value(key: str, value: Any, *, max_items: int = 10) -> str:
    """One evidence value as a person reads it, on one line: sizes human (`4.2 GB`), ratios percent (`97%`),
    times as `stamp`s; a count per name (`{"shop/api": 2}`) as `shop/api: 2`, most first; a record as its
    name and its facts (`ip-10-1 (conditions: MemoryPressure; hit: api-7f…)`); a record inside a record as
    its name alone, so a nested list of consumers reads as the consumers' names. Keys keep their JSON names:
    one vocabulary in the draft, the JSON and the docs."""
    return _text(key, value, depth=0, max_items=max_items)


def _text(key: str, value: Any, *, depth: int, max_items: int) -> str:
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
    if isinstance(value, str):
        return _time_text(value) or value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        return _mapping_text(key, value, depth=depth, max_items=max_items)
    if isinstance(value, Sequence):
        if not value:
            return "none"
        items = [_text(key, item, depth=depth, max_items=max_items) for item in value]
        return _capped(items, max_items)
    return str(value)


def _mapping_text(key: str, value: Mapping[str, Any], *, depth: int, max_items: int) -> str:
    facts = {str(k).strip(): v for k, v in value.items() if not _empty(v)}
    name_key = next((k for k in NAME_KEYS if isinstance(facts.get(k), str | int) and not isinstance(facts[k], bool)),
                    None)
    if name_key is not None:
        raw = facts.pop(name_key)
        name = raw if isinstance(raw, str) else f"{name_key} {raw}"  # "revision 17", not "17"
        if depth > 0 or not facts:
            return name
        return f"{name} ({_facts_text(facts, depth=depth + 1, max_items=max_items)})"
    if not facts:
        return "none"
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in facts.values())
    if numbers and not any(is_size_key(k) for k in facts):
        # A count per name (pods per node, workloads hit, eviction messages): the largest first. Under a
        # size key (`breakdown_bytes`), the numbers are bytes.
        unit = key if is_size_key(key) else None
        ranked = sorted(facts.items(), key=lambda kv: (-kv[1], kv[0]))
        return _capped([f"{k}: {_text(unit or k, v, depth=depth + 1, max_items=max_items)}" for k, v in ranked],
                       max_items)
    return _facts_text(facts, depth=depth + 1, max_items=max_items)


def _facts_text(facts: Mapping[str, Any], *, depth: int, max_items: int) -> str:
    """`key: value` pairs by key; `;` between them at the top (their values may be lists), `,` below."""
    if depth > 1:
        # Deep inside a record, a collection of records is only counted: the JSON holds the rest.
        return ", ".join(f"{k}: {_count_text(v) if _nested(v) else _text(k, v, depth=depth, max_items=max_items)}"
                         for k, v in sorted(facts.items()))
    return "; ".join(f"{k}: {_text(k, v, depth=depth, max_items=max_items)}" for k, v in sorted(facts.items()))


def _nested(value: Any) -> bool:
    return isinstance(value, Mapping) or (isinstance(value, list | tuple)
                                          and any(isinstance(v, Mapping | list | tuple) for v in value))


def _count_text(value: Mapping[str, Any] | Sequence[Any]) -> str:
    return f"{len(value)} item" + ("" if len(value) == 1 else "s")


def _capped(items: Sequence[str], max_items: int) -> str:
    more = len(items) - max_items
    shown = ", ".join(items[:max_items])
    return f"{shown}, … {more} more" if more > 0 else shown


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | Mapping | list | tuple) and not value)


def _time_text(value: str) -> str | None:
    """An ISO 8601 time with its offset (`2024-07-09T09:36:40+00:00`) as a `stamp`; anything else: None."""
    if not _ISO_TIME.match(value):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp(moment) if moment.tzinfo is not None else None


def evidence_pairs(evidence: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Sorted `(key, text)` pairs: sorted so the rendering never depends on dict insertion order."""
    return [(key, format_value(key, evidence[key])) for key in sorted(evidence)]


def rollback_text(candidate: RollbackCandidate) -> str:
    size = human_bytes(candidate.size_bytes) if candidate.size_bytes is not None else "size unknown"
    health = "healthy" if candidate.healthy else "not healthy"
    return f"revision {candidate.revision}: {candidate.image} ({size}, {health})"
