"""A loaded scenario: full Kubernetes API objects (plain JSON dicts), kubelet summaries, image evidence.

`load_scenario("registry-meltdown")` reads a shipped scenario from the `bot.sim.scenarios` package;
`load_scenario("path/to/file.yaml")` reads any file. Errors name the file and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.images.model import FileEntry, ImageManifest
from bot.ports import CoronerError
from bot.sim.schema import IncidentSpec, ScenarioFile
from bot.yamlfile import load_yaml


class ScenarioError(CoronerError):
    """A scenario file that cannot be found, parsed or validated. The message names file and field."""


@dataclass(frozen=True)
class ImageEvidence:
    """What the scenario recorded about one image: what `docker inspect`/`history` and a layer walk saw."""

    ref: str
    manifest: ImageManifest
    layer_files: Mapping[str, tuple[FileEntry, ...]]  # layer digest -> tar members, in tar order
    dockerfile: str | None = None
    dockerignore: str | None = None
    layer_compression: str = "none"  # how the sim's registry serves the layers: "none" (plain tar) or "gzip"


@dataclass(frozen=True)
class Forbidden:
    verb: str
    resource: str  # "nodes", "nodes/proxy", "events", "deployments", ...
    namespace: str | None = None  # None: everywhere


@dataclass
class Scenario:
    """Everything the sim serves. Objects are the API's JSON (dicts) with kind and apiVersion set."""

    name: str
    description: str
    now: datetime
    server_version: str = "v1.29.3"
    resource_version: str = "1"
    latency_ms: int = 0
    user: str = "system:serviceaccount:coroner:coroner"
    forbidden: tuple[Forbidden, ...] = ()
    incident: IncidentSpec | None = None
    nodes: list[dict[str, Any]] = field(default_factory=list)
    namespaces: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    replicasets: list[dict[str, Any]] = field(default_factory=list)
    hpas: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    cronjobs: list[dict[str, Any]] = field(default_factory=list)
    daemonsets: list[dict[str, Any]] = field(default_factory=list)
    statefulsets: list[dict[str, Any]] = field(default_factory=list)
    priorityclasses: list[dict[str, Any]] = field(default_factory=list)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # node name -> Summary JSON
    unavailable_summaries: frozenset[str] = frozenset()  # nodes whose kubelet does not answer
    images: dict[str, ImageEvidence] = field(default_factory=dict)
    source: Path | None = None

    def image(self, ref: str) -> ImageEvidence | None:
        """By the ref pods use, or by digest (`repo@sha256:…` as in a pod's imageID, or the bare digest)."""
        if ref in self.images:
            return self.images[ref]
        digest = ref.rpartition("@")[2]
        if digest.startswith("sha256:"):
            for evidence in self.images.values():
                if evidence.manifest.digest == digest:
                    return evidence
        return None

    def dockerfile_for(self, ref: str) -> str | None:
        """The Dockerfile text that built `ref`, when the scenario recorded it."""
        evidence = self.image(ref)
        return evidence.dockerfile if evidence else None

    def dockerignore_for(self, ref: str) -> str | None:
        evidence = self.image(ref)
        return evidence.dockerignore if evidence else None

    @property
    def dockerfiles(self) -> dict[str, str]:
        return {ref: ev.dockerfile for ref, ev in self.images.items() if ev.dockerfile is not None}

    def is_forbidden(self, verb: str, resource: str, namespace: str | None) -> bool:
        return any(
            f.verb == verb and f.resource == resource and (f.namespace is None or f.namespace == namespace)
            for f in self.forbidden
        )


SHIPPED_PACKAGE = "bot.sim.scenarios"


def shipped_scenarios() -> list[str]:
    """Names of the scenarios shipped in the package."""
    root = resources.files(SHIPPED_PACKAGE)
    return sorted(p.name.removesuffix(".yaml") for p in root.iterdir() if p.name.endswith(".yaml"))


def _resolve(name_or_path: str | Path) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise ScenarioError(f"scenario file {candidate} does not exist")
        return candidate
    shipped = Path(str(resources.files(SHIPPED_PACKAGE))) / f"{name_or_path}.yaml"
    if not shipped.is_file():
        raise ScenarioError(
            f"unknown scenario {str(name_or_path)!r}: not a file, and not one of {', '.join(shipped_scenarios())}"
        )
    return shipped


def _read_yaml(path: Path) -> dict[str, Any]:
    data = load_yaml(path, error=ScenarioError)
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping at the top level, got {type(data).__name__}")
    return data


def _read_with_parents(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The file's mapping, laid over the scenario it `extends` (top-level keys replace the parent's)."""
    if path.resolve() in seen:
        raise ScenarioError(f"{path}: `extends` loops back to itself")
    data = _read_yaml(path)
    parent_name = data.get("extends")
    if parent_name is None:
        return data
    if not isinstance(parent_name, str):
        raise ScenarioError(f"{path}: extends: must be a scenario name or a file path")
    parent_path = Path(parent_name)
    if not parent_path.is_absolute() and (path.parent / parent_name).is_file():
        parent_path = path.parent / parent_name
    else:
        parent_path = _resolve(parent_name)
    merged = _read_with_parents(parent_path, (*seen, path.resolve()))
    merged.update({k: v for k, v in data.items() if k != "extends"})
    return merged


def _format_validation(path: Path, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:8]:
        location = ".".join(str(part) for part in error["loc"]) or "(top level)"
        problems.append(f"{location}: {error['msg']}")
    more = f" (and {exc.error_count() - 8} more)" if exc.error_count() > 8 else ""
    return f"{path}: invalid scenario: " + "; ".join(problems) + more


def parse_scenario(data: Mapping[str, Any], *, source: Path | None = None) -> Scenario:
    """Validate a scenario mapping and expand its shorthand."""
    from bot.sim.expand import expand  # the expander imports this module's types

    where = source or Path("<scenario>")
    try:
        spec = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_validation(where, exc)) from None
    try:
        scenario = expand(spec)
    except ValueError as exc:
        raise ScenarioError(f"{where}: {exc}") from exc
    scenario.source = source
    return scenario


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by name (`registry-meltdown`), or a YAML file by path."""
    path = _resolve(name_or_path)
    return parse_scenario(_read_with_parents(path), source=path)
