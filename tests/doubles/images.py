"""Test doubles for the images feature: an in-memory `ImageReader`, tar builders, and a local OCI
registry double that speaks the distribution API's wire format (manifests, blobs, bearer auth)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bot.images.model import FileEntry, HistoryEntry, ImageConfig, ImageManifest, LayerRef


def tar_bytes(members: list[tuple[str, bytes | None]]) -> bytes:
    """(name, data) pairs; data None makes a directory."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def entries(members: list[tuple[str, int] | tuple[str, int, str]]) -> list[FileEntry]:
    out = []
    for member in members:
        path, size = member[0], member[1]
        kind = member[2] if len(member) > 2 else ("dir" if path.endswith("/") else "file")  # type: ignore[misc]
        out.append(FileEntry(path=path.rstrip("/"), size_bytes=size, kind=kind))
    return out


class FakeImageReader:
    """Layers given as FileEntry lists; history entries as (created_by, empty_layer). `sizes` larger than
    a layer's files make it recorded evidence that lists only some of them."""

    def __init__(self) -> None:
        self.images: dict[str, tuple[ImageManifest, list[list[FileEntry]]]] = {}

    def add(self, ref: str, layers: list[list[FileEntry]], history: list[tuple[str, bool]] | None = None,
            config: ImageConfig | None = None, sizes: list[int] | None = None) -> None:
        refs = tuple(
            LayerRef(index=i, digest=f"sha256:{ref}-{i}", size_bytes=(sizes[i] if sizes else sum(e.size_bytes for e in layer)),
                     diff_id=f"sha256:{ref}-{i}", partial_listing=bool(sizes) and sizes[i] > sum(e.size_bytes for e in layer))
            for i, layer in enumerate(layers)
        )
        hist = history or [(f"/bin/sh -c step {i}", False) for i in range(len(layers))]
        manifest = ImageManifest(
            ref=ref, digest=None, config=config or ImageConfig(user="app", healthcheck=("CMD", "true")),
            history=tuple(HistoryEntry(created_by=c, empty_layer=e) for c, e in hist), layers=refs,
        )
        self.images[ref] = (manifest, layers)

    def manifest(self, ref: str, *, deadline: object = None) -> ImageManifest:
        from bot.ports import ImageNotFound

        if ref not in self.images:
            raise ImageNotFound(f"image {ref} not found")
        return self.images[ref][0]

    def layer_files(self, ref: str, layer: LayerRef, *, deadline: object = None) -> Iterator[FileEntry]:
        return iter(self.images[ref][1][layer.index])


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up on a trickled body is what some tests do on purpose


class RegistryDouble:
    """A loopback registry: `add_image` stores blobs and a manifest (optionally behind an index);
    `token` turns on bearer auth with a token service at /token (or at `realm`, another double's);
    `basic=(user, password)` answers 401 with a Basic challenge instead. `seen` records the raw path and
    the Authorization header of every request, so a test can tell which host received credentials.
    `redirect_blobs_to` answers blob requests with a 307 to another double; `stall_manifests` never answers,
    nor does a manifest request for a reference in `stall_references`."""

    def __init__(self, token: str | None = None, *, basic: tuple[str, str] | None = None) -> None:
        self.blobs: dict[str, bytes | Callable[[], Iterator[bytes]]] = {}
        self.blob_sizes: dict[str, int] = {}
        self.manifests: dict[tuple[str, str], tuple[str, bytes]] = {}
        self.token = token
        self.basic = basic
        self.realm: str | None = None
        self.redirect_blobs_to: str | None = None
        self.stall_manifests = False
        self.stall_references: set[str] = set()
        self.token_requests: list[str] = []
        self.refuse_tokens = False
        self.blob_requests: list[str] = []
        self.seen: list[tuple[str, str | None]] = []
        self.closed = threading.Event()
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # As a real registry's Go server does: without it, headers and body go as two small writes and
            # the client's delayed ACK holds every keep-alive response back 40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # http.server's naming
                host = f"http://127.0.0.1:{double.port}"
                double.seen.append((self.path, self.headers.get("Authorization")))
                if self.path.startswith("/token"):
                    double.token_requests.append(self.path)
                    if double.refuse_tokens:
                        self._send(401, b'{"details":"incorrect username or password"}')
                        return
                    self._send(200, json.dumps({"token": double.token}).encode())
                    return
                unauthorized = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
                if double.basic and self.headers.get("Authorization") != basic_header(*double.basic):
                    self._send(401, unauthorized, headers={"WWW-Authenticate": 'Basic realm="double"'})
                    return
                if double.token and self.headers.get("Authorization") != f"Bearer {double.token}":
                    realm = double.realm or f"{host}/token"
                    self._send(401, unauthorized,
                               headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="double",scope="repository:app:pull"'})
                    return
                parts = self.path.split("/")
                # /v2/<name...>/<kind>/<reference>
                kind, reference, name = parts[-2], parts[-1], "/".join(parts[2:-2])
                if kind == "blobs" and double.redirect_blobs_to:
                    self._send(307, b"", headers={"Location": double.redirect_blobs_to + self.path})
                    return
                if kind == "manifests" and (double.stall_manifests or reference in double.stall_references):
                    double.closed.wait()
                    return
                if kind == "manifests" and (name, reference) in double.manifests:
                    media, body = double.manifests[(name, reference)]
                    self._send(200, body, media, {"Docker-Content-Digest": sha(body)})
                elif kind == "blobs" and reference in double.blobs:
                    double.blob_requests.append(reference)
                    blob = double.blobs[reference]
                    if callable(blob):
                        self.send_response(200)
                        self.send_header("Content-Type", "application/octet-stream")
                        self.send_header("Content-Length", str(double.blob_sizes[reference]))
                        self.end_headers()
                        for chunk in blob():
                            self.wfile.write(chunk)
                    else:
                        self._send(200, blob, "application/octet-stream")
                else:
                    self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        # A short poll: shutdown() waits for the loop to look, 0.5 s by default, at every test's teardown.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()

    def add_blob(self, data: bytes) -> str:
        digest = sha(data)
        self.blobs[digest] = data
        return digest

    def add_image(self, name: str, tag: str, layers: list[bytes], history: list[dict[str, object]], *,
                  gzip_layers: bool = True, index: bool = False, config_extra: dict[str, object] | None = None,
                  streamed: list[tuple[str, int, Callable[[], Iterator[bytes]]]] | None = None,
                  streamed_gzip: bool = False, platform: str = "linux/amd64") -> None:
        descriptors, diff_ids = [], []
        for layer in layers:
            blob = gzip.compress(layer, compresslevel=1) if gzip_layers else layer
            descriptors.append({
                "mediaType": "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gzip_layers else ""),
                "digest": self.add_blob(blob), "size": len(blob),
            })
            diff_ids.append(sha(layer))
        for digest, size, generator in streamed or []:
            self.blobs[digest] = generator
            self.blob_sizes[digest] = size
            media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if streamed_gzip else "")
            descriptors.append({"mediaType": media, "digest": digest, "size": size})
            diff_ids.append(digest)
        os_name, _, arch = platform.partition("/")
        config = {"architecture": arch, "os": os_name, "config": {"User": "app", **(config_extra or {})},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history}
        config_blob = json.dumps(config).encode()
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": self.add_blob(config_blob), "size": len(config_blob)},
            "layers": descriptors,
        }).encode()
        media = "application/vnd.oci.image.manifest.v1+json"
        if index:
            self.manifests[(name, sha(manifest))] = (media, manifest)
            listing = json.dumps({
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [
                    {"mediaType": media, "digest": sha(b"arm"), "size": 1, "platform": {"os": "linux", "architecture": "arm64"}},
                    {"mediaType": media, "digest": sha(manifest), "size": len(manifest), "platform": {"os": "linux", "architecture": "amd64"}},
                ],
            }).encode()
            self.manifests[(name, tag)] = ("application/vnd.oci.image.index.v1+json", listing)
            self.manifests[(name, sha(listing))] = ("application/vnd.oci.image.index.v1+json", listing)
        else:
            self.manifests[(name, tag)] = (media, manifest)
            self.manifests[(name, sha(manifest))] = (media, manifest)  # by digest too, as a registry serves it

    def add_index(self, name: str, tag: str, platforms: dict[str, str]) -> str:
        """A multi-arch index under `tag` over images already added (`{"linux/arm64": "v2-arm64", ...}`:
        platform -> tag), with an attestation entry as BuildKit adds; returns the index's digest."""
        media = "application/vnd.oci.image.manifest.v1+json"
        entries = []
        for platform, image_tag in platforms.items():
            os_name, _, arch = platform.partition("/")
            _, body = self.manifests[(name, image_tag)]
            entries.append({"mediaType": media, "digest": sha(body), "size": len(body),
                            "platform": {"os": os_name, "architecture": arch}})
        entries.append({"mediaType": media, "digest": sha(b"attestation"), "size": 1,
                        "platform": {"os": "unknown", "architecture": "unknown"}})
        listing = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                              "manifests": entries}).encode()
        for reference in (tag, sha(listing)):
            self.manifests[(name, reference)] = ("application/vnd.oci.image.index.v1+json", listing)
        return sha(listing)


# -- hostile layers: raw tar bytes that no well-behaved tar writer produces ----------------------------


def _padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 512)


def pax_record(key: str, value: str) -> bytes:
    """One PAX record, `<length> key=value\n`, where the length counts its own digits."""
    body = f" {key}={value}\n".encode()
    length = len(body) + 1
    while len(str(length).encode()) + len(body) != length:
        length += 1
    return str(length).encode() + body


def special_header(kind: bytes, size: int) -> bytes:
    """The 512-byte header of a PAX (`x`, `g`) or GNU long-name (`L`, `K`) member of `size` bytes."""
    info = tarfile.TarInfo("././@PaxHeader" if kind in (tarfile.XHDTYPE, tarfile.XGLTYPE) else "././@LongLink")
    info.type, info.size = kind, size
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def file_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def pax_layer(records: bytes, name: str = "app/file.txt", data: bytes = b"hello") -> bytes:
    """A tar whose only file is preceded by a PAX header holding `records` verbatim (valid or not)."""
    return (special_header(tarfile.XHDTYPE, len(records)) + _padded(records)
            + file_header(name, len(data)) + _padded(data) + bytes(1024))


def deep_layer(depth: int) -> bytes:
    """A directory `depth` levels deep, with a file at the bottom."""
    members: list[tuple[str, bytes | None]] = []
    path = ""
    for _ in range(depth):
        path = f"{path}/d" if path else "d"
        members.append((path + "/", None))
    members.append((path + "/bottom.txt", b"deep"))
    return tar_bytes(members)


def gzip_chunks(chunks: Iterable[bytes]) -> bytes:
    """gzip of a stream too big to hold: a bomb is built a megabyte at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(packer.compress(chunk) for chunk in chunks) + packer.flush()
