"""The scenario's images as an OCI registry (the distribution API, `/v2/`), so `coroner diagnose` against
the sim reads them through `RegistryImageReader`, as in production.

Each image becomes real content: one tar per layer (gzip'd when the image says `layer_compression: gzip`),
holding the files the scenario lists (regular files of their declared sizes, directories, links) and,
when the layer's declared size is larger than its listed files, small unlisted files (`sim-unlisted-*`)
in the directory the listed files share, making up the difference. The config blob carries the layers'
real diff ids (sha256 of the tar) and the manifest the blobs' real digests and sizes. Scenario-declared digests are the in-process evidence's (`ScenarioImageReader`); a
registry can only serve digests of what it serves.

Layers are plain tars by default (`application/vnd.oci.image.layer.v1.tar`, which registries may serve
and `RegistryImageReader` reads), so the manifest's sizes are the image's real ones (plus tar headers).
An image of gigabytes is better gzip'd: its blobs shrink about 200 times (the contents repeat), and the
reader inflates the pattern at memory speed instead of receiving gigabytes through a socket; its
registry sizes are then far below a real image's compressed ones.

Nothing as large as a layer is ever held in memory. A layer is a list of pieces: literal bytes (tar
headers, short runs) and runs of zero bytes, sent from one shared mebibyte of zeros. Gzip'd, each piece is
deflated with a full flush at its end, so a mebibyte of zeros always compresses to the same ~1 KiB block
and a run is sent as that block repeated. Digests are computed once per layer content and process (the
sha256 of a 4 GiB layer takes seconds), when an image is first asked for.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import json
import posixpath
import re
import struct
import tarfile
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.images.model import FileEntry
from bot.images.reference import is_digest, parse_reference
from bot.sim.model import ImageEvidence, Scenario

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {"none": "application/vnd.oci.image.layer.v1.tar", "gzip": "application/vnd.oci.image.layer.v1.tar+gzip"}

# File contents repeat a 258-byte pattern: deflate codes each further 258 bytes as one match at distance
# 258, which zlib inflates about 30 times faster than runs of zeros (a match at distance 1 copies byte by
# byte from the byte just written). A block is a whole number of periods, so every block is the same.
_PERIOD = 258
_PATTERN = hashlib.sha256(b"coroner-sim").digest() * 8 + b"\x00\x00"  # 8 * 32 + 2 = 258 bytes
_BLOCK = _PERIOD * 4064  # just under 1 MiB
_FILL = _PATTERN * (_BLOCK // _PERIOD)
_LITERAL = 64 << 10  # shorter fills are deflated with the headers around them
_UNLISTED_DIR = "usr/lib"  # where a layer that lists no file keeps its bytes
_UNLISTED_FILE = 256 << 10
_TAR_END = bytes(1024)  # two zero records, as Go's archive/tar ends an archive


def _deflate(data: bytes) -> bytes:
    """Raw deflate of `data`, ended by a full flush: byte-aligned, no history carried past it, so the
    output can be placed anywhere in a stream of such segments."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)


_FILL_DEFLATED = _deflate(_FILL)
_FINAL_BLOCK = zlib.compressobj(6, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # an empty last block


@functools.cache
def _crc_fill_block() -> tuple[int, tuple[int, ...]]:
    """crc32(c, block) is affine in c: L(c) ^ crc32(0, block), L linear. Its constant and the 32 columns of
    L, so the gzip trailer of gigabytes of fill needs no pass over them."""
    constant = zlib.crc32(_FILL)
    return constant, tuple(zlib.crc32(_FILL, 1 << bit) ^ constant for bit in range(32))


def _crc_after_fill_blocks(crc: int, blocks: int) -> int:
    constant, columns = _crc_fill_block()
    for _ in range(blocks):
        register, out, bit = crc, constant, 0
        while register:
            if register & 1:
                out ^= columns[bit]
            register >>= 1
            bit += 1
        crc = out
    return crc


@dataclass(frozen=True)
class _Repeat:
    block: bytes
    times: int


Piece = bytes | int  # literal bytes, or that many bytes of file contents (the pattern from its start)
Part = bytes | _Repeat


def _tar_pieces(files: Iterable[FileEntry], mtime: float) -> Iterator[Piece]:
    """The uncompressed tar: a header per member (PAX when a field needs it, as Go's archive/tar), the
    member's contents, zeros padding them to a 512-byte record, the end-of-archive records."""
    for entry in files:
        info = tarfile.TarInfo(entry.path)
        info.mtime = int(mtime)
        info.uid = info.gid = entry.uid or 0
        info.uname = info.gname = "root" if not entry.uid else ""
        info.mode = entry.mode if entry.mode is not None else (0o755 if entry.kind == "dir" else 0o644)
        if entry.kind == "dir":
            info.type = tarfile.DIRTYPE
        elif entry.kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, entry.link_target or ""
        elif entry.kind == "hardlink":
            info.type, info.linkname = tarfile.LNKTYPE, entry.link_target or ""
        elif entry.kind == "other":
            info.type = tarfile.FIFOTYPE
        else:
            info.size = entry.size_bytes
        yield info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")
        if info.size:
            yield info.size
            if info.size % tarfile.BLOCKSIZE:
                yield bytes(tarfile.BLOCKSIZE - info.size % tarfile.BLOCKSIZE)
    yield _TAR_END


def _with_unlisted(files: tuple[FileEntry, ...], size: int) -> tuple[FileEntry, ...]:
    """The listed files, and unlisted ones making up a declared layer size the list does not reach: small
    files in the directory the listed files share (usr/lib when none is listed), so the layer's weight
    shows where its listed files are, as it would in the real layer, and no made-up file looks big."""
    missing = size - sum(f.size_bytes for f in files if f.kind == "file")
    if missing <= 0:
        return files
    listed = [posixpath.dirname(f.path) for f in files if f.kind == "file"]
    parent = (posixpath.commonpath(listed) if listed else "") or _UNLISTED_DIR
    present = {f.path for f in files}
    extra = [FileEntry(path=directory, size_bytes=0, kind="dir", mode=0o755)
             for directory in ("/".join(parent.split("/")[:depth]) for depth in range(1, parent.count("/") + 2))
             if directory not in present]
    for n in range(-(-missing // _UNLISTED_FILE)):
        chunk = min(_UNLISTED_FILE, missing - n * _UNLISTED_FILE)
        extra.append(FileEntry(path=f"{parent}/sim-unlisted-{n:06d}", size_bytes=chunk))
    return (*files, *extra)


@dataclass(frozen=True)
class LayerBlob:
    """One gzip'd tar layer: its parts, and the digests of what they make."""

    parts: tuple[Part, ...]
    size: int  # bytes of the gzip blob
    digest: str  # sha256 of the gzip blob
    diff_id: str  # sha256 of the tar
    tar_size: int
    media_type: str

    def chunks(self) -> Iterator[bytes]:
        return _chunks(self.parts)


def _chunks(parts: Iterable[Part]) -> Iterator[bytes]:
    for part in parts:
        if isinstance(part, _Repeat):
            # Small (deflated) blocks go out a mebibyte's worth per write; plain ones one by one.
            per_write = max(1, _BLOCK // len(part.block))
            batch = part.block * per_write
            full, rest = divmod(part.times, per_write)
            for _ in range(full):
                yield batch
            if rest:
                yield part.block * rest
        else:
            yield part


def _gzip_header(mtime: int) -> bytes:
    return b"\x1f\x8b\x08\x00" + struct.pack("<I", mtime) + b"\x00\xff"  # no flags, no name, OS unknown


@functools.lru_cache(maxsize=256)
def build_layer(files: tuple[FileEntry, ...], mtime: float, compression: str = "none") -> LayerBlob:
    """The layer blob of `files`: the tar itself (`none`), or the tar deflated piece by piece (`gzip`);
    one pass hashes the tar (diff id), a second the blob (digest, the same as the diff id when plain)."""
    gzip = compression == "gzip"
    tar_hash, crc, tar_size = hashlib.sha256(), 0, 0
    parts: list[Part] = [_gzip_header(0)] if gzip else []
    literal = bytearray()

    def flush_literal() -> None:
        if literal:
            parts.append(_deflate(bytes(literal)) if gzip else bytes(literal))
            literal.clear()

    for piece in _tar_pieces(files, mtime):
        if isinstance(piece, int):
            blocks, rest = divmod(piece, _BLOCK)
            for _ in range(blocks):
                tar_hash.update(_FILL)
            if gzip:
                crc = _crc_after_fill_blocks(crc, blocks)
            tar_size += blocks * _BLOCK
            if blocks:
                flush_literal()
                parts.append(_Repeat(_FILL_DEFLATED if gzip else _FILL, blocks))
            piece = _FILL[:rest]  # the pattern goes on in phase: a block is whole periods
        tar_hash.update(piece)
        crc = zlib.crc32(piece, crc) if gzip else 0
        tar_size += len(piece)
        literal += piece
        if len(literal) >= _LITERAL:
            flush_literal()
    flush_literal()
    diff_id = "sha256:" + tar_hash.hexdigest()
    if not gzip:
        return LayerBlob(tuple(parts), tar_size, diff_id, diff_id, tar_size, LAYER_TYPES["none"])
    parts.append(_FINAL_BLOCK + struct.pack("<II", crc, tar_size & 0xFFFFFFFF))
    blob_hash, size = hashlib.sha256(), 0
    for chunk in _chunks(parts):
        blob_hash.update(chunk)
        size += len(chunk)
    return LayerBlob(tuple(parts), size, "sha256:" + blob_hash.hexdigest(), diff_id, tar_size, LAYER_TYPES["gzip"])


def _ts(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


@dataclass(frozen=True)
class ServedImage:
    """What the registry serves for one image: the manifest and config documents, and the layers."""

    manifest: bytes
    digest: str
    config: bytes
    config_digest: str
    layers: tuple[LayerBlob, ...]


def _config_document(evidence: ImageEvidence, diff_ids: list[str]) -> dict[str, Any]:
    manifest = evidence.manifest
    config = manifest.config
    inner: dict[str, Any] = {}
    if config.user:
        inner["User"] = config.user
    if config.exposed_ports:
        inner["ExposedPorts"] = {port: {} for port in config.exposed_ports}
    if config.env:
        inner["Env"] = list(config.env)
    if config.entrypoint is not None:
        inner["Entrypoint"] = list(config.entrypoint)
    if config.cmd is not None:
        inner["Cmd"] = list(config.cmd)
    if config.working_dir:
        inner["WorkingDir"] = config.working_dir
    if config.labels:
        inner["Labels"] = dict(config.labels)
    if config.healthcheck is not None:
        inner["Healthcheck"] = {"Test": list(config.healthcheck)}
    history = []
    for entry in manifest.history:
        item: dict[str, Any] = {}
        if entry.created is not None:
            item["created"] = _ts(entry.created)
        item["created_by"] = entry.created_by
        if entry.comment:
            item["comment"] = entry.comment
        if entry.empty_layer:
            item["empty_layer"] = True
        history.append(item)
    document: dict[str, Any] = {"architecture": manifest.architecture or "amd64", "os": manifest.os or "linux"}
    if manifest.created is not None:
        document["created"] = _ts(manifest.created)
    document.update({"config": inner, "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history})
    return document


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def serve_image(evidence: ImageEvidence) -> ServedImage:
    manifest = evidence.manifest
    mtime = manifest.created.timestamp() if manifest.created else 0.0
    # hashlib and zlib release the GIL on large buffers: the layers of a big image hash on every core.
    with concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="sim-registry") as pool:
        layers = tuple(pool.map(
            lambda layer: build_layer(_with_unlisted(evidence.layer_files.get(layer.digest, ()), layer.size_bytes),
                                      mtime, evidence.layer_compression),
            manifest.layers))
    config = _canonical(_config_document(evidence, [layer.diff_id for layer in layers]))
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    document = {
        "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size} for layer in layers],
    }
    body = _canonical(document)
    return ServedImage(body, "sha256:" + hashlib.sha256(body).hexdigest(), config, config_digest, layers)


@dataclass(frozen=True)
class RegistryAnswer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: Iterable[bytes]


_ROUTE = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>manifests|blobs|tags)/(?P<reference>[^/]+)$")


def _error(status: int, code: str, message: str, detail: Any = None) -> RegistryAnswer:
    error: dict[str, Any] = {"code": code, "message": message}
    if detail is not None:
        error["detail"] = detail
    body = _canonical({"errors": [error]})
    return RegistryAnswer(status, (("Content-Type", "application/json"), ("Content-Length", str(len(body)))), [body])


class SimRegistry:
    """Answers the distribution API for a scenario's images. Repositories are the images' paths (the
    registry host is whatever mirror points here); tags are their tags."""

    def __init__(self, scenario: Scenario) -> None:
        self._evidence: dict[tuple[str, str], ImageEvidence] = {}
        self.registries: set[str] = set()
        for ref, evidence in scenario.images.items():
            parsed = parse_reference(ref)
            self.registries.add(parsed.registry)
            self._evidence[(parsed.repository, parsed.reference)] = evidence
        self._served: dict[tuple[str, str], ServedImage] = {}
        self._lock = threading.Lock()

    def _image(self, repository: str, tag: str) -> ServedImage | None:
        key = (repository, tag)
        evidence = self._evidence.get(key)
        if evidence is None:
            return None
        with self._lock:  # the first request builds it; concurrent ones wait rather than build twice
            if key not in self._served:
                self._served[key] = serve_image(evidence)
            return self._served[key]

    def _images_of(self, repository: str) -> Iterator[ServedImage]:
        """The repository's images, those already served first: a client knows a digest from a manifest
        it fetched, so the others are built only for a digest learnt elsewhere (an earlier run)."""
        tags = sorted((tag for (repo, tag) in self._evidence if repo == repository),
                      key=lambda tag: (repository, tag) not in self._served)
        for tag in tags:
            image = self._image(repository, tag)
            if image is not None:
                yield image

    def handle(self, method: str, path: str) -> RegistryAnswer:
        if method not in ("GET", "HEAD"):
            return _error(405, "UNSUPPORTED", "The operation is unsupported.")
        if path in ("/v2", "/v2/"):
            return RegistryAnswer(200, (("Content-Type", "application/json"), ("Content-Length", "2")), [b"{}"])
        match = _ROUTE.match(path)
        if match is None:
            return _error(404, "NOT_FOUND", "page not found")
        name, kind, reference = match.group("name"), match.group("kind"), match.group("reference")
        if not any(repo == name for repo, _ in self._evidence):
            return _error(404, "NAME_UNKNOWN", "repository name not known to registry", {"name": name})
        if kind == "tags":
            if reference != "list":
                return _error(404, "NOT_FOUND", "page not found")
            body = _canonical({"name": name, "tags": sorted(t for r, t in self._evidence if r == name)})
            return RegistryAnswer(200, (("Content-Type", "application/json"), ("Content-Length", str(len(body)))),
                                  [body])
        if kind == "manifests":
            return self._manifest(name, reference)
        if not is_digest(reference):
            return _error(400, "DIGEST_INVALID", "provided digest did not match uploaded content")
        return self._blob(name, reference)

    def _manifest(self, name: str, reference: str) -> RegistryAnswer:
        if is_digest(reference):
            image = next((i for i in self._images_of(name) if i.digest == reference), None)
        else:
            image = self._image(name, reference)
        if image is None:
            return _error(404, "MANIFEST_UNKNOWN", "manifest unknown", {"Tag" if not is_digest(reference)
                                                                        else "Digest": reference})
        return RegistryAnswer(200, (("Content-Type", MANIFEST_TYPE), ("Content-Length", str(len(image.manifest))),
                                    ("Docker-Content-Digest", image.digest), ("Etag", f'"{image.digest}"')),
                              [image.manifest])

    def _blob(self, name: str, digest: str) -> RegistryAnswer:
        for image in self._images_of(name):
            if image.config_digest == digest:
                return RegistryAnswer(200, (("Content-Type", "application/octet-stream"),
                                            ("Content-Length", str(len(image.config))),
                                            ("Docker-Content-Digest", digest)), [image.config])
            layer = next((layer for layer in image.layers if layer.digest == digest), None)
            if layer is not None:
                return RegistryAnswer(200, (("Content-Type", "application/octet-stream"),
                                            ("Content-Length", str(layer.size)), ("Docker-Content-Digest", digest)),
                                      layer.chunks())
        return _error(404, "BLOB_UNKNOWN", "blob unknown to registry", digest)
