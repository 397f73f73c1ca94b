"""Fallbacks for what the diagnosis decides (issue 9) until it stores its own `cause` and `rollback`:
`fallback_cause` builds a `ProbableCause` and `fallback_rollback` a `RollbackDecision` from the stored
findings and candidates. Each is called in one place (`bot.lifecycle.stored`), so swapping in the
diagnosis's own object is one line there.

`probable_cause` is the one line on the incident's root message:
"image grew 19.5× in revision 5: layer 1 cuda-toolkit 1.9 GB; roll back to revision 4".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bot.domain import (
    CauseLink,
    Confidence,
    Finding,
    ProbableCause,
    RollbackCandidate,
    RollbackDecision,
    Severity,
)
from bot.units import human_bytes

if TYPE_CHECKING:  # the engine imports this module; the postmortem package imports the engine's types
    from bot.postmortem.evidence import ImageSummary

_NOT_CAUSES = ("rollback-candidate", "check-failed", "check-forbidden")


def probable_cause(
    findings: Sequence[Finding], *, image: ImageSummary | None, recommended: RollbackCandidate | None
) -> str | None:
    parts: list[str] = []
    growth = next((f for f in findings if f.rule == "image-size-regression"), None)
    if growth is not None:
        ev = growth.evidence
        head = f"image grew {_ratio(ev):.1f}× in revision {ev.get('current_revision', '?')}"
        culprit = _largest_layer(image)
        parts.append(f"{head}: {culprit}" if culprit else head)
    else:
        worst = sorted((f for f in findings if f.severity.rank <= Severity.HIGH.rank and f.rule not in _NOT_CAUSES),
                       key=lambda f: f.severity.rank)
        if worst:
            parts.append(" ".join(worst[0].title.split()))
    rollback = next((f for f in findings if f.rule == "rollback-candidate"), None)
    if recommended is not None and rollback is not None and rollback.severity.rank <= Severity.HIGH.rank:
        parts.append(f"roll back to revision {recommended.revision}")
    return "; ".join(parts) if parts else None


def _ratio(ev: Mapping[str, Any]) -> float:
    # The same ratio the finding's title shows: from the sizes, not from the rounded `ratio`.
    current, previous = ev.get("current_size_bytes"), ev.get("previous_size_bytes")
    if isinstance(current, int) and isinstance(previous, int) and previous:
        return current / previous
    return float(ev.get("ratio", 0))


def _largest_layer(image: ImageSummary | None) -> str | None:
    if image is None or not image.layers:
        return None
    layer = max(image.layers, key=lambda la: la.size_bytes)
    if layer.top_paths:
        # The path that weighs most in the layer says more than the instruction's first words.
        top = max(layer.top_paths, key=lambda p: p.size_bytes)
        return f"layer {layer.index} {top.path.rstrip('/').rsplit('/', 1)[-1] or top.path} {human_bytes(top.size_bytes)}"
    words = layer.instruction.split()
    return f"layer {layer.index} {' '.join(words[:3]) if words else '?'} {human_bytes(layer.size_bytes)}"


# --- the causal chain, from the rules' evidence ---------------------------------------------------------

def _nodes(group: Sequence[Finding]) -> int:
    return len({str(f.evidence.get("node")) for f in group if f.evidence.get("node")}) or len(group)


def _growth(group: Sequence[Finding]) -> str:
    ev = group[0].evidence
    size = ev.get("current_size_bytes")
    image = f"image {human_bytes(size)}, " if isinstance(size, int | float) else ""
    return (f"revision {ev.get('current_revision', '?')} ({image}{_ratio(ev):.1f}× revision "
            f"{ev.get('previous_revision', '?')})")


def _disk(group: Sequence[Finding]) -> str:
    fs = sorted({str(f.evidence.get("filesystem") or "disk") for f in group})
    return f"{_nodes(group)} node(s)' {'/'.join(fs)} full"


def _pressure(group: Sequence[Finding]) -> str:
    conditions = sorted({str(f.evidence.get("condition")) for f in group if f.evidence.get("condition")})
    return f"{'/'.join(conditions) or 'pressure'} on {_nodes(group)} node(s)"


def _not_ready(group: Sequence[Finding]) -> str:
    return f"{_nodes(group)} node(s) NotReady"


def _pods(group: Sequence[Finding]) -> str:
    ev = group[0].evidence
    if isinstance(ev.get("count"), int) and isinstance(ev.get("pods_total"), int):
        return f"{ev['count']} of {ev['pods_total']} pods not ready"
    return " ".join(group[0].title.split())


def _evicted(group: Sequence[Finding]) -> str:
    count = group[0].evidence.get("count")
    return f"{count} pods evicted" if isinstance(count, int) else " ".join(group[0].title.split())


def _pulls(group: Sequence[Finding]) -> str:
    ev = group[0].evidence
    if isinstance(ev.get("pods"), int) and isinstance(ev.get("bytes"), int):
        return f"{ev['pods']} new pods pulling {human_bytes(ev['bytes'])}"
    return " ".join(group[0].title.split())


def _hpa(group: Sequence[Finding]) -> str:
    ev = group[0].evidence
    if ev.get("at_max") and ev.get("max_replicas") is not None:
        return f"HPA at its maximum of {ev['max_replicas']} replicas"
    return " ".join(group[0].title.split())


def _registry(group: Sequence[Finding]) -> str:
    ev = group[0].evidence
    errors = ev.get("errors")
    if isinstance(errors, Mapping) and errors:
        return "registry " + ", ".join(f"{n}× {code}" for code, n in sorted(errors.items()))
    return " ".join(group[0].title.split())


# (role, rule, how the link reads). The order is the story's: trigger -> mechanism -> symptoms, then what
# amplified it. A rule that did not fire is simply not a link.
_CHAIN: tuple[tuple[str, str, Callable[[Sequence[Finding]], str]], ...] = (
    ("trigger", "image-size-regression", _growth),
    ("mechanism", "node-disk-high", _disk),
    ("mechanism", "node-pressure", _pressure),
    ("symptom", "node-not-ready", _not_ready),
    ("symptom", "evictions", _evicted),
    ("symptom", "pods-not-ready", _pods),
    ("amplifier", "hpa-scaling", _hpa),
    ("amplifier", "pull-pressure", _pulls),
    ("amplifier", "registry-errors", _registry),
)
_TRIGGERS_WITHOUT_FORMAT = ("crashloop", "oom-killed", "config-error", "image-pull-failing")


def fallback_cause(findings: Sequence[Finding]) -> ProbableCause | None:
    """The chain from the findings that fired, in `_CHAIN`'s order; None without a finding worth one."""
    by_rule: dict[str, list[Finding]] = {}
    for f in findings:
        by_rule.setdefault(f.rule, []).append(f)
    links = [CauseLink(role, text(by_rule[rule]), (rule,)) for role, rule, text in _CHAIN if rule in by_rule]
    if not any(link.role == "trigger" for link in links):
        trigger = next((by_rule[r][0] for r in _TRIGGERS_WITHOUT_FORMAT if r in by_rule), None)
        if trigger is not None:
            links.insert(0, CauseLink("trigger", " ".join(trigger.title.split()), (trigger.rule,)))
    if not any(link.role == "trigger" for link in links):
        serious = [f for f in findings if f.severity.rank <= Severity.HIGH.rank and f.rule not in _NOT_CAUSES]
        if not serious:
            return None
        candidates = tuple(dict.fromkeys(" ".join(f.title.split()) for f in serious[:3]))
        return ProbableCause(summary="the evidence does not single out one cause", chain=(), supporting=(),
                             ruled_out=(), confidence=Confidence.LOW, candidates=candidates)
    has_mechanism = any(link.role == "mechanism" for link in links)
    return ProbableCause(
        summary=" → ".join(link.text for link in links),
        chain=tuple(links),
        supporting=tuple(rule for link in links for rule in link.rules),
        ruled_out=(),
        confidence=Confidence.HIGH if has_mechanism else Confidence.MEDIUM,
    )


def fallback_rollback(candidates: Sequence[RollbackCandidate], findings: Sequence[Finding]) -> RollbackDecision:
    """The candidate the rollout check marked recommended, with the `rollback-candidate` finding's words."""
    recommended = next((c for c in candidates if c.recommended), None)
    if recommended is None:
        if not candidates:
            return RollbackDecision(False, None, "no earlier revision to roll back to")
        return RollbackDecision(False, None, "no earlier revision was healthy")
    finding = next((f for f in findings if f.rule == "rollback-candidate"), None)
    reason = " ".join(finding.title.split()) if finding is not None else f"revision {recommended.revision} was healthy"
    return RollbackDecision(True, recommended.revision, reason, implicated_by=("rollback-candidate",))
