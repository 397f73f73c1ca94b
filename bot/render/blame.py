"""Whether the diagnosis blames the image, read from its own decisions (`Diagnosis.cause`,
`Diagnosis.rollback`), never from a finding alone: every sink asks this one question the same way, so the
Slack thread, the PagerDuty note and the draft agree on when the Dockerfile's findings are the incident's
cause and when they are hygiene.
"""

from __future__ import annotations

from bot.domain import ProbableCause, RollbackDecision

# Findings that explain why the image was big: the image is the cause when the chain rests on one of them.
IMAGE_SIZE_RULES = (
    "fat-layer",
    "vcs-directory",
    "host-dependencies",
    "data-files",
    "package-cache-left",
    "build-toolchain",
    "wasted-space",
    "size-regression",
    "image-size-regression",
)

# The check whose findings are the Dockerfile's lint: hygiene unless the image is the cause.
DOCKERFILE_CHECK = "dockerfile"


def image_blamed(cause: ProbableCause | None, rollback: RollbackDecision | None) -> bool:
    """The cause's supporting rules or the rollback's implicating rules include an image-size finding."""
    blamed = set(cause.supporting if cause is not None else ()) | set(rollback.implicated_by if rollback else ())
    return bool(blamed & set(IMAGE_SIZE_RULES))
