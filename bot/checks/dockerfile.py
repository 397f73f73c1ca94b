"""dockerfile: when the service catalog names the service's Dockerfile, lint it and propose the fix.

The linter and fixer are `bot.dockerfile`'s: their findings pass through unchanged, and the fixer's
unified diff rides on one `dockerfile-fix` finding so the Slack message and the postmortem can show it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.domain import Finding, Severity
from bot.engine.context import CheckContext

RULES: tuple[str, ...] = ("dockerfile-fix",)  # plus the Dockerfile doctor's own rules, passed through


class DockerfileParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    propose_fix: bool = Field(default=True, description="Attach the fixer's unified diff.")
    measure_context: bool = Field(
        default=True, description="Walk the build context next to the Dockerfile (.dockerignore gaps, sizes)."
    )


def run(ctx: CheckContext, params: DockerfileParams) -> list[Finding]:
    path = ctx.entry.dockerfile if ctx.entry else None
    if path is None:
        return []
    if not path.is_file():
        return [
            Finding(
                rule="check-failed",
                severity=Severity.LOW,
                title=f"dockerfile: the catalog names {path}, which does not exist",
                evidence={"check": "dockerfile", "path": str(path), "error": "not found"},
            )
        ]
    from bot.dockerfile.parser import parse
    from bot.dockerfile.rules import lint

    text = path.read_text(encoding="utf-8", errors="replace")
    # A Dockerfile that does not parse raises DockerfileParseError (a CoronerError): the runner reports it.
    parsed = parse(text, path=str(path))
    findings = [
        f if f.check else _with_check(f)
        for f in lint(parsed, context=path.parent, measure_context=params.measure_context)
    ]
    if params.propose_fix:
        fix = _propose_fix(text, str(path))
        if fix is not None:
            findings.append(fix)
    return findings


def _with_check(finding: Finding) -> Finding:
    from dataclasses import replace

    return replace(finding, check="dockerfile")


def _propose_fix(text: str, path: str) -> Finding | None:
    try:
        from bot.dockerfile.fix import fix
    except ImportError:  # the fixer ships separately from the linter
        return None
    result = fix(text, path=path)
    diff = getattr(result, "diff", None)
    if not diff:
        return None
    applied = list(getattr(result, "applied", ()) or ())
    return Finding(
        rule="dockerfile-fix",
        severity=Severity.INFO,
        title=f"Proposed fix for {path}" + (f": {len(applied)} changes" if applied else ""),
        evidence={"path": path, "diff": diff, "applied": [str(a) for a in applied]},
        remediation="Review and commit the diff; `coroner fix` writes it.",
    )
