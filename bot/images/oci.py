"""The documents a registry sends (image index, image manifest, image config), checked against the OCI
image spec's shapes before anything is taken from them. Every digest is validated here, so none that
reaches a URL can be a path; a wrong type is a `MalformedDocument` naming the field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.images.config import MalformedDocument, expect, history_entries, image_config
from bot.images.model import HistoryEntry, ImageConfig
from bot.images.reference import check_digest
from bot.images.timeparse import parse_time

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


@dataclass(frozen=True)
class Descriptor:
    digest: str
    size: int
    media_type: str | None = None
    os: str | None = None  # of an index entry's platform
    architecture: str | None = None


@dataclass(frozen=True)
class Manifest:
    config: Descriptor
    layers: tuple[Descriptor, ...]


@dataclass(frozen=True)
class Config:
    diff_ids: tuple[str, ...]
    history: tuple[HistoryEntry, ...]
    config: ImageConfig
    architecture: str | None
    os: str | None
    created: datetime | None


def _digest(value: object, field: str) -> str:
    try:
        return check_digest(value, field)
    except ValueError as exc:
        raise MalformedDocument(str(exc)) from None


def _descriptor(value: object, field: str) -> Descriptor:
    fields = expect(value, dict, field)
    if fields is None:
        raise MalformedDocument(f"{field} is missing")
    size = expect(fields.get("size"), int, f"{field}.size") or 0
    if size < 0:
        raise MalformedDocument(f"{field}.size is negative")
    platform = expect(fields.get("platform"), dict, f"{field}.platform") or {}
    return Descriptor(
        digest=_digest(fields.get("digest"), f"{field}.digest"),
        size=size,
        media_type=expect(fields.get("mediaType"), str, f"{field}.mediaType"),
        os=expect(platform.get("os"), str, f"{field}.platform.os"),
        architecture=expect(platform.get("architecture"), str, f"{field}.platform.architecture"),
    )


def _object(document: object, what: str) -> dict[str, Any]:
    fields = expect(document, dict, what)
    if fields is None:
        raise MalformedDocument(f"{what} is null")
    return fields


def is_index(document: object, header_type: str) -> bool:
    """By the document's own mediaType, else the Content-Type, else the shape (old lists omit both)."""
    if not isinstance(document, dict):
        return False
    declared = document.get("mediaType")
    return (declared if isinstance(declared, str) else header_type) in INDEX_TYPES or "manifests" in document


def parse_index(document: object) -> tuple[Descriptor, ...]:
    fields = _object(document, "the index")
    entries = expect(fields.get("manifests"), list, "manifests") or []
    return tuple(_descriptor(entry, f"manifests[{i}]") for i, entry in enumerate(entries))


def parse_manifest(document: object) -> Manifest:
    """Raises `MalformedDocument`; a manifest of another schema (v1) says so."""
    fields = _object(document, "the manifest")
    if "config" not in fields or "layers" not in fields:
        raise MalformedDocument(f"not an image manifest (schema {fields.get('schemaVersion')!r:.20}, no config and layers)")
    layers = expect(fields.get("layers"), list, "layers") or []
    return Manifest(
        config=_descriptor(fields.get("config"), "config"),
        layers=tuple(_descriptor(layer, f"layers[{i}]") for i, layer in enumerate(layers)),
    )


def parse_config(document: object) -> Config:
    fields = _object(document, "the config")
    rootfs = expect(fields.get("rootfs"), dict, "rootfs") or {}
    diff_ids = expect(rootfs.get("diff_ids"), list, "rootfs.diff_ids") or []
    return Config(
        diff_ids=tuple(_digest(d, f"rootfs.diff_ids[{i}]") for i, d in enumerate(diff_ids)),
        history=history_entries(fields.get("history")),
        config=image_config(fields.get("config")),
        architecture=expect(fields.get("architecture"), str, "architecture"),
        os=expect(fields.get("os"), str, "os"),
        created=parse_time(fields.get("created")),
    )
