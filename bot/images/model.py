"""What an image reader returns: the image's config, history and layers, and the files inside a layer.

Readers (Docker engine, OCI registry, a scenario's recorded evidence) all produce these types, so the
layer walk and the image rules never see an SDK object or an HTTP response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class HistoryEntry:
    """One `config.history[]` entry. Empty layers (ENV, CMD, ...) have `empty_layer=True` and no layer."""

    created_by: str
    created: datetime | None = None
    empty_layer: bool = False
    comment: str | None = None


@dataclass(frozen=True)
class LayerRef:
    """A filesystem layer. `size_bytes` is the uncompressed diff size when known (engine), else the
    compressed blob size from the manifest (registry); `compressed` says which."""

    index: int
    digest: str  # blob digest (registry) or diff id (engine)
    size_bytes: int
    compressed: bool = False
    diff_id: str | None = None
    # The reader lists only some of the layer's files (recorded evidence names the largest): the walk's
    # sum is then short of the layer, and `size_bytes` is the size to report. Tar-backed readers list all.
    partial_listing: bool = False


@dataclass(frozen=True)
class ImageConfig:
    user: str | None = None
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()  # "KEY=value"; values are secrets until proven otherwise: never print them
    working_dir: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    healthcheck: tuple[str, ...] | None = None  # ("NONE",) when disabled
    exposed_ports: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageManifest:
    """Everything about an image that does not need the layer contents."""

    ref: str
    digest: str | None
    config: ImageConfig
    history: tuple[HistoryEntry, ...]
    layers: tuple[LayerRef, ...]
    architecture: str | None = None
    os: str | None = None
    created: datetime | None = None
    # "os/arch" of every image a multi-arch index offers, when the ref named an index (the reader chose one
    # of them for its own platform; a node of another listed platform pulls that one instead). Empty: one image.
    platforms: tuple[str, ...] = ()

    @property
    def size_bytes(self) -> int:
        return sum(layer.size_bytes for layer in self.layers)


@dataclass(frozen=True)
class FileEntry:
    """One tar member of a layer, as stored: whiteouts (`.wh.name`, `.wh..wh..opq`) are NOT interpreted
    here; the layer walk applies the OCI semantics."""

    path: str  # normalised, no leading "./" or "/", and `printable`
    size_bytes: int
    kind: str = "file"  # "file" | "dir" | "symlink" | "hardlink" | "other"
    mode: int | None = None
    uid: int | None = None
    link_target: str | None = None
    # For a file whose contents decide whether it is a secret (`.npmrc`): whether it holds a literal
    # token. None when the contents were not read.
    token: bool | None = None
