"""The image autopsy: the one call other features make (diagnosis `image` check, postmortem, demo).

    report = autopsy(reader, "registry/app:v2", against="registry/app:v1", dockerfile_text=text)
    report.layers, report.findings, report.totals, report.comparison, report.to_json()

It goes through the `ImageReader` port only, so it works the same on the Docker engine, a registry or
recorded evidence.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.deadline import NO_DEADLINE, Deadline
from bot.domain import Finding, Severity, sort_findings
from bot.images.errors import ByteBudgetExceeded
from bot.images.dockerfile_map import Mapping, map_history, reconstruct_dockerfile
from bot.units import human_bytes
from bot.images.model import FileEntry, ImageManifest, LayerRef
from bot.images.rules import CHECK, LayerInfo, Thresholds, layer_rules, no_healthcheck, runs_as_root, secret_in_history
from bot.images.secrets import redact
from bot.images.walk import LayerWalk, PathSize, WalkResult, walk_layers
from bot.logs import carry_log_context
from bot.ports import ImageReader
from bot.printable import clip

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class LayerReport:
    index: int
    size_bytes: int
    stored_bytes: int  # what the reader reports: diff size (engine) or compressed blob size (registry)
    compressed: bool
    digest: str
    created_by: str  # redacted
    instruction: str  # the Dockerfile instruction, or one reconstructed from the history
    line: int | None
    from_dockerfile: bool
    top_paths: tuple[PathSize, ...]
    hidden_bytes: int
    contents_read: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "size_bytes": self.size_bytes,
            "created_by": self.created_by,
            "instruction": self.instruction,
            "line": self.line,
            "top_paths": [p.to_json() for p in self.top_paths],
            "digest": self.digest,
            "stored_bytes": self.stored_bytes,
            "compressed": self.compressed,
            "hidden_bytes": self.hidden_bytes,
            "contents_read": self.contents_read,
        }


@dataclass(frozen=True)
class Totals:
    size_bytes: int
    reclaimable_bytes: int
    dive_efficiency: float | None
    dive_wasted_bytes: int | None
    final_bytes: int
    complete: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "size_bytes": self.size_bytes,
            "reclaimable_bytes": self.reclaimable_bytes,
            "dive_efficiency": self.dive_efficiency,
            "dive_wasted_bytes": self.dive_wasted_bytes,
            "final_bytes": self.final_bytes,
            "complete": self.complete,
        }


@dataclass(frozen=True)
class LayerDelta:
    index: int | None
    against_index: int | None
    instruction: str
    size_bytes: int
    against_size_bytes: int
    status: str  # "same" | "changed" | "added" | "removed"

    @property
    def delta_bytes(self) -> int:
        return self.size_bytes - self.against_size_bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "against_index": self.against_index,
            "instruction": self.instruction,
            "size_bytes": self.size_bytes,
            "against_size_bytes": self.against_size_bytes,
            "delta_bytes": self.delta_bytes,
            "status": self.status,
        }


@dataclass(frozen=True)
class Comparison:
    against: str
    size_bytes: int
    against_size_bytes: int
    layers: tuple[LayerDelta, ...]
    compressed: bool = False  # sizes are the registry's compressed blob sizes (both images alike)

    @property
    def growth_factor(self) -> float | None:
        return round(self.size_bytes / self.against_size_bytes, 2) if self.against_size_bytes else None

    def to_json(self) -> dict[str, Any]:
        return {
            "against": self.against,
            "size_bytes": self.size_bytes,
            "against_size_bytes": self.against_size_bytes,
            "growth_factor": self.growth_factor,
            "compressed": self.compressed,
            "layers": [d.to_json() for d in self.layers],
        }


@dataclass(frozen=True)
class ImageReport:
    ref: str
    manifest: ImageManifest
    layers: tuple[LayerReport, ...]
    findings: tuple[Finding, ...]
    totals: Totals
    comparison: Comparison | None = None
    dockerfile: str | None = None  # path of the given Dockerfile
    reconstructed_dockerfile: str | None = None  # when none was given
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "image": {
                "ref": self.ref,
                "digest": self.manifest.digest,
                "architecture": self.manifest.architecture,
                "os": self.manifest.os,
                "created": self.manifest.created.isoformat() if self.manifest.created else None,
                "user": self.manifest.config.user,
            },
            "layers": [layer.to_json() for layer in self.layers],
            "findings": [finding_json(f) for f in self.findings],
            "totals": self.totals.to_json(),
            "comparison": self.comparison.to_json() if self.comparison else None,
            "dockerfile": {
                "source": "given" if self.dockerfile else "reconstructed",
                "path": self.dockerfile,
                "reconstructed": self.reconstructed_dockerfile,
            },
            "notes": list(self.notes),
        }


def finding_json(finding: Finding) -> dict[str, Any]:
    evidence = dict(finding.evidence)
    return {
        "rule": finding.rule,
        "severity": finding.severity.value,
        "layer": evidence.get("layer"),
        "bytes": evidence.get("bytes", 0),
        "message": finding.title,
        "instruction": evidence.get("instruction"),
        "line": evidence.get("line"),
        "remediation": finding.remediation,
        "evidence": evidence,
    }


def _contents(
    reader: ImageReader, ref: str, layers: Iterable[LayerRef], notes: list[str], workers: int, deadline: Deadline
) -> Iterator[tuple[LayerRef, Iterable[FileEntry] | None]]:
    """Layer contents in order. With `workers` > 1 the next layers are fetched while the walk works on
    the current one (registry blobs download in parallel); the walk itself stays in order. Every read
    obeys `deadline`, so the pool's threads end with it."""

    def read(layer: LayerRef) -> list[FileEntry]:
        return list(reader.layer_files(ref, layer, deadline=deadline))

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        pending = [(layer, pool.submit(carry_log_context(read), layer) if pool else None) for layer in layers]
        budget_hit = False
        for layer, future in pending:
            if budget_hit:
                yield layer, None
                continue
            try:
                entries = future.result() if future is not None else read(layer)
            except ByteBudgetExceeded as exc:
                notes.append(f"contents not read from layer {layer.index} on: {exc}")
                budget_hit = True
                yield layer, None
                continue
            yield layer, entries
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _layer_size(walk: LayerWalk) -> int:
    ref = walk.ref
    if not walk.walked:
        return ref.size_bytes
    # A tar-backed reader's own size is not the file bytes (a registry's plain blob counts every 512-byte
    # header, the engine its own way): the walk's sum is the size, as dive counts it.
    if ref.partial_listing:
        return max(ref.size_bytes, walk.content_bytes)
    return walk.content_bytes


def _history_layers(manifest: ImageManifest) -> list[int | None]:
    """For each history entry, the index of the layer it made, or of the layer it sits on."""
    result: list[int | None] = []
    current: int | None = None
    next_layer = 0
    n = len(manifest.layers)
    for entry in manifest.history:
        if not entry.empty_layer and next_layer < n:
            current = next_layer
            next_layer += 1
        result.append(current)
    return result


def compare_layers(current: ImageManifest, against: ImageManifest, against_ref: str,
                   current_text: list[str], against_text: list[str]) -> Comparison:
    """Layers are matched by diff id while the two images share a base, then by instruction."""
    rows: list[LayerDelta] = []
    a_layers, b_layers = current.layers, against.layers
    shared = 0
    while shared < min(len(a_layers), len(b_layers)) and (a_layers[shared].diff_id or a_layers[shared].digest) == (
        b_layers[shared].diff_id or b_layers[shared].digest
    ):
        rows.append(LayerDelta(shared, shared, current_text[shared], a_layers[shared].size_bytes, b_layers[shared].size_bytes, "same"))
        shared += 1
    remaining = list(range(shared, len(b_layers)))
    for index in range(shared, len(a_layers)):
        match = next((j for j in remaining if against_text[j] == current_text[index]), None)
        if match is None:
            keyword = current_text[index].split(None, 1)[0]
            match = next((j for j in remaining if against_text[j].split(None, 1)[0] == keyword), None)
        if match is None:
            rows.append(LayerDelta(index, None, current_text[index], a_layers[index].size_bytes, 0, "added"))
            continue
        remaining.remove(match)
        status = "same" if a_layers[index].size_bytes == b_layers[match].size_bytes else "changed"
        rows.append(LayerDelta(index, match, current_text[index], a_layers[index].size_bytes, b_layers[match].size_bytes, status))
    for j in remaining:
        rows.append(LayerDelta(None, j, against_text[j], 0, b_layers[j].size_bytes, "removed"))
    return Comparison(
        against=against_ref,
        size_bytes=current.size_bytes,
        against_size_bytes=against.size_bytes,
        layers=tuple(rows),
        compressed=any(layer.compressed for layer in a_layers + b_layers),
    )


def _layer_texts(manifest: ImageManifest, mappings: list[Mapping]) -> list[str]:
    texts = [m.instruction for m, e in zip(mappings, manifest.history) if not e.empty_layer]
    texts += ["(no history)"] * (len(manifest.layers) - len(texts))
    return texts[: len(manifest.layers)]


def size_regression(comparison: Comparison, layers: list[LayerInfo], t: Thresholds) -> list[Finding]:
    factor = comparison.growth_factor
    delta = comparison.size_bytes - comparison.against_size_bytes
    if factor is None or factor < t.regression_factor or delta < t.regression_min_bytes:
        return []
    worst = max((d for d in comparison.layers if d.index is not None), key=lambda d: d.delta_bytes, default=None)
    index = worst.index if worst else (layers[-1].index if layers else None)
    layer = layers[index] if index is not None and index < len(layers) else None
    severity = Severity.CRITICAL if factor >= 5 else Severity.HIGH
    grew = f"; {clip(worst.instruction, 60, marker='')} grew by {human_bytes(worst.delta_bytes)}" if worst and worst.delta_bytes > 0 else ""
    evidence: dict[str, object] = {
        "layer": index,
        "bytes": delta,
        "instruction": layer.instruction if layer else None,
        "growth_factor": factor,
        "size_bytes": comparison.size_bytes,
        "against_size_bytes": comparison.against_size_bytes,
        "against": comparison.against,
    }
    if layer and layer.line is not None:
        evidence["line"] = layer.line
    return [
        Finding(
            rule="size-regression",
            severity=severity,
            title=(f"Image is {human_bytes(comparison.size_bytes)} against {human_bytes(comparison.against_size_bytes)} "
                   f"for {comparison.against} ({factor}x){grew}"),
            evidence=evidence,
            remediation="Roll back to the previous image, then fix the layer that grew (see the other findings).",
            check=CHECK,
        )
    ]


def autopsy(
    reader: ImageReader,
    ref: str,
    *,
    dockerfile_text: str | None = None,
    dockerfile_path: str | None = None,
    against: str | None = None,
    against_reader: ImageReader | None = None,
    thresholds: Thresholds | None = None,
    workers: int = 1,
    deadline: Deadline = NO_DEADLINE,
) -> ImageReport:
    """Read `ref` through `reader`, walk its layers and judge them. Raises `ImageReadError`, and
    `DeadlineExceeded` once `deadline` has passed (the reads and the walk stop then).

    `workers` > 1 reads that many layers at once; the reader must then be thread-safe (both of ours are).
    """
    t = thresholds or Thresholds()
    manifest = reader.manifest(ref, deadline=deadline)
    notes: list[str] = []
    contents = _contents(reader, ref, manifest.layers, notes, workers, deadline)
    result: WalkResult = walk_layers(contents, data_file_min=t.data_file_min_bytes, deadline=deadline)
    mappings = map_history(manifest.history, dockerfile_text, path=dockerfile_path or "Dockerfile")
    layer_mappings = [m for m, e in zip(mappings, manifest.history) if not e.empty_layer]
    layer_entries = [e for e in manifest.history if not e.empty_layer]
    if len(layer_mappings) != len(manifest.layers):
        notes.append(f"history has {len(layer_mappings)} layer entries for {len(manifest.layers)} layers")
    layers: list[LayerReport] = []
    infos: list[LayerInfo] = []
    for walk in result.layers:
        i = walk.index
        mapping = layer_mappings[i] if i < len(layer_mappings) else Mapping("(no history)", None, "", False)
        created_by = redact(layer_entries[i].created_by) if i < len(layer_entries) else ""
        size = _layer_size(walk)
        layers.append(
            LayerReport(
                index=i, size_bytes=size, stored_bytes=walk.ref.size_bytes, compressed=walk.ref.compressed,
                digest=walk.ref.digest, created_by=created_by, instruction=mapping.instruction, line=mapping.line,
                from_dockerfile=mapping.from_dockerfile, top_paths=walk.top_paths, hidden_bytes=walk.hidden_bytes,
                contents_read=walk.walked,
            )
        )
        infos.append(LayerInfo(index=i, instruction=mapping.instruction, keyword=mapping.keyword, line=mapping.line, size_bytes=size))
    findings = layer_rules(result, infos, t)
    findings += secret_in_history(manifest, _history_layers(manifest), [m.instruction for m in mappings], infos)
    findings += runs_as_root(manifest, infos)
    findings += no_healthcheck(manifest, infos)
    comparison = None
    if against is not None:
        other_reader = against_reader or reader
        other = other_reader.manifest(against, deadline=deadline)
        other_texts = _layer_texts(other, map_history(other.history, None))
        current_texts = _layer_texts(manifest, map_history(manifest.history, None))
        comparison = compare_layers(manifest, other, against, current_texts, other_texts)
        findings += size_regression(comparison, infos, t)
    totals = Totals(
        size_bytes=sum(layer.size_bytes for layer in layers),
        reclaimable_bytes=result.reclaimable_bytes,
        dive_efficiency=result.dive.efficiency if result.dive else None,
        dive_wasted_bytes=result.dive.wasted_bytes if result.dive else None,
        final_bytes=result.final_bytes,
        complete=result.complete,
    )
    return ImageReport(
        ref=ref,
        manifest=manifest,
        layers=tuple(layers),
        findings=tuple(sort_findings(findings)),
        totals=totals,
        comparison=comparison,
        dockerfile=dockerfile_path if dockerfile_text is not None else None,
        reconstructed_dockerfile=None if dockerfile_text is not None else reconstruct_dockerfile(manifest.history),
        notes=tuple(notes),
    )
