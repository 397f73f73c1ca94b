"""One fact, one finding: findings that state the same fact from two sources become one finding that carries
both pieces of evidence (issue 9).

- `image-size-regression` (rollout: node sizes) absorbs `size-regression` (the autopsy: layers);
- `runs-as-root` and `no-healthcheck` from the Dockerfile and from the image become one each;
- `shell-form-entrypoint` absorbs `no-init` about the same instruction (a shell as PID 1 is both).

The kept finding has the worse severity of the two; the absorbed ones ride in `evidence["also"]` as
`{rule, check, title, evidence}`, so no evidence is lost and every sink sees one line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bot.domain import Finding

# (kept rule, absorbed rule). Same rule twice: the same fact from two checks.
SAME_FACT = (
    ("image-size-regression", "size-regression"),
    ("runs-as-root", "runs-as-root"),
    ("no-healthcheck", "no-healthcheck"),
    ("shell-form-entrypoint", "no-init"),
)


def merge_same_facts(findings: Sequence[Finding]) -> list[Finding]:
    out = list(findings)
    for kept_rule, absorbed_rule in SAME_FACT:
        out = _merge(out, kept_rule, absorbed_rule)
    return out


def _merge(findings: list[Finding], kept_rule: str, absorbed_rule: str) -> list[Finding]:
    kept = next((f for f in findings if f.rule == kept_rule), None)
    if kept is None:
        return findings
    absorbed = [f for f in findings if f is not kept and f.rule == absorbed_rule and _same_fact(kept, f)]
    if not absorbed:
        return findings
    worst = min((kept, *absorbed), key=lambda f: f.severity.rank).severity
    also = list(kept.evidence.get("also") or ()) + [
        {"rule": f.rule, "check": f.check, "title": f.title, "evidence": dict(f.evidence)} for f in absorbed
    ]
    merged = dataclasses.replace(
        kept,
        severity=worst,
        evidence={**kept.evidence, "also": also},
        remediation=kept.remediation or next((f.remediation for f in absorbed if f.remediation), None),
    )
    gone = {id(f) for f in absorbed}
    return [merged if f is kept else f for f in findings if id(f) not in gone]


def _same_fact(kept: Finding, other: Finding) -> bool:
    if kept.rule == other.rule:
        # The same rule twice is the same fact only when two sources say it (Dockerfile and image).
        return kept.check != other.check
    if kept.rule == "shell-form-entrypoint":
        # no-init also fires for a script as PID 1 in exec form: a different instruction, a different fact.
        a, b = kept.evidence.get("line"), other.evidence.get("line")
        return a is None or b is None or a == b
    return True
