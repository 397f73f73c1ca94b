"""`coroner gate`'s three outputs: text for a terminal or a CI log, JSON, and GitHub workflow commands
(`::error file=Dockerfile,line=6::...`) that land each reason on the pull request's Dockerfile line.

Every output is redacted, as every sink is (`bot.redact`): reasons quote instructions and file names.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from bot.gate.decision import IMAGE_GROWTH, GateDecision, GateReason
from bot.images.render import INSTRUCTION_MAX
from bot.printable import clip
from bot.redact import redact, redact_json
from bot.units import human_bytes

if TYPE_CHECKING:
    from bot.dockerfile.fix import FixResult


def render_text(decision: GateDecision, *, fix: FixResult | None = None) -> str:
    against = f" against {decision.reference}" if decision.reference else ""
    measure = f" (sizes compared {decision.size_measure})" if decision.size_measure else ""
    out = [f"coroner gate: {decision.verdict.upper()} {decision.candidate}{against}{measure}"]
    for reason in decision.reasons:
        out.append(f"  {reason.code}: {reason.message}")
        out += [f"      {line}" for line in _evidence_lines(reason)]
    out += [f"  could not decide: {why}" for why in decision.undecided]
    out += [f"note: {note}" for note in decision.notes]
    out += _fix_lines(fix)
    return redact("\n".join(out)) + "\n"


def _fix_lines(fix: FixResult | None) -> list[str]:
    """The fix as `coroner fix` prints it: one patch, the .dockerignore's hunk included."""
    if fix is None or not fix.patch:
        return []
    return ["", f"Fix for {fix.path} (apply with `patch -p1` or `git apply`; coroner fix --write applies it):",
            fix.patch.rstrip("\n")]


def _evidence_lines(reason: GateReason) -> list[str]:
    lines = []
    for layer in reason.evidence.get("layers") or ():
        where = f" (Dockerfile line {layer['line']})" if layer.get("line") is not None else ""
        lines.append(f"layer {layer['index']} {human_bytes(layer['bytes'])}  {clip(layer['instruction'], INSTRUCTION_MAX, marker='')}{where}")
        if reason.code == IMAGE_GROWTH:  # a finding's message already says what it found inside
            lines += [f"    {human_bytes(p['bytes']):>9}  /{p['path']}" for p in layer.get("top_paths") or ()]
    for node in reason.evidence.get("nodes") or ():
        lines.append(f"node {node['node']}: {human_bytes(node['used_bytes'])} of {human_bytes(node['capacity_bytes'])}"
                     f" used, {node['pods']} pods pulling -> {node['used_percent_after']:g}% "
                     f"({', '.join(node['crosses'])}; {node['source']})")
    return lines


def render_json(decision: GateDecision, *, fix: FixResult | None = None) -> str:
    data = decision.to_json()
    if fix is not None:
        data["fix"] = fix.to_json()
    return json.dumps(redact_json(data), indent=2)


def render_github(decision: GateDecision, *, dockerfile: str | None, fix: FixResult | None = None) -> str:
    """One `::error` per reason, on its Dockerfile line when known; notes as `::notice`."""
    out = []
    for reason in decision.reasons:
        where = [f"file={_property(dockerfile)}"] if dockerfile else []
        if dockerfile and reason.line is not None:
            where.append(f"line={reason.line}")
        where.append(f"title={_property('coroner gate: ' + reason.code)}")
        out.append(f"::error {','.join(where)}::{_data(redact(reason.message))}")
    for why in decision.undecided:
        out.append(f"::warning title=coroner gate%3A could not decide::{_data(redact(why))}")
    for note in decision.notes:
        out.append(f"::notice title=coroner gate::{_data(redact(note))}")
    summary = f"coroner gate: {decision.verdict} {decision.candidate}"
    if decision.reference:
        summary += f" against {decision.reference}"
    if decision.size_measure:
        summary += f" (sizes compared {decision.size_measure})"
    out.append(f"::notice title=coroner gate::{_data(redact(summary))}")
    fix_lines = _fix_lines(fix)
    if fix_lines:
        # A diff line starts with " ", "+", "-" or "@": none can be read as a workflow command.
        out += ["::group::coroner gate: Dockerfile fix", *(redact(line) for line in fix_lines[1:]), "::endgroup::"]
    return "\n".join(out) + "\n"


def _data(text: str) -> str:
    """A workflow command's message: %, CR and LF escaped, as the runner unescapes them."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """A workflow command's property value: also `:` and `,`, which would end it."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")
