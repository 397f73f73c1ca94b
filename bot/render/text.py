"""The text sink: what `coroner diagnose` and `coroner demo` print. It leads with the probable cause, then
the findings in the diagnosis's order (`1. [HIGH] rule: title`), the rollback decision, the folded
timeline and the gaps. It reads `Diagnosis.cause` and `Diagnosis.rollback`; it decides nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.domain import Finding, Severity
from bot.redact import redact
from bot.render.timeline import fold
from bot.render.values import SEVERITY_LABEL, rollback_text, stamp
from bot.units import human_bytes

if TYPE_CHECKING:
    from bot.engine.diagnose import Diagnosis


def render_text(d: Diagnosis) -> str:
    t = d.target
    context = f", context {t.context}" if t.context else ""
    found = f"found by {d.resolved_via}; " if d.resolved_via else ""
    head = (f"Coroner diagnosis of {d.service}: {t.kind} {t.namespace}/{t.name}{context} "
            f"({found}playbook {d.playbook}; {d.duration_ms} ms)")
    lines = [head, "", *cause_lines(d), ""]
    counts = {s: sum(1 for f in d.findings if f.severity is s) for s in Severity}
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    lines.append(f"Findings ({summary or 'none'}):")
    advised: set[str] = set()
    for i, f in enumerate(d.findings, 1):
        lines.append(finding_line(i, f))
        # One piece of advice per rule: three full nodes need the same remedy once.
        if f.remediation and f.severity.rank <= Severity.HIGH.rank and f.rule not in advised:
            advised.add(f.rule)
            lines.append(f"      → {' '.join(f.remediation.split())}")
    if not d.findings:
        lines.append("  nothing wrong found.")
    lines += ["", *rollback_lines(d), "", "Timeline (UTC, repeats folded):"]
    lines.extend(f"  [{stamp(m.first)}] {m.line}" for m in fold(d.timeline))
    if not d.timeline:
        lines.append("  no events, revisions or condition changes recorded.")
    gaps = [r for r in d.checks if r.status != "ok"]
    if gaps:
        lines += ["", "Gaps:"]
        lines.extend(f"  {r.check}: {r.status}: {r.error}" for r in gaps)
    return redact("\n".join(lines)) + "\n"


def finding_line(number: int, f: Finding) -> str:
    """`   1. [CRITICAL] image-size-regression: Revision 5's image is 4.2 GB, …`"""
    return f"  {number:>2}. [{SEVERITY_LABEL[f.severity]}] {f.rule}: {' '.join(f.title.split())}"


def cause_lines(d: Diagnosis) -> list[str]:
    cause = d.cause
    if cause is None:
        return ["Probable cause: none established from the evidence."]
    if not cause.chain and cause.candidates:
        return ["Probable cause: the evidence does not single out one cause. Candidates:",
                *(f"  - {c}" for c in cause.candidates)]
    lines = [f"Probable cause ({cause.confidence.value} confidence): {cause.summary}"]
    lines += [f"  ruled out: {r}" for r in cause.ruled_out]
    return lines


def rollback_lines(d: Diagnosis) -> list[str]:
    decision = d.rollback
    chosen = next((c for c in d.rollback_candidates if c.revision == decision.revision), None)
    lines = ["Rollback:"]
    if decision.recommended and chosen is not None:
        window = f", live from {stamp(chosen.live_from)}" if chosen.live_from else ""
        window += f" to {stamp(chosen.live_until)}" if chosen.live_until else ""
        lines.append(f"  Recommended: revision {chosen.revision}, {chosen.image} ({_size(chosen.size_bytes)}), "
                     f"healthy then{window}.")
        lines.append(f"  Why: {decision.reason}")
        if chosen.undo_command:
            lines.append(f"  Equivalent:  {chosen.undo_command}")
        if chosen.patch:
            paths = ", ".join(f"{p['op']} {p['path']}" for p in chosen.patch)
            lines.append(f"  Patch Coroner would apply (not applied): JSON patch {paths} (see --format json).")
    elif decision.recommended:
        lines.append(f"  Recommended: revision {decision.revision}. Why: {decision.reason}")
    else:
        lines.append(f"  Not recommended: {decision.reason}.")
    lines += [f"  - {rollback_text(c)}" for c in d.rollback_candidates if c is not chosen or not decision.recommended]
    return lines


def _size(size: int | None) -> str:
    return human_bytes(size) if size is not None else "size unknown"
