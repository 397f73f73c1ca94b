"""image: the image autopsy (layers, waste, the Dockerfile behind them) on the current revision's image,
through the `ImageReader` port (an OCI registry in production, never the docker socket).

The autopsy's own findings are passed through unchanged; their rule ids belong to `bot.images`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.checks import facts
from bot.domain import Finding, Severity
from bot.checks.context import CheckContext, NotAssessed

RULES: tuple[str, ...] = ()  # the autopsy's rules; the engine adds nothing of its own here


class ImageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    compare_previous: bool = Field(default=True, description="Diff against the previous revision's image.")


def run(ctx: CheckContext, params: ImageParams) -> list[Finding]:
    image = facts.current_image(ctx)
    if not image:
        return []
    if ctx.images is None:
        return [
            Finding(
                rule="check-failed",
                severity=Severity.INFO,
                title=f"image: no image reader configured, {image} was not examined",
                evidence={"check": "image", "image": image, "error": "no ImageReader"},
            )
        ]
    # Imported here so that checks which never reach an image do not pay for the autopsy's imports. A
    # broken import is a bug that the runner reports as this check's failure, not a quiet INFO line.
    from bot.images.autopsy import autopsy

    against = _previous_image(ctx, image) if params.compare_previous else None
    dockerfile_text = dockerfile_path = None
    if ctx.entry is not None and ctx.entry.dockerfile is not None and ctx.entry.dockerfile.is_file():
        dockerfile_text = ctx.entry.dockerfile.read_text(encoding="utf-8", errors="replace")
        dockerfile_path = str(ctx.entry.dockerfile)
    # An unreadable image raises ImageReadError: the runner reports it as this check's gap. The
    # deadline makes the reads and the walk stop when the check's time is up, rather than run on.
    report = autopsy(
        ctx.images, image, dockerfile_text=dockerfile_text, dockerfile_path=dockerfile_path, against=against,
        deadline=ctx.deadline,
    )
    return list(report.findings)


def _previous_image(ctx: CheckContext, image: str) -> str | None:
    from bot.checks.rollout import revisions

    try:
        revs = revisions(ctx)
    except NotAssessed:
        return None  # no revision history for this kind: the image is examined alone
    earlier = [r for r in revs if not r.current and r.image and r.image != image]
    return earlier[-1].image if earlier else None
