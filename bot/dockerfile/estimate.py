"""What the fixed image should weigh, from the layer evidence of the image the Dockerfile built.

The image autopsy lists each layer's instruction, size and largest paths. `estimate` attributes those
paths to what `coroner fix` removes: the build tools it took out of the final stage (by where their
packages put files), the package-manager caches it clears, and the build-context paths the new
.dockerignore excludes from a `COPY .` layer. Only listed paths count, so the figure is an upper bound
of the fixed image's size: the fix may save more than is shown, never less. It is labelled an estimate
wherever it is printed.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.dockerfile import context as ctxmod
from bot.dockerfile.parser import Dockerfile
from bot.units import human_bytes

if TYPE_CHECKING:  # the image readers are imported only by the callers that have an image
    from bot.images.autopsy import ImageReport


@dataclass(frozen=True)
class LayerEvidence:
    """One layer as the autopsy saw it: the instruction that made it, its size, its largest paths."""

    instruction: str
    size_bytes: int
    paths: tuple[tuple[str, int], ...] = ()  # (path inside the image, bytes), as listed by the autopsy


@dataclass(frozen=True)
class Removal:
    """One thing the fixed image no longer holds: `cuda-toolkit-12-1`, `.git`, `pip cache`."""

    item: str
    size_bytes: int
    rule: str  # the rule whose fix removes it
    layer: int  # index of the layer it sat in

    def to_json(self) -> dict[str, Any]:
        return {"item": self.item, "size_bytes": self.size_bytes, "rule": self.rule, "layer": self.layer}


@dataclass(frozen=True)
class SizeEstimate:
    """The image's size before the fix, the estimate after it, and what makes the difference."""

    current_bytes: int
    estimated_bytes: int
    removed: tuple[Removal, ...]
    baseline: str | None = None  # the image it is compared with, e.g. "revision 4"
    baseline_bytes: int | None = None

    @property
    def ratio_to_baseline(self) -> float | None:
        if not self.baseline_bytes:
            return None
        return self.estimated_bytes / self.baseline_bytes

    def describe(self) -> str:
        """One line: `≈ 390 MB instead of 4.2 GB (estimate), within 1.8× of revision 4's 220 MB`."""
        text = f"≈ {human_bytes(self.estimated_bytes)} instead of {human_bytes(self.current_bytes)} (estimate)"
        ratio = self.ratio_to_baseline
        if ratio is not None and self.baseline_bytes is not None:
            whose = f"{self.baseline}'s " if self.baseline else ""
            text += f", within {ratio:.1f}× of {whose}{human_bytes(self.baseline_bytes)}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "estimate": True,
            "current_bytes": self.current_bytes,
            "estimated_bytes": self.estimated_bytes,
            "removed": [r.to_json() for r in self.removed],
            "baseline": self.baseline,
            "baseline_bytes": self.baseline_bytes,
            "summary": self.describe(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SizeEstimate:
        return cls(
            current_bytes=int(data["current_bytes"]),
            estimated_bytes=int(data["estimated_bytes"]),
            removed=tuple(Removal(str(r["item"]), int(r["size_bytes"]), str(r["rule"]), int(r["layer"]))
                          for r in data.get("removed") or ()),
            baseline=data.get("baseline"),
            baseline_bytes=data.get("baseline_bytes"),
        )


# Where a build-tool package puts its files (paths inside the image, no leading slash).
_PACKAGE_PATHS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"^(cuda-toolkit|cuda-nvcc|cuda-compiler|nvidia-cuda-toolkit)"),
     ("usr/local/cuda", "opt/nvidia/nsight", "usr/lib/nvidia-cuda-toolkit", "usr/lib/cuda")),
    (re.compile(r"^(build-essential|build-base|gcc|g\+\+|cpp|gcc-.*|g\+\+-.*)$"),
     ("usr/lib/gcc/", "usr/libexec/gcc/", "usr/bin/x86_64-linux-gnu-", "usr/bin/aarch64-linux-gnu-", "usr/bin/gcc",
      "usr/bin/g++", "usr/bin/cpp", "usr/bin/c++", "usr/include/", "usr/lib/x86_64-linux-gnu/libasan",
      "usr/lib/x86_64-linux-gnu/libtsan", "usr/lib/x86_64-linux-gnu/liblsan", "usr/lib/x86_64-linux-gnu/libubsan",
      "usr/share/doc/gcc", "usr/libexec/gcc")),
    (re.compile(r"^(clang|llvm).*"), ("usr/lib/llvm-", "usr/bin/clang", "usr/lib/clang")),
    (re.compile(r"^make$"), ("usr/bin/make",)),
    (re.compile(r"^cmake$"), ("usr/bin/cmake", "usr/share/cmake")),
    (re.compile(r"^git$"), ("usr/lib/git-core/", "usr/share/git-core/", "usr/bin/git", "usr/libexec/git-core/")),
    (re.compile(r"^vim.*"), ("usr/share/vim/", "usr/bin/vim")),
    (re.compile(r".*-dev(el)?$"), ("usr/include/",)),
    (re.compile(r"^golang.*|^go$"), ("usr/local/go/", "usr/lib/go")),
)
_CACHES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("pip-cache", "pip cache", ("root/.cache/pip/",)),
    ("apt-lists-not-removed", "apt lists", ("var/lib/apt/lists/",)),
    ("package-cache", "package cache", ("root/.npm/", "var/cache/apk/", "var/cache/yum/", "var/cache/dnf/",
                                        "usr/local/share/.cache/yarn/")),
)


def context_files(layers: Sequence[LayerEvidence], destination: str | None = None) -> dict[str, int]:
    """Context path -> bytes for the layer a whole-context `COPY . <dir>` (or ADD) made, from its listed
    paths. `destination` is where the COPY put the context (`app`, from `WORKDIR /app` + `COPY . .`);
    without it, the listed paths' common directory stands in."""
    index = whole_context_layer(layers)
    if index is None or not layers[index].paths:
        return {}
    paths = [p for p, _ in layers[index].paths]
    prefix = (destination or "").strip("/")
    if not destination:
        prefix = posixpath.commonpath(paths) if len(paths) > 1 else posixpath.dirname(paths[0])
    return {posixpath.relpath(p, prefix or "."): size for p, size in layers[index].paths
            if not prefix or p == prefix or p.startswith(prefix + "/")}


def whole_context_layer(layers: Sequence[LayerEvidence]) -> int | None:
    for i, layer in enumerate(layers):
        words = _words(layer.instruction)
        sources = [w for w in words[1:-1] if not w.startswith("--")]
        if words and words[0] in ("COPY", "ADD") and any(s.rstrip("/") in (".", "", "*", "./*") for s in sources):
            return i
    return None


def estimate(
    layers: Sequence[LayerEvidence],
    *,
    total_bytes: int | None = None,
    dropped_packages: Sequence[str] = (),
    fixed_rules: Sequence[str] = (),
    dockerignore: str | None = None,
    dockerignore_rule: str = "dockerignore-missing",
    destination: str | None = None,
    baseline: str | None = None,
    baseline_bytes: int | None = None,
) -> SizeEstimate:
    """The size the fixed image should have, from the layers of the image the original Dockerfile built.

    `dropped_packages`: the build tools the fix takes out of the final stage; `fixed_rules`: the rules it
    fixed (caches); `dockerignore`: the .dockerignore the build will use (for the `COPY .` layer)."""
    current = total_bytes if total_bytes is not None else sum(layer.size_bytes for layer in layers)
    removed: list[Removal] = []
    for i, layer in enumerate(layers):
        taken: set[str] = set()
        words = set(_words(layer.instruction))
        if layer.instruction.startswith("RUN"):
            for package in dropped_packages:
                if package not in words:
                    continue
                prefixes = next((p for rx, p in _PACKAGE_PATHS if rx.match(package)), ())
                size = _claim(layer, prefixes, taken)
                if size:
                    removed.append(Removal(package, size, "build-tools-in-final-stage", i))
            for rule, item, prefixes in _CACHES:
                size = _claim(layer, prefixes, taken) if rule in fixed_rules else 0
                if size:
                    removed.append(Removal(item, size, rule, i))
    index = whole_context_layer(layers)
    if dockerignore and index is not None:
        removed += _ignored(layers, index, dockerignore, destination, dockerignore_rule)
    gone = sum(r.size_bytes for r in removed)
    return SizeEstimate(current, max(current - gone, 0), tuple(removed), baseline, baseline_bytes)


def _words(instruction: str) -> list[str]:
    """The words of an instruction as the autopsy shows it: its line breaks (a heredoc's) are escaped as
    `\\n` (`bot.images.dockerfile_map.one_line`), and separate words as much as a space does."""
    return instruction.replace("\\\\", "\0").replace("\\n", " ").replace("\0", "\\\\").split()


def _under(path: str, prefix: str) -> bool:
    """`prefix` ending in `/` is a directory: the path is it or below it (the autopsy lists directories
    without the slash). Otherwise a plain prefix: `usr/local/cuda` covers `usr/local/cuda-12.1`."""
    if prefix.endswith("/"):
        return path == prefix[:-1] or path.startswith(prefix)
    return path.startswith(prefix)


def _claim(layer: LayerEvidence, prefixes: tuple[str, ...], taken: set[str]) -> int:
    size = 0
    for path, bytes_ in layer.paths:
        if path not in taken and any(_under(path, p) for p in prefixes):
            taken.add(path)
            size += bytes_
    return size


def _ignored(
    layers: Sequence[LayerEvidence], index: int, dockerignore: str, destination: str | None, rule: str
) -> list[Removal]:
    """The `COPY .` layer's paths the .dockerignore excludes, grouped by the line that excludes them."""
    lines = [line.strip() for line in dockerignore.splitlines() if line.strip() and not line.startswith("#")]
    matcher = ctxmod.Matcher(ctxmod.parse_dockerignore(dockerignore))
    by_line: dict[str, int] = {}
    for path, size in context_files(layers, destination).items():
        if not matcher.excluded(path):
            continue
        # the first non-exception line that matches names the item (`.git`, `tests/data`)
        line = next((ln for ln in lines if not ln.startswith("!")
                     and ctxmod.Matcher(ctxmod.parse_dockerignore(ln)).excluded(path)), path)
        by_line[line] = by_line.get(line, 0) + size
    return [Removal(line, size, rule, index) for line, size in by_line.items()]


def copy_destination(dockerfile: Dockerfile) -> str | None:
    """Where the shipped stages' whole-context `COPY .` puts the context, as a path inside the image
    without the leading `/` (`app` for `WORKDIR /app` + `COPY . .`); None when unknown."""
    for stage in dockerfile.chain(dockerfile.final_stage):
        workdir = "/"
        for ins in stage.instructions:
            if ins.keyword == "WORKDIR":
                path = ins.arguments.strip().strip("\"'")
                workdir = posixpath.normpath(posixpath.join(workdir, path))
            if ins.keyword in ("COPY", "ADD") and ins.flag("from") is None and not ins.heredocs:
                words = list(ins.exec_form) if ins.exec_form is not None else ins.arguments.split()
                if len(words) > 1 and any(w.rstrip("/") in (".", "", "*", "./*") for w in words[:-1]):
                    if "$" in words[-1] or "$" in workdir:
                        return None
                    return posixpath.normpath(posixpath.join(workdir, words[-1])).strip("/")
    return None


def from_report(report: ImageReport) -> list[LayerEvidence]:
    """The autopsy's layers as evidence for `estimate`."""
    return [LayerEvidence(layer.instruction, layer.size_bytes, tuple((p.path, p.bytes) for p in layer.top_paths))
            for layer in report.layers]
