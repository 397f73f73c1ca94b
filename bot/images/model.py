"""What an image reader returns: the image's config, history and layers, and the files inside a layer.

Readers (Docker engine, OCI registry, a scenario's recorded evidence) all produce these types, so the
layer walk and the image rules never see an SDK object or an HTTP response.
"""

from __future__ import annotations

import re
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


# A file name is any bytes but "/" and NUL. Control characters (a newline ends a Slack line or a text
# report's line), bidirectional overrides (they reorder what a reader sees) and bytes that are not UTF-8
# (read with surrogateescape) are shown escaped, as `ls -b` shows them; so is the backslash itself, so
# that two different names never print the same.
_UNPRINTABLE = re.compile(r"[\\\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\udc80-\udcff]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(name: str) -> str:
    """`name` with the characters that would garble a report escaped (see `_UNPRINTABLE`)."""
    return _UNPRINTABLE.sub(_escape, name) if _UNPRINTABLE.search(name) else name
