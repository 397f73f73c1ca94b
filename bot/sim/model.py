"""What the sim serves, as loaded: full Kubernetes API objects (plain JSON dicts), kubelet summaries and
image evidence. `bot.sim.scenario` loads it from YAML through `bot.sim.expand`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.images.model import FileEntry, ImageManifest
from bot.sim.schema import IncidentSpec


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
    controllerrevisions: list[dict[str, Any]] = field(default_factory=list)
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
