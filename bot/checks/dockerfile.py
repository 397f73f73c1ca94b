"""dockerfile: when the service catalog names the service's Dockerfile, lint it and propose the fix.

The linter and fixer are `bot.dockerfile`'s: lint findings pass through unchanged, and the fixer's
unified diff (and the `.dockerignore` it proposes) ride on one `dockerfile-fix` finding, so the Slack
message and the postmortem can show them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from bot.domain import Finding, Severity
from bot.checks.context import CheckContext

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
    measure = params.measure_context and _has_sources(path)
    findings = [
        f if f.check else _with_check(f)
        for f in lint(parsed, context=path.parent, measure_context=measure)
    ]
    if params.propose_fix:
        fix = _propose_fix(text, path, measure_context=measure)
        if fix is not None:
            findings.append(fix)
    return findings


def _has_sources(path: Path) -> bool:
    """Whether the Dockerfile sits in a build context. A catalog may point at a copy kept apart from the
    sources; measuring that directory would report "the build sends 586 B" for a 1.8 GB build."""
    own = {path.name, ".dockerignore", f"{path.name}.dockerignore"}
    return any(child.name not in own for child in path.parent.iterdir())


def _with_check(finding: Finding) -> Finding:
    from dataclasses import replace

    return replace(finding, check="dockerfile")


def _propose_fix(text: str, path: Path, *, measure_context: bool) -> Finding | None:
    from bot.dockerfile.fix import fix

    result = fix(text, path=str(path), context=path.parent, measure_context=measure_context)
    if not result.changed and not result.dockerignore:
        return None
    fixed_rules = sorted({f.rule for f in result.fixed})
    what = f": fixes {', '.join(fixed_rules)}" if fixed_rules else ""
    if result.dockerignore:
        what += (", " if what else ": ") + f"and writes {result.dockerignore_path or '.dockerignore'}"
    return Finding(
        rule="dockerfile-fix",
        severity=Severity.INFO,
        title=f"Proposed fix for {path.name}{what}",
        evidence={
            "path": str(path),
            "diff": result.patch,
            "fixed": fixed_rules,
            "remaining": sorted({f.rule for f in result.remaining}),
            "notes": list(result.notes),
            "dockerignore": result.dockerignore,
            "dockerignore_path": result.dockerignore_path,
        },
        remediation="Review and commit the diff (`coroner fix` writes it).",
        check="dockerfile",
    )
