"""The evidence gathered at alert time besides the findings: the image autopsy of the running image
against the rollback candidate, and the Dockerfile fix. Stored with the diagnosis, so the postmortem is
drafted from what was seen during the incident, not from what the cluster looks like after it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from bot.deadline import Deadline
from bot.domain import RollbackCandidate
from bot.dockerfile.estimate import context_files, copy_destination, from_report
from bot.dockerfile.fix import fix, with_size_estimate
from bot.dockerfile.parser import parse
from bot.images.autopsy import ImageReport, autopsy
from bot.ports import CoronerError, ImageReader
from bot.postmortem.evidence import DockerfileFix, ImageSummary

log = logging.getLogger(__name__)

# The postmortem's autopsy runs in the diagnosis job, after the checks: bounded like a check, so a
# registry that trickles bytes cannot hold the job (and its lease) for ever.
AUTOPSY_SECONDS = 120.0


@dataclass(frozen=True)
class ImageEvidence:
    image: ImageSummary | None
    dockerfile_fix: DockerfileFix | None
    gap: str | None = None  # why part of it is missing, said in the draft


def copied_context_files(report: ImageReport, dockerfile_text: str | None = None) -> dict[str, int]:
    """Context path -> bytes for the layer a whole-context `COPY . <dir>` made, from its largest paths;
    the destination comes from the Dockerfile when it is known."""
    destination = None
    if dockerfile_text is not None:
        try:
            destination = copy_destination(parse(dockerfile_text))
        except CoronerError:
            destination = None
    return context_files(from_report(report), destination)


def gather(
    *, images: ImageReader, image_ref: str, previous: RollbackCandidate | None, dockerfile: Path | None
) -> ImageEvidence:
    """Best effort: an unreadable image or Dockerfile is a stated gap, never a failed diagnosis."""
    text = None
    if dockerfile is not None:
        try:
            text = dockerfile.read_text(encoding="utf-8")
        except OSError as exc:
            log.warning("cannot read the catalog's Dockerfile %s: %s", dockerfile, exc.strerror)
    try:
        report = autopsy(images, image_ref, dockerfile_text=text, against=previous.image if previous else None,
                         deadline=Deadline.after(AUTOPSY_SECONDS))
    except CoronerError as exc:
        return ImageEvidence(image=None, dockerfile_fix=_fix(text, dockerfile, None),
                             gap=f"image {image_ref} could not be read: {exc}")
    summary = ImageSummary.from_json(report.to_json(),
                                     previous_total_bytes=previous.size_bytes if previous else None)
    return ImageEvidence(image=summary, dockerfile_fix=_fix(text, dockerfile, report, previous))


def _fix(
    text: str | None, dockerfile: Path | None, report: ImageReport | None, previous: RollbackCandidate | None = None
) -> DockerfileFix | None:
    """The fix of the catalog's Dockerfile: its .dockerignore lists what the image's `COPY .` layer held,
    and the image's layers give the estimated size after it (against the rollback candidate's)."""
    if text is None or dockerfile is None:
        return None
    missing = not (dockerfile.parent / ".dockerignore").exists()
    try:
        result = fix(text, dockerignore_missing=missing,
                     context_files=copied_context_files(report, text) if report is not None else {})
        if report is not None:
            result = with_size_estimate(
                result, from_report(report), total_bytes=report.totals.size_bytes,
                baseline=f"revision {previous.revision}" if previous is not None else None,
                baseline_bytes=previous.size_bytes if previous is not None else None)
    except CoronerError as exc:
        log.warning("no Dockerfile fix for %s: %s", dockerfile, exc)
        return None
    return DockerfileFix.from_fix_result(result)
