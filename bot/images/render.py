"""The terminal rendering of an `ImageReport`: what an on-call reads at 3 AM.

The few layers that matter (biggest first, with what is inside), the totals next to dive's, then the
findings with their fix. The autopsy redacts what it reads; the renderings redact again, as every
sink does (`bot.redact`), so a credential that a new field carries cannot slip through.
"""

from __future__ import annotations

from typing import Any

from bot.images.autopsy import ImageReport
from bot.printable import clip
from bot.redact import redact, redact_json
from bot.units import human_bytes

SHOWN_LAYERS = 5
SHOWN_FINDINGS = 12
INSTRUCTION_MAX = 70  # an instruction on a report line


def render_text(report: ImageReport) -> str:
    out: list[str] = []
    totals = report.totals
    head = f"{report.ref}: {human_bytes(totals.size_bytes)} in {len(report.layers)} layers"
    if report.comparison and report.comparison.growth_factor:
        c = report.comparison
        if c.compressed:
            head += (f"; compressed {human_bytes(c.size_bytes)} against {human_bytes(c.against_size_bytes)} "
                     f"for {c.against}: {c.growth_factor}x")
        else:
            head += f": {c.growth_factor}x {c.against} ({human_bytes(c.against_size_bytes)})"
    out.append(head)
    reclaim = f"reclaimable {human_bytes(totals.reclaimable_bytes)}"
    if totals.dive_efficiency is not None:
        reclaim += f"; dive: efficiency {totals.dive_efficiency * 100:.4f} %, wasted {human_bytes(totals.dive_wasted_bytes or 0)}"
    if not totals.complete:
        reclaim += " (partial: some layer contents were not read)"
    out.append(reclaim)
    out.append("")
    big = sorted(report.layers, key=lambda layer: -layer.size_bytes)[:SHOWN_LAYERS]
    out.append("Largest layers:")
    for layer in big:
        if layer.size_bytes == 0:
            continue
        line = f"  (Dockerfile line {layer.line})" if layer.line is not None else ""
        out.append(f"  #{layer.index:<2} {human_bytes(layer.size_bytes):>9}  {clip(layer.instruction, INSTRUCTION_MAX)}{line}")
        for path in layer.top_paths[:4]:
            out.append(f"        {human_bytes(path.bytes):>9}  /{path.path}")
    out.append("")
    if report.comparison:
        grew = sorted((d for d in report.comparison.layers if d.delta_bytes > 0), key=lambda d: -d.delta_bytes)[:3]
        if grew:
            out.append(f"Grew since {report.comparison.against}:")
            for delta in grew:
                where = f"#{delta.index}" if delta.index is not None else "-"
                out.append(f"  {where:<3} +{human_bytes(delta.delta_bytes):>9}  {clip(delta.instruction, INSTRUCTION_MAX, marker='')}  ({delta.status})")
            out.append("")
    if report.findings:
        out.append("Findings:")
        for finding in report.findings[:SHOWN_FINDINGS]:
            out.append(f"  [{finding.severity.value.upper()}] {finding.rule}: {finding.title}")
            if finding.remediation:
                out.append(f"      fix: {finding.remediation}")
        if len(report.findings) > SHOWN_FINDINGS:
            out.append(f"  ... and {len(report.findings) - SHOWN_FINDINGS} more (--format json for all)")
    else:
        out.append("No findings.")
    if report.reconstructed_dockerfile is not None:
        out.append("")
        out.append("Instructions are RECONSTRUCTED from the history (no --dockerfile given).")
    for note in report.notes:
        out.append(f"note: {note}")
    return redact("\n".join(out)) + "\n"


def render_json(report: ImageReport) -> dict[str, Any]:
    """`coroner image --format json`: `ImageReport.to_json()` with every string redacted."""
    return redact_json(report.to_json())
