"""Image rules: neutral findings from the layer walk, the config and the history.

Every finding's evidence names the `layer` (index), the `instruction` that made it, its `line` when a
Dockerfile was given, and the `bytes` at stake. Secret values never reach a finding: names only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.domain import Finding, Severity
from bot.units import human_bytes
from bot.images import classify
from bot.images.model import ImageManifest
from bot.images.secrets import find_secrets
from bot.images.walk import Group, LayerWalk, WalkResult
from bot.printable import clip

CHECK = "image"
MiB = 1 << 20


@dataclass(frozen=True)
class Thresholds:
    fat_layer_bytes: int = 100 * MiB
    fat_layer_high_bytes: int = 500 * MiB
    data_file_min_bytes: int = 1 * MiB
    data_files_min_bytes: int = 1 * MiB
    package_cache_min_bytes: int = 512 * 1024
    toolchain_min_bytes: int = 1 * MiB
    wasted_min_bytes: int = 1 * MiB
    wasted_high_bytes: int = 100 * MiB
    dependencies_min_bytes: int = 1
    regression_factor: float = 1.5
    regression_min_bytes: int = 50 * MiB


@dataclass(frozen=True)
class LayerInfo:
    """What the rules need to name a layer: its instruction and Dockerfile line."""

    index: int
    instruction: str
    keyword: str
    line: int | None
    size_bytes: int


def _evidence(layer: LayerInfo, size: int, **extra: object) -> dict[str, object]:
    evidence: dict[str, object] = {"layer": layer.index, "bytes": size, "instruction": layer.instruction}
    if layer.line is not None:
        evidence["line"] = layer.line
    evidence.update(extra)
    return evidence


def _where(layer: LayerInfo) -> str:
    line = f", line {layer.line}" if layer.line is not None else ""
    text = clip(layer.instruction, 60)
    return f"layer {layer.index} ({text}{line})"


def _list(groups: dict[str, Group], limit: int = 3) -> str:
    ranked = sorted(groups.items(), key=lambda kv: (-kv[1].bytes, kv[0]))
    shown = ", ".join(f"{path} {human_bytes(g.bytes)}" for path, g in ranked[:limit])
    return shown + (f" and {len(ranked) - limit} more" if len(ranked) > limit else "")


def _hidden_by(groups: dict[str, Group]) -> int | None:
    later = {g.hidden_by for g in groups.values()}
    return later.pop() if len(later) == 1 else None


def _finding(rule: str, severity: Severity, title: str, evidence: dict[str, object], remediation: str) -> Finding:
    return Finding(rule=rule, severity=severity, title=title, evidence=evidence, remediation=remediation, check=CHECK)


def fat_layer(walk: LayerWalk, layer: LayerInfo, t: Thresholds) -> list[Finding]:
    if layer.size_bytes < t.fat_layer_bytes:
        return []
    severity = Severity.HIGH if layer.size_bytes >= t.fat_layer_high_bytes else Severity.MEDIUM
    inside = ", ".join(f"{p.path} {human_bytes(p.bytes)}" for p in walk.top_paths[:3])
    title = f"{_where(layer)} adds {human_bytes(layer.size_bytes)}" + (f": {inside}" if inside else "")
    return [
        _finding("fat-layer", severity, title, _evidence(layer, layer.size_bytes, top_paths=[p.path for p in walk.top_paths[:3]]),
                 "Split what this instruction brings in: keep build inputs out (.dockerignore), clean up in the same RUN, "
                 "or build in a separate stage and copy only the result.")
    ]


def _still_shipped(groups: dict[str, Group]) -> str:
    """Said of files a later layer deleted: `docker run ... ls` no longer finds them, the layer still has them."""
    later = [g.hidden_by for g in groups.values()]
    if None in later:
        return ""  # some of it is visible: the plain message is right
    layers = ", ".join(str(i) for i in sorted({i for i in later if i is not None}))
    return f" (deleted by layer {layers}, but still in this layer of the image)"


def vcs_directory(walk: LayerWalk, layer: LayerInfo, t: Thresholds) -> list[Finding]:
    groups = walk.groups.get("vcs") or {}
    if not groups:
        return []
    size = sum(g.bytes for g in groups.values())
    return [
        _finding("vcs-directory", Severity.HIGH if size >= 10 * MiB else Severity.MEDIUM,
                 f"Version-control history shipped in {_where(layer)}: {_list(groups)}{_still_shipped(groups)}",
                 _evidence(layer, size, paths=sorted(groups), hidden_by=_hidden_by(groups)),
                 "Add .git (and .hg/.svn) to .dockerignore; anyone who pulls the image gets the whole history.")
    ]


def host_dependencies(walk: LayerWalk, layer: LayerInfo, t: Thresholds) -> list[Finding]:
    groups = walk.groups.get("dependencies") or {}
    if not groups or layer.keyword not in ("COPY", "ADD"):
        return []  # installed by a RUN is the right way; copied from the build context is the host's
    size = sum(g.bytes for g in groups.values())
    if size < t.dependencies_min_bytes:
        return []
    return [
        _finding("host-dependencies", Severity.HIGH if size >= 50 * MiB else Severity.MEDIUM,
                 f"Dependencies copied from the build context in {_where(layer)}: {_list(groups)}",
                 _evidence(layer, size, paths=sorted(groups)),
                 "Add .venv/, venv/, node_modules/ and vendor/ to .dockerignore and install dependencies inside the "
                 "image (pip install --no-cache-dir / npm ci) so they match its platform.")
    ]


def data_files(walk: LayerWalk, layer: LayerInfo, t: Thresholds) -> list[Finding]:
    groups = walk.groups.get("data") or {}
    size = sum(g.bytes for g in groups.values())
    if not groups or size < t.data_files_min_bytes:
        return []
    return [
        _finding("data-files", Severity.MEDIUM if size < 100 * MiB else Severity.HIGH,
                 f"{len(groups)} data file(s), {human_bytes(size)}, in {_where(layer)}: {_list(groups)}",
                 _evidence(layer, size, paths=sorted(groups)[:20], files=len(groups)),
                 "Keep data sets, dumps and archives out of the image (.dockerignore); mount or download them at run time.")
    ]


_CACHE_FIX = {
    "var/lib/apt/lists": "rm -rf /var/lib/apt/lists/* in the same RUN as apt-get install",
    "var/cache/apt": "apt-get clean in the same RUN (and --no-install-recommends)",
    "var/cache/apk": "apk add --no-cache",
}


def package_cache_left(walk: LayerWalk, layer: LayerInfo, t: Thresholds) -> list[Finding]:
    groups = walk.groups.get("cache") or {}
    size = sum(g.bytes for g in groups.values())
    if size < t.package_cache_min_bytes:
        return []
    fixes = sorted({_CACHE_FIX.get(root, "pip install --no-cache-dir / npm cache clean --force") for root in groups})
    return [
        _finding("package-cache-left", Severity.MEDIUM,
                 f"Package manager caches left in {_where(layer)}: {_list(groups)}",
                 _evidence(layer, size, paths=sorted(groups)),
                 "Clean up in the same instruction: " + "; ".join(fixes) + ".")
    ]


def secret_file(walk: LayerWalk, layer: LayerInfo, t: Thresholds) -> list[Finding]:
    groups = walk.groups.get("secret") or {}
    findings = []
    for path, group in sorted(groups.items()):
        findings.append(
            _finding("secret-file", Severity.CRITICAL,
                     f"Secret file /{path} ({group.detail}) in {_where(layer)}{_still_shipped({path: group})}",
                     _evidence(layer, group.bytes, path=path, kind=group.detail, hidden_by=group.hidden_by),
                     "Remove it from the build context (.dockerignore) and rotate what it holds: every layer can be "
                     "extracted, even when a later layer deletes the file.")
        )
    return findings


def setuid_file(walk: LayerWalk, layer: LayerInfo, t: Thresholds) -> list[Finding]:
    """A setuid/setgid program lets any process in the container take its owner's rights, whatever USER
    says. Distributions ship a few in their own directories (su, passwd); one elsewhere, or one brought
    in from the build context, is this Dockerfile's doing."""
    groups = walk.groups.get("setuid") or {}
    findings = []
    for path, group in sorted(groups.items()):
        if group.hidden_by is not None:
            continue  # deleted later: nothing can run it
        if path.startswith(classify.SETID_SYSTEM_PREFIXES) and layer.keyword not in ("COPY", "ADD"):
            continue
        mode = int(group.detail or "0", 8)
        which = "setuid" if mode & 0o4000 else "setgid"
        findings.append(
            _finding("setuid-file", Severity.HIGH if mode & 0o4000 else Severity.MEDIUM,
                     f"{which} file /{path} (mode {group.detail}) in {_where(layer)}",
                     _evidence(layer, group.bytes, path=path, mode=group.detail),
                     "Drop the bit (chmod u-s,g-s) or the file; with it, any process in the container can take "
                     "the file owner's rights. Set allowPrivilegeEscalation: false in the pod's securityContext.")
        )
    return findings


def wasted_space(walk: LayerWalk, layer: LayerInfo, layers: Sequence[LayerInfo], t: Thresholds) -> list[Finding]:
    if walk.hidden_bytes < t.wasted_min_bytes:
        return []
    by = max(walk.hidden_by.items(), key=lambda kv: kv[1])[0] if walk.hidden_by else None
    later = f" by {_where(layers[by])}" if by is not None and by != layer.index else " within the same layer"
    return [
        _finding("wasted-space", Severity.HIGH if walk.hidden_bytes >= t.wasted_high_bytes else Severity.MEDIUM,
                 f"{human_bytes(walk.hidden_bytes)} written in {_where(layer)} are deleted or overwritten{later}: "
                 "they are still pulled and stored",
                 _evidence(layer, walk.hidden_bytes, hidden_by={str(k): v for k, v in sorted(walk.hidden_by.items())}),
                 "Delete files in the same RUN that creates them, or build in a separate stage.")
    ]


LayerRule = Callable[[LayerWalk, LayerInfo, Thresholds], list[Finding]]
LAYER_RULES: tuple[LayerRule, ...] = (
    fat_layer, vcs_directory, host_dependencies, data_files, package_cache_left, secret_file, setuid_file,
)  # fmt: skip


def build_toolchain(result: WalkResult, layers: Sequence[LayerInfo], t: Thresholds) -> list[Finding]:
    roots = result.final_groups.get("toolchain") or {}
    per_layer: dict[int, dict[str, Group]] = {}
    for root, by_layer in roots.items():
        for index, group in by_layer.items():
            per_layer.setdefault(index, {})[root] = group
    findings = []
    for index, groups in sorted(per_layer.items()):
        size = sum(g.bytes for g in groups.values())
        if size < t.toolchain_min_bytes:
            continue
        layer = layers[index]
        findings.append(
            _finding("build-toolchain", Severity.HIGH if size >= 100 * MiB else Severity.MEDIUM,
                     f"Build toolchain shipped in the final image from {_where(layer)}: {_list(groups)}",
                     _evidence(layer, size, paths=sorted(groups)),
                     "Use a multi-stage build: compile in a builder stage and COPY --from it only the artefacts.")
        )
    return findings


def secret_in_history(manifest: ImageManifest, history_layers: Sequence[int | None], history_text: Sequence[str],
                      layers: Sequence[LayerInfo]) -> list[Finding]:
    findings = []
    seen: set[str] = set()
    for position, entry in enumerate(manifest.history):
        hits = find_secrets(entry.created_by)
        if not hits:
            continue
        index = history_layers[position]
        layer = layers[index] if index is not None else None
        names = [h.name for h in hits if h.name not in seen]
        if not names:
            continue
        seen.update(names)
        instruction = history_text[position]
        where = _where(layer) if layer and layer.instruction == instruction else f"history entry {position} ({clip(instruction, 60, marker='')})"
        evidence: dict[str, object] = {"layer": index, "bytes": 0, "instruction": instruction, "history": position, "names": names}
        findings.append(
            _finding("secret-in-history", Severity.CRITICAL,
                     f"Secret value of {', '.join(names)} visible in the image history ({where}); value redacted",
                     evidence,
                     "Pass secrets with BuildKit (RUN --mount=type=secret), never as ARG/ENV, and rotate the exposed value.")
        )
    env_names = [h.name for item in manifest.config.env for h in find_secrets(item) if h.name not in seen]
    if env_names and layers:
        last = layers[-1]
        findings.append(
            _finding("secret-in-history", Severity.CRITICAL,
                     f"Secret value of {', '.join(env_names)} set in the image config (docker inspect shows it); value redacted",
                     _evidence(last, 0, names=env_names),
                     "Inject secrets at run time (Kubernetes Secret, env from a secret store), not in the image.")
        )
    return findings


def runs_as_root(manifest: ImageManifest, layers: Sequence[LayerInfo]) -> list[Finding]:
    user = (manifest.config.user or "").split(":", 1)[0]
    if user not in ("", "root", "0") or not layers:
        return []
    last = layers[-1]
    return [
        _finding("runs-as-root", Severity.MEDIUM,
                 f"The image runs as root (USER {user or 'is not set'})",
                 {"layer": last.index, "bytes": 0, "instruction": "USER " + (manifest.config.user or "(not set)"), "user": manifest.config.user},
                 "Add a non-root user and a numeric `USER 10001:10001` before the CMD (runAsNonRoot can only verify a number).")
    ]


def no_healthcheck(manifest: ImageManifest, layers: Sequence[LayerInfo]) -> list[Finding]:
    healthcheck = manifest.config.healthcheck
    if (healthcheck and healthcheck[0] != "NONE") or not layers:
        return []
    last = layers[-1]
    return [
        _finding("no-healthcheck", Severity.INFO,  # as the Dockerfile doctor's no-healthcheck: one id, one severity
                 "The image defines no HEALTHCHECK" + (" (disabled with NONE)" if healthcheck else ""),
                 {"layer": last.index, "bytes": 0, "instruction": "HEALTHCHECK (none)"},
                 "Add a HEALTHCHECK (or rely on Kubernetes liveness/readiness probes and say so).")
    ]


def layer_rules(result: WalkResult, layers: Sequence[LayerInfo], t: Thresholds) -> list[Finding]:
    findings: list[Finding] = []
    for walk, layer in zip(result.layers, layers):
        for rule in LAYER_RULES:
            findings.extend(rule(walk, layer, t))
        findings.extend(wasted_space(walk, layer, layers, t))
    findings.extend(build_toolchain(result, layers, t))
    return findings
