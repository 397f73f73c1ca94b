"""The one-line probable cause shown on the incident's root message, decided once from the diagnosis:
"image grew 19.5× in revision 5: layer 1 cuda-toolkit 1.9 GB; roll back to revision 4"."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain import Finding, RollbackCandidate, Severity
from bot.postmortem.evidence import ImageSummary
from bot.units import human_bytes


def probable_cause(
    findings: Sequence[Finding], *, image: ImageSummary | None, recommended: RollbackCandidate | None
) -> str | None:
    parts: list[str] = []
    growth = next((f for f in findings if f.rule == "image-size-regression"), None)
    if growth is not None:
        ev = growth.evidence
        current, previous = ev.get("current_size_bytes"), ev.get("previous_size_bytes")
        # The same ratio the finding's title shows: from the sizes, not from the rounded `ratio`.
        ratio = current / previous if isinstance(current, int) and isinstance(previous, int) and previous else \
            float(ev.get("ratio", 0))
        head = f"image grew {ratio:.1f}× in revision {ev.get('current_revision', '?')}"
        culprit = _largest_layer(image)
        parts.append(f"{head}: {culprit}" if culprit else head)
    else:
        worst = sorted((f for f in findings if f.severity.rank <= Severity.HIGH.rank and f.rule not in
                        ("rollback-candidate", "check-failed", "check-forbidden")), key=lambda f: f.severity.rank)
        if worst:
            parts.append(" ".join(worst[0].title.split()))
    rollback = next((f for f in findings if f.rule == "rollback-candidate"), None)
    if recommended is not None and rollback is not None and rollback.severity.rank <= Severity.HIGH.rank:
        parts.append(f"roll back to revision {recommended.revision}")
    return "; ".join(parts) if parts else None


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
