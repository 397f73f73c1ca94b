"""Inputs of the postmortem besides the domain types: the image summary and the Dockerfile fix.

They are plain data so the postmortem does not depend on how the image autopsy or the Dockerfile
doctor are built: `ImageSummary.from_manifest` adapts the image readers' model, `ImageSummary.from_json`
adapts the JSON of `coroner image --format json`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.dockerfile.estimate import SizeEstimate
from bot.images.dockerfile_map import history_instruction
from bot.images.model import ImageManifest


@dataclass(frozen=True)
class PathSize:
    """One of the largest paths inside a layer (`.git`, `app/.venv`, `data/*.csv`)."""

    path: str
    size_bytes: int


@dataclass(frozen=True)
class LayerSummary:
    """One filesystem layer: its index in the image (0 = base), the instruction that made it, its size."""

    index: int
    instruction: str
    size_bytes: int
    digest: str | None = None
    top_paths: tuple[PathSize, ...] = ()


@dataclass(frozen=True)
class ImageSummary:
    """The current image and, when known, the size of the image it replaced."""

    ref: str
    layers: tuple[LayerSummary, ...]
    total_bytes: int | None = None  # None = the sum of the layers
    previous_ref: str | None = None
    previous_total_bytes: int | None = None

    @property
    def size_bytes(self) -> int:
        return self.total_bytes if self.total_bytes is not None else sum(layer.size_bytes for layer in self.layers)

    def to_json(self) -> dict[str, Any]:
        """The subset of the `coroner image --format json` shape that `from_json` reads back."""
        data: dict[str, Any] = {
            "image": {"ref": self.ref},
            "layers": [
                {
                    "index": la.index,
                    "instruction": la.instruction,
                    "size_bytes": la.size_bytes,
                    "digest": la.digest,
                    "top_paths": [{"path": p.path, "bytes": p.size_bytes} for p in la.top_paths],
                }
                for la in self.layers
            ],
            "totals": {"size_bytes": self.size_bytes},
            "comparison": None,
        }
        if self.previous_ref is not None or self.previous_total_bytes is not None:
            data["comparison"] = {"against": self.previous_ref, "against_size_bytes": self.previous_total_bytes}
        return data

    @classmethod
    def from_manifest(
        cls,
        manifest: ImageManifest,
        *,
        top_paths: Mapping[int, Sequence[PathSize]] | None = None,
        previous: ImageManifest | None = None,
    ) -> ImageSummary:
        """Pair the non-empty history entries with the layers, in order (OCI config semantics)."""
        instructions = [history_instruction(h.created_by)[1] for h in manifest.history if not h.empty_layer]
        layers = tuple(
            LayerSummary(
                index=layer.index,
                instruction=instructions[i] if i < len(instructions) else "(no history)",
                size_bytes=layer.size_bytes,
                digest=layer.digest,
                top_paths=tuple((top_paths or {}).get(layer.index, ())),
            )
            for i, layer in enumerate(manifest.layers)
        )
        return cls(
            ref=manifest.ref,
            layers=layers,
            total_bytes=manifest.size_bytes,
            previous_ref=previous.ref if previous else None,
            previous_total_bytes=previous.size_bytes if previous else None,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, previous_total_bytes: int | None = None) -> ImageSummary:
        """Read the `coroner image --format json` shape: `image.ref`, `totals.size_bytes`,
        `comparison.against`/`against_size_bytes` (with `--against`), and `layers[]` with `index`,
        `size_bytes`, `created_by`, `instruction` and `top_paths` (items `{path, bytes}`,
        `{path, size_bytes}` or `[path, size]`). `previous_total_bytes` is used without a comparison."""
        raw_layers = list(data.get("layers", []))
        # `docker history` and the incident report give a layer's uncompressed diff size (the autopsy's
        # `stored_bytes` when not compressed); `size_bytes` there is what its files add up to.
        stored = bool(raw_layers) and all(
            raw.get("stored_bytes") is not None and not raw.get("compressed") for raw in raw_layers
        )
        layers = []
        for raw in raw_layers:
            instruction = raw.get("instruction") or history_instruction(raw.get("created_by") or "")[1]
            layers.append(
                LayerSummary(
                    index=int(raw["index"]),
                    instruction=str(instruction),
                    size_bytes=int((raw["stored_bytes"] if stored else raw.get("size_bytes")) or 0),
                    digest=raw.get("digest"),
                    top_paths=tuple(_path_size(p) for p in raw.get("top_paths") or ()),
                )
            )
        totals = data.get("totals") or {}
        image = data.get("image")
        ref = image.get("ref") if isinstance(image, Mapping) else (image or data.get("ref"))
        comparison = data.get("comparison") or {}
        previous_bytes = comparison.get("against_size_bytes")
        return cls(
            ref=str(ref or "?"),
            layers=tuple(layers),
            total_bytes=None if stored else totals.get("size_bytes"),
            previous_ref=comparison.get("against"),
            previous_total_bytes=previous_bytes if previous_bytes is not None else previous_total_bytes,
        )


def _path_size(raw: Any) -> PathSize:
    if isinstance(raw, Mapping):
        return PathSize(path=str(raw["path"]), size_bytes=int(raw.get("size_bytes", raw.get("bytes", 0))))
    path, size = raw
    return PathSize(path=str(path), size_bytes=int(size))


@dataclass(frozen=True)
class DockerfileFix:
    """The Dockerfile doctor's proposal: a unified diff and one note per change."""

    diff: str
    notes: tuple[str, ...] = ()
    path: str = "Dockerfile"
    rules: tuple[str, ...] = ()  # rule ids the fix addresses
    dockerignore: str | None = None  # a proposed .dockerignore, when the build context lacks one
    dockerignore_path: str = ".dockerignore"
    # The estimated size of the image the fix builds, from the layer evidence (None without an image).
    size_estimate: SizeEstimate | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "diff": self.diff,
            "notes": list(self.notes),
            "path": self.path,
            "rules": list(self.rules),
            "dockerignore": self.dockerignore,
            "dockerignore_path": self.dockerignore_path,
            "size_estimate": self.size_estimate.to_json() if self.size_estimate is not None else None,
        }

    @classmethod
    def from_fix_result(cls, result: Any) -> DockerfileFix:
        """Adapt the Dockerfile doctor's `FixResult` (`patch`, `notes`, `path`, `fixed` findings,
        `dockerignore`, `size_estimate`) without importing it: the postmortem depends on data, not on the
        fixer. `diff` is the whole patch, the .dockerignore's hunk included, so `git apply` takes it all."""
        return cls(
            diff=getattr(result, "patch", None) or result.diff,
            notes=tuple(result.notes),
            path=result.path,
            rules=tuple(sorted({f.rule for f in result.fixed})),
            dockerignore=getattr(result, "dockerignore", None),
            dockerignore_path=getattr(result, "dockerignore_path", None) or ".dockerignore",
            size_estimate=getattr(result, "size_estimate", None),
        )
