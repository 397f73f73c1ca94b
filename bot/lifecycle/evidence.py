"""The evidence gathered at alert time besides the findings: the image autopsy of the running image
against the rollback candidate, and the Dockerfile fix. Stored with the diagnosis, so the postmortem is
drafted from what was seen during the incident, not from what the cluster looks like after it."""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass
from pathlib import Path

from bot.deadline import Deadline
from bot.domain import RollbackCandidate
from bot.dockerfile.fix import fix
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


def copied_context_files(report: ImageReport) -> dict[str, int]:
    """Context path -> bytes for the layer a whole-context `COPY . <dir>` made, from its largest paths.
    The layer's paths sit under the destination directory, so their common prefix is stripped."""
    layer = next((lay for lay in report.layers if lay.instruction.split()[:2] == ["COPY", "."]), None)
    if layer is None or not layer.top_paths:
        return {}
    paths = [p.path for p in layer.top_paths]
    prefix = posixpath.commonpath(paths) if len(paths) > 1 else posixpath.dirname(paths[0])
    return {posixpath.relpath(p.path, prefix or "."): p.bytes for p in layer.top_paths}


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
    return ImageEvidence(image=summary, dockerfile_fix=_fix(text, dockerfile, report))


def _fix(text: str | None, dockerfile: Path | None, report: ImageReport | None) -> DockerfileFix | None:
    if text is None or dockerfile is None:
        return None
    missing = not (dockerfile.parent / ".dockerignore").exists()
    try:
        result = fix(text, dockerignore_missing=missing,
                     context_files=copied_context_files(report) if report is not None else {})
    except CoronerError as exc:
        log.warning("no Dockerfile fix for %s: %s", dockerfile, exc)
        return None
    return DockerfileFix.from_fix_result(result)
