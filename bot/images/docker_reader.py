"""`ImageReader` over the Docker engine (docker SDK): attrs and history from the API, layer contents
from one streamed `image.save()`.

The save tar is read once, in `r|` mode, and never written to disk. Its layout changed in Docker 25
(pre-25: `<id>/layer.tar` and `<id>.json`; 25+: OCI `blobs/sha256/<hex>`), and its members come in
no useful order, so layers are recognised by content (a tar header, or JSON), indexed by path, and
resolved at the end through `manifest.json`, which both layouts carry. Only file headers are kept.
"""

from __future__ import annotations

import io
import json
import os
import logging
import posixpath
import tarfile
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import requests.exceptions

from bot.deadline import NO_DEADLINE, Deadline, paced
from bot.images import overlay
from bot.images.blobcheck import StreamDigest
from bot.images.config import MalformedDocument, history_entries, image_config
from bot.images.reference import is_digest
from bot.images.model import FileEntry, HistoryEntry, ImageManifest, LayerRef
from bot.images.tarstream import (
    GZIP_MAGIC,
    TAR_BUFSIZE,
    ChunkStream,
    PrefixedStream,
    LayerError,
    iter_layer_blob,
    iter_members,
)
from bot.images.timeparse import parse_time
from bot.ports import ImageNotFound, ImageReadError

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 16 << 20
# Instructions that never change the filesystem, as the legacy builder records them.
_METADATA = ("ENV", "CMD", "LABEL", "ARG", "EXPOSE", "ENTRYPOINT", "USER", "HEALTHCHECK", "VOLUME",
             "STOPSIGNAL", "SHELL", "ONBUILD", "MAINTAINER")  # fmt: skip


def _read_head(body: io.RawIOBase, size: int) -> bytes:
    head = bytearray()
    while len(head) < size:
        chunk = body.read(size - len(head))
        if not chunk:
            break
        head += chunk
    return bytes(head)


def _looks_like_tar(head: bytes) -> bool:
    return head[257:262] == b"ustar" or (len(head) == 512 and not any(head)) or head.startswith(GZIP_MAGIC)


def _check_diff_id(index: int, diff_id: object, digest: StreamDigest, ref: str) -> None:
    """The engine's export against the config's `rootfs.diff_ids` (sha256 of the uncompressed tar, the only
    algorithm Docker writes): a layer damaged in the engine's store lists like a sound one."""
    if not isinstance(diff_id, str) or not is_digest(diff_id) or not diff_id.startswith("sha256:"):
        raise ImageReadError(f"layer {index} of {ref}: its diff id {str(diff_id)[:80]!r} is not a sha256 digest")
    digest.verify(diff_id, f"layer {index} ({diff_id}) of {ref}", named_by="the diff id the image config names",
                  measured="uncompressed bytes")


class _SavedImage:
    """What one pass over `docker save` yields: config JSON and file headers per layer diff id."""

    def __init__(self, config: dict[str, Any], layers: dict[str, list[FileEntry]]) -> None:
        self.config = config
        self.layers = layers


class DockerImageReader:
    """`contents="auto"` lists layer files from the engine's overlay2 diff directories when this process
    can read them (same host, root), which skips the engine's export; otherwise, and with `"save"`, it
    streams `image.save()`. Both give the same file lists (an integration test holds them equal)."""

    def __init__(
        self, client: docker.DockerClient | None = None, *, chunk_size: int = 1 << 20, contents: str = "auto"
    ) -> None:
        if contents not in ("auto", "save"):
            raise ValueError("contents must be 'auto' or 'save'")
        self._client = client
        self._chunk_size = chunk_size
        self._contents = contents
        self._saved: dict[str, _SavedImage] = {}
        self.used_overlay = False
        # One save (or overlay listing) per image, however many threads ask for its layers.
        self._lock = threading.Lock()

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                self._client = docker.from_env()
            except docker.errors.DockerException as exc:
                raise ImageReadError(f"cannot reach the Docker engine: {exc}") from exc
        return self._client

    def _image(self, ref: str) -> Any:
        try:
            return self.client.images.get(ref)
        except docker.errors.ImageNotFound as exc:
            raise ImageNotFound(f"image {ref} not found in the Docker engine") from exc
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise ImageReadError(f"Docker engine could not read {ref}: {exc}") from exc

    def manifest(self, ref: str, *, deadline: Deadline = NO_DEADLINE) -> ImageManifest:
        try:
            return self._manifest(ref, deadline)
        except MalformedDocument as exc:
            raise ImageReadError(f"the engine's config of {ref} is malformed: {exc}") from exc

    def _manifest(self, ref: str, deadline: Deadline) -> ImageManifest:
        image = self._image(ref)
        attrs = image.attrs
        diff_ids: list[str] = list((attrs.get("RootFS") or {}).get("Layers") or [])
        try:
            api_history = list(reversed(image.history()))  # the API answers newest first
        except docker.errors.DockerException as exc:
            raise ImageReadError(f"Docker engine could not give the history of {ref}: {exc}") from exc
        history = self._history(ref, image, api_history, len(diff_ids), deadline)
        sizes = [int(item.get("Size") or 0) for item, entry in zip(api_history, history) if not entry.empty_layer]
        if len(sizes) != len(diff_ids):
            sizes = [0] * len(diff_ids)
        layers = tuple(
            LayerRef(index=i, digest=diff_id, size_bytes=sizes[i], compressed=False, diff_id=diff_id)
            for i, diff_id in enumerate(diff_ids)
        )
        repo_digests = attrs.get("RepoDigests") or []
        return ImageManifest(
            ref=ref,
            digest=repo_digests[0].split("@", 1)[1] if repo_digests else attrs.get("Id"),
            config=image_config(attrs.get("Config")),
            history=history,
            layers=layers,
            architecture=attrs.get("Architecture"),
            os=attrs.get("Os"),
            created=parse_time(attrs.get("Created")),
        )

    def _history(
        self, ref: str, image: Any, api_history: list[dict[str, Any]], n_layers: int, deadline: Deadline
    ) -> tuple[HistoryEntry, ...]:
        """The API's history lacks `empty_layer`; a zero size is ambiguous (`WORKDIR` makes an empty
        layer, `RUN true` none). Guess from the instruction; when the guess does not add up, ask the
        config itself (one save pass, which the layer walk reuses)."""
        flags = self._guess_empty(api_history, n_layers)
        if flags is None:
            config = self._config_from_disk(image)
            if config is None:
                with self._lock:
                    config = self._save(ref, image, deadline).config
            return history_entries(config.get("history"))
        return tuple(
            HistoryEntry(
                created_by=str(item.get("CreatedBy") or ""),
                created=parse_time(item.get("Created")),
                empty_layer=empty,
                comment=item.get("Comment") or None,
            )
            for item, empty in zip(api_history, flags)
        )

    @staticmethod
    def _guess_empty(api_history: list[dict[str, Any]], n_layers: int) -> list[bool] | None:
        flags = []
        for item in api_history:
            created_by = str(item.get("CreatedBy") or "")
            body = created_by.split("#(nop)", 1)[1].strip() if "#(nop)" in created_by else created_by
            keyword = body.split(" ", 1)[0].upper() if body else ""
            flags.append(int(item.get("Size") or 0) == 0 and keyword in _METADATA)
        if flags.count(False) == n_layers:
            return flags
        zero_unknown = [i for i, item in enumerate(api_history) if not flags[i] and not int(item.get("Size") or 0)]
        if flags.count(False) - len(zero_unknown) == n_layers:
            return [f or i in zero_unknown for i, f in enumerate(flags)]
        return None

    def _config_from_disk(self, image: Any) -> dict[str, Any] | None:
        if self._contents != "auto":
            return None
        try:
            info = self.client.info()
            path = os.path.join(info["DockerRootDir"], "image", info["Driver"], "imagedb", "content", "sha256",
                                image.id.split(":", 1)[-1])
            with open(path, "rb") as handle:
                return json.load(handle)
        except (OSError, ValueError, KeyError, docker.errors.DockerException):
            return None

    def layer_files(self, ref: str, layer: LayerRef, *, deadline: Deadline = NO_DEADLINE) -> Iterator[FileEntry]:
        image = self._image(ref)
        with self._lock:
            return self._layer_files(ref, image, layer, deadline)

    def _layer_files(self, ref: str, image: Any, layer: LayerRef, deadline: Deadline) -> Iterator[FileEntry]:
        if self._contents == "auto" and image.id not in self._saved:
            dirs = overlay.layer_dirs(image.attrs)
            if dirs is not None:
                diff_ids = image.attrs["RootFS"]["Layers"]
                try:
                    layers = {diff_id: overlay.scan_diff(path) for diff_id, path in zip(diff_ids, dirs)}
                except OSError as exc:
                    log.info("overlay2 listing failed, falling back to docker save", extra={"error": str(exc)})
                else:
                    self._saved[image.id] = _SavedImage(config={}, layers=layers)
                    self.used_overlay = True
        saved = self._save(ref, image, deadline)
        key = layer.diff_id or layer.digest
        if key not in saved.layers:
            raise ImageReadError(f"layer {key} of {ref} is not in the image the engine saved")
        return iter(saved.layers[key])

    def _save(self, ref: str, image: Any, deadline: Deadline) -> _SavedImage:
        cached = self._saved.get(image.id)
        if cached is None:
            try:
                cached = self._read_save(image, ref=ref, deadline=deadline)
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                raise ImageReadError(f"Docker engine could not save {ref}: {exc}") from exc
            except (tarfile.TarError, LayerError, ValueError, KeyError, TypeError, EOFError, zlib.error, RecursionError) as exc:
                raise ImageReadError(f"the saved image {ref} is not readable: {exc}") from exc
            self._saved[image.id] = cached
        return cached

    def _read_save(self, image: Any, *, ref: str | None = None, deadline: Deadline = NO_DEADLINE) -> _SavedImage:
        ref = ref or image.id
        documents: dict[str, Any] = {}
        layers_by_path: dict[str, list[FileEntry]] = {}
        digests_by_path: dict[str, StreamDigest] = {}  # of each layer's uncompressed tar, checked at the end
        aliases: dict[str, str] = {}
        chunks = paced(image.save(chunk_size=self._chunk_size, named=False), deadline, f"saving {ref}", every=1)
        stream = io.BufferedReader(ChunkStream(chunks), buffer_size=TAR_BUFSIZE)
        for member, body in iter_members(stream, deadline=deadline):
            name = member.name[2:] if member.name.startswith("./") else member.name
            if member.issym():
                # Pre-25 saves link a repeated layer to its first copy.
                aliases[name] = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
                continue
            if not member.isreg():
                continue
            head = _read_head(body, min(512, member.size))
            if head[:1] in (b"{", b"["):
                if member.size <= MAX_JSON_BYTES:
                    documents[name] = json.loads(head + body.readall())
            elif _looks_like_tar(head):
                digests_by_path[name] = digest = StreamDigest("sha256")
                try:
                    layers_by_path[name] = list(iter_layer_blob(PrefixedStream(head, body), deadline=deadline, plain=digest))
                except (LayerError, EOFError, tarfile.TarError, zlib.error) as exc:
                    raise ImageReadError(f"layer {name} of the saved image {ref} is unreadable: {exc}") from exc
        manifest = documents.get("manifest.json")
        if not manifest:
            raise ValueError("no manifest.json in the saved image")
        entry = manifest[0]
        config = documents[entry["Config"]]
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        layer_paths = [aliases.get(p, p) for p in entry["Layers"]]
        layers: dict[str, list[FileEntry]] = {}
        for index, (diff_id, path) in enumerate(zip(diff_ids, layer_paths)):
            _check_diff_id(index, diff_id, digests_by_path[path], ref)
            layers[diff_id] = layers_by_path[path]
        log.debug("saved image indexed", extra={"image": image.id, "layers": len(layers)})
        return _SavedImage(config=config, layers=layers)
