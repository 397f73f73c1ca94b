"""The Markdown sink: a `Diagnosis` as Markdown, for a ticket or a PR (`coroner diagnose --format markdown`).

Same content and order as the text sink (probable cause, numbered findings, the rollback decision, the
folded timeline), with every untrusted string escaped (`bot.postmortem.markdown`) and credentials redacted.
The postmortem draft is the long form of the same evidence and uses the same order and folding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.domain import Severity
from bot.postmortem.markdown import code, fenced, inline
from bot.redact import redact
from bot.render.text import cause_lines, rollback_lines
from bot.render.timeline import fold
from bot.render.values import SEVERITY_LABEL, stamp

if TYPE_CHECKING:
    from bot.engine.diagnose import Diagnosis


def render_markdown(d: Diagnosis) -> str:
    t = d.target
    where = f"{t.kind} {code(f'{t.namespace}/{t.name}')}" + (f" · context {code(t.context)}" if t.context else "")
    counts = ", ".join(f"{n} {s.value}" for s in Severity if (n := sum(1 for f in d.findings if f.severity is s)))
    facts = f"{where} · playbook {code(d.playbook)} · {d.duration_ms} ms · {counts or 'no findings'}"
    lines = [f"## Diagnosis: {inline(d.service)}", "", facts, ""]
    cause = cause_lines(d)
    lines += [f"**{inline(cause[0])}**", *(f"- {inline(line.strip().removeprefix('- '))}" for line in cause[1:]), ""]
    lines += ["### Findings", ""]
    advised: set[str] = set()
    for i, f in enumerate(d.findings, 1):
        lines.append(f"{i}. **{SEVERITY_LABEL[f.severity]}** {code(f.rule)}: {inline(f.title)}")
        if f.remediation and f.severity.rank <= Severity.HIGH.rank and f.rule not in advised:
            advised.add(f.rule)
            lines.append(f"   - {inline(f.remediation)}")
    if not d.findings:
        lines.append("Nothing wrong found.")
    rollback = rollback_lines(d)
    lines += ["", "### Rollback", "", *(f"- {inline(line.strip().removeprefix('- '))}" for line in rollback[1:])]
    chosen = next((c for c in d.rollback_candidates if d.rollback.recommended and c.revision == d.rollback.revision),
                  None)
    if chosen is not None and chosen.undo_command:
        lines += ["", fenced(chosen.undo_command, "sh")]
    lines += ["", "### Timeline (UTC, repeats folded)", ""]
    lines += [f"- [{stamp(m.first)}] {inline(m.line)}" for m in fold(d.timeline)] or ["No timeline entries."]
    return redact("\n".join(lines)).rstrip("\n") + "\n"
