"""`ImageReader` over a scenario's recorded image evidence, so the image autopsy runs for real on the
scenario's data (demo, tests) without a registry or a Docker engine."""

from __future__ import annotations

from collections.abc import Iterator

from bot.deadline import NO_DEADLINE, Deadline
from bot.images.model import FileEntry, ImageManifest, LayerRef
from bot.ports import ImageNotFound, ImageReadError
from bot.sim.model import ImageEvidence, Scenario


class ScenarioImageReader:
    """Serves `manifest()` and `layer_files()` from `scenario.images`. Unknown refs raise `ImageReadError`."""

    def __init__(self, scenario: Scenario) -> None:
        self._scenario = scenario

    def _evidence(self, ref: str) -> ImageEvidence:
        evidence = self._scenario.image(ref)
        if evidence is None:
            known = ", ".join(sorted(self._scenario.images)) or "none"
            raise ImageNotFound(f"image {ref} is not recorded in scenario {self._scenario.name} (known: {known})")
        return evidence

    def manifest(self, ref: str, *, deadline: Deadline = NO_DEADLINE) -> ImageManifest:
        return self._evidence(ref).manifest

    def layer_files(self, ref: str, layer: LayerRef, *, deadline: Deadline = NO_DEADLINE) -> Iterator[FileEntry]:
        evidence = self._evidence(ref)
        files = evidence.layer_files.get(layer.digest)
        if files is None:
            raise ImageReadError(f"image {ref} has no layer {layer.digest}")
        return iter(files)

    def dockerfile(self, ref: str) -> str | None:
        """The Dockerfile that built `ref`, when the scenario recorded it."""
        return self._evidence(ref).dockerfile
