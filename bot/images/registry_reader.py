"""`ImageReader` over the OCI distribution API (httpx): no docker socket, no pull.

manifest list/index -> platform manifest -> config blob (history, rootfs) gives everything but the
contents; layer blobs are streamed only when the walk asks, and a byte budget caps what one reader
downloads. Bearer tokens are fetched on a 401 from the realm its `WWW-Authenticate` names.

What a registry sends is untrusted. Documents are read up to a size cap and checked (`bot.images.oci`),
so no digest that reaches a URL can be a path; layers are parsed under `LayerLimits`; every read obeys
the caller's `Deadline` (socket timeouts bounded by it, and a watchdog that shuts a stalled socket when
it passes, from the connection's opening to the body's last byte). Credentials are per registry host (`bot.images.registry_auth`), and redirects are followed
by hand, without any Authorization header.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import tarfile
import threading
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from bot.deadline import NO_DEADLINE, Deadline, watching
from bot.images import oci
from bot.images.blobcheck import BlobDigestMismatch, DigestCheck
from bot.images.config import MalformedDocument
from bot.images.errors import ByteBudgetExceeded
from bot.images.mirrors import Mirror, route
from bot.images.model import FileEntry, ImageManifest, LayerRef
from bot.images.reference import ImageRef, is_digest, parse_reference
from bot.images.registry_auth import Credential, RegistryAuth
from bot.images.tarstream import ChunkStream, LayerError, LayerLimits, iter_layer_blob
from bot.ports import ImageNotFound, ImageReadError

log = logging.getLogger(__name__)

INDEX_TYPES = oci.INDEX_TYPES
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)
UNCOMPRESSED_LAYER_TYPES = (
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.docker.image.rootfs.diff.tar",
)
DEFAULT_BUDGET = 8 << 30
MAX_MANIFEST_BYTES = 4 << 20  # what distribution registries themselves accept on push
MAX_CONFIG_BYTES = 16 << 20
MAX_TOKEN_BYTES = 1 << 20
MAX_ERROR_BYTES = 64 << 10
MAX_REDIRECTS = 5

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def _basic(credential: Credential) -> str:
    return "Basic " + base64.b64encode(f"{credential.username}:{credential.password}".encode()).decode()


def _socket_of(response: httpx.Response) -> socket.socket | None:
    stream = response.extensions.get("network_stream")
    return stream.get_extra_info("socket") if stream is not None else None


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]


def _corrupt_or(check: DigestCheck, rest: Iterator[bytes], what: str, error: Exception) -> None:
    """A layer that does not parse may be a good blob of a bad tar (a hostile layer) or bytes the store
    damaged: the digest tells which, and names the cause when it is the bytes."""
    try:
        check.drain(rest, what)
    except BlobDigestMismatch as mismatch:
        raise mismatch from error
    except ImageReadError:
        return  # the hash cannot be finished (budget, a broken body): the parse error is all that is known


class RegistryImageReader:
    def __init__(
        self,
        *,
        client: httpx.Client | None = None,
        platform: str = "linux/amd64",
        byte_budget: int = DEFAULT_BUDGET,
        auth: RegistryAuth | None = None,
        timeout: float = 30.0,
        layer_limits: LayerLimits = LayerLimits(),
        mirrors: Mapping[str, Mirror] | None = None,
    ) -> None:
        # Redirects are followed by hand (`_open`), so that none carries credentials.
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self._timeout = timeout
        self._os, _, self._arch = platform.partition("/")
        self.byte_budget = byte_budget
        self.bytes_read = 0
        self._reserved = 0  # bytes promised to layers being read, so parallel reads respect the budget
        self._budget_lock = threading.Lock()
        self._auth = auth or RegistryAuth()
        self._limits = layer_limits
        self._mirrors = dict(mirrors or {})  # registry host -> its pull-through cache
        self._tokens: dict[tuple[str, str], str] = {}  # (registry, repository) -> bearer token
        self._basic: set[str] = set()  # registries that asked for Basic credentials, and have some

    # -- HTTP ---------------------------------------------------------------------------------------

    def _url(self, ref: ImageRef, kind: str, reference: str) -> str:
        # The reference of `ref` itself was checked by parse_reference; anything else must be a digest.
        if not (is_digest(reference) or (kind == "manifests" and reference == ref.reference)):
            raise ImageReadError(f"{ref.registry}/{ref.repository}: {reference!r:.80} is not a digest")
        return f"{ref.base_url}/v2/{ref.repository}/{kind}/{reference}"

    def _authorization(self, ref: ImageRef) -> dict[str, str]:
        token = self._tokens.get((ref.registry, ref.repository))
        if token:
            return {"Authorization": f"Bearer {token}"}
        credential = self._auth.for_registry(ref.registry) if ref.registry in self._basic else None
        return {"Authorization": _basic(credential)} if credential else {}

    def _open(self, url: str | httpx.URL, *, headers: dict[str, str], deadline: Deadline, where: str) -> httpx.Response:
        """GET with a streamed body. Redirects are followed without the Authorization header."""
        headers = {"Accept-Encoding": "identity", **headers}  # a compressed body would inflate unbounded
        for _ in range(MAX_REDIRECTS + 1):
            deadline.check(f"waiting for {where}")
            # Connect and each read wait `timeout` at most, and never past the deadline; the watchdog cuts a
            # new connection whose server drips its status line and headers past it.
            with watching(deadline) as watch:
                def trace(event: str, info: dict[str, Any]) -> None:
                    if event == "connection.connect_tcp.complete":
                        watch.socket(info["return_value"].get_extra_info("socket"))

                request = self._client.build_request("GET", url, headers=headers, timeout=deadline.timeout(self._timeout),
                                                     extensions={"trace": trace})
                try:
                    response = self._client.send(request, stream=True)
                except httpx.HTTPError as exc:
                    deadline.check(f"waiting for {where}")
                    raise ImageReadError(f"{where} is unreachable: {exc}") from exc
            if not response.is_redirect:
                return response
            response.close()
            target = response.url.join(response.headers.get("Location", ""))
            if target.scheme not in ("http", "https"):
                raise ImageReadError(f"{where} redirected to a {target.scheme or 'blank'} URL")
            url = target
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        raise ImageReadError(f"{where} redirected more than {MAX_REDIRECTS} times")

    def _get(self, ref: ImageRef, url: str, *, deadline: Deadline, accept: str | None = None,
             names_image: bool = False) -> httpx.Response:
        """A 200 response with its body still to read; a 401 is answered once with the challenge's auth.
        `names_image`: this is the reference's own manifest, whose 404 means the image does not exist
        (`ImageNotFound`); a 404 for a blob or an index's entry is a broken image, not a missing one."""
        extra = {"Accept": accept} if accept else {}
        where = f"registry {ref.label}"
        for attempt in (1, 2):
            response = self._open(url, headers={**extra, **self._authorization(ref)}, deadline=deadline, where=where)
            if response.status_code == 200:
                return response
            try:
                if response.status_code == 401 and attempt == 1:
                    challenge = response.headers.get("WWW-Authenticate", "")
                else:
                    raise self._error(ref, response, deadline, names_image=names_image)
            finally:
                response.close()
            self._authenticate(ref, challenge, deadline)
        raise AssertionError("unreachable")

    def _chunks(self, response: httpx.Response, deadline: Deadline, what: str) -> Iterator[bytes]:
        """The raw body as the network delivers it, the deadline checked after every read."""
        doing = f"reading {what} from {response.url.host}:{response.url.port or response.url.scheme}"
        try:
            for chunk in response.iter_raw():
                deadline.check(doing)
                yield chunk
        except httpx.HTTPError as exc:
            deadline.check(doing)  # a read cut by the watchdog is a timeout, not a broken registry
            raise ImageReadError(f"{what}: the registry broke off: {exc}") from exc

    def _read(self, response: httpx.Response, *, limit: int, deadline: Deadline, what: str) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ImageReadError(f"{what} is larger than {limit} bytes ({declared})")
        body = bytearray()
        with watching(deadline) as watch:
            watch.socket(_socket_of(response))
            for chunk in self._chunks(response, deadline, what):
                body += chunk
                if len(body) > limit:
                    raise ImageReadError(f"{what} is larger than {limit} bytes")
        return bytes(body)

    def _json(self, ref: ImageRef, url: str, *, limit: int, deadline: Deadline, what: str,
              accept: str | None = None, names_image: bool = False) -> tuple[Any, httpx.Headers]:
        response = self._get(ref, url, deadline=deadline, accept=accept, names_image=names_image)
        try:
            data = self._read(response, limit=limit, deadline=deadline, what=what)
        finally:
            response.close()
        try:
            return json.loads(data), response.headers
        except (ValueError, RecursionError) as exc:  # RecursionError: `[[[[...` nested past the stack
            raise ImageReadError(f"registry {ref.label} sent invalid JSON for {what}") from exc

    def _authenticate(self, ref: ImageRef, challenge: str, deadline: Deadline) -> None:
        scheme, _, params_text = challenge.partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(params_text))
        credential = self._auth.for_registry(ref.registry)
        if scheme.lower() == "basic":
            if credential is None:
                raise ImageReadError(
                    f"registry {ref.label} refused access to {ref.repository}: it wants credentials "
                    "(none are configured for this host in CORONER_REGISTRY_AUTH)"
                )
            self._basic.add(ref.registry)
            return
        if scheme.lower() != "bearer" or "realm" not in params:
            raise ImageReadError(f"registry {ref.label} refused access to {ref.repository} (no usable challenge)")
        realm = params["realm"]
        try:
            url = httpx.URL(realm)
        except httpx.InvalidURL as exc:
            raise ImageReadError(f"registry {ref.label} named a token service that is not a URL") from exc
        if url.scheme not in ("http", "https"):
            raise ImageReadError(f"registry {ref.label} named a token service that is not HTTP(S)")
        query = {k: v for k, v in params.items() if k in ("service", "scope")}
        query.setdefault("scope", f"repository:{ref.repository}:pull")
        headers = {}
        if credential is not None and self._auth.realm_may_receive(ref.registry, realm):
            headers["Authorization"] = _basic(credential)
        elif credential is not None:
            log.warning("token service is not the registry's own: asking it anonymously",
                        extra={"registry": ref.registry, "realm": str(url.copy_with(query=None))})
        where = f"token service {url.host}"
        answer = self._open(url.copy_merge_params(query), headers=headers, deadline=deadline, where=where)
        try:
            if answer.status_code != 200:
                raise ImageReadError(
                    f"registry {ref.label} refused access to {ref.repository}: token service answered {answer.status_code}"
                )
            data = self._read(answer, limit=MAX_TOKEN_BYTES, deadline=deadline, what=f"the answer of {where}")
        finally:
            answer.close()
        try:
            body = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise ImageReadError(f"{where} sent invalid JSON") from exc
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ImageReadError(f"{where} gave no token")
        self._tokens[(ref.registry, ref.repository)] = token

    def _error(self, ref: ImageRef, response: httpx.Response, deadline: Deadline, *,
               names_image: bool = False) -> ImageReadError:
        try:
            text = self._read(response, limit=MAX_ERROR_BYTES, deadline=deadline, what="an error answer")
        except ImageReadError:
            text = b""
        detail = ""
        try:
            errors = json.loads(text).get("errors") or []
            detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict))
        except (ValueError, AttributeError, TypeError, RecursionError):
            detail = text[:200].decode("utf-8", "replace")
        detail = _one_line(detail)
        separator = "@" if is_digest(ref.reference) else ":"
        where = f"{ref.mirror_of or ref.registry}/{ref.repository}{separator}{ref.reference}"
        if response.status_code == 404:
            missing = ImageNotFound if names_image else ImageReadError
            return missing(f"image {where} not found in the registry ({detail or 'not found'})")
        if response.status_code in (401, 403):
            return ImageReadError(f"registry {ref.label} refused access to {ref.repository} ({response.status_code})")
        return ImageReadError(f"registry {ref.label} answered {response.status_code} for {where}: {detail}")

    # -- ImageReader ----------------------------------------------------------------------------------

    def _parse(self, ref: str) -> ImageRef:
        """The reference, routed through its registry's mirror when one is configured."""
        try:
            return route(parse_reference(ref), self._mirrors)
        except ValueError as exc:
            raise ImageReadError(str(exc)) from exc

    def manifest(self, ref: str, *, deadline: Deadline = NO_DEADLINE) -> ImageManifest:
        image_ref = self._parse(ref)
        url = self._url(image_ref, "manifests", image_ref.reference)
        document, headers = self._json(image_ref, url, limit=MAX_MANIFEST_BYTES, deadline=deadline,
                                       what=f"the manifest of {ref}", accept=ACCEPT, names_image=True)
        digest = headers.get("Docker-Content-Digest")
        digest = digest if is_digest(digest) else None
        media_type = headers.get("Content-Type", "").split(";")[0]
        offered: tuple[str, ...] = ()
        try:
            if oci.is_index(document, media_type):
                listed = oci.parse_index(document)
                offered = tuple(f"{m.os}/{m.architecture}" for m in listed if m.os != "unknown")
                chosen = self._pick_platform(image_ref, listed)
                digest = chosen.digest
                document, _ = self._json(image_ref, self._url(image_ref, "manifests", digest), limit=MAX_MANIFEST_BYTES,
                                         deadline=deadline, what=f"the {self._os}/{self._arch} manifest of {ref}", accept=ACCEPT)
            manifest = oci.parse_manifest(document)
        except MalformedDocument as exc:
            raise ImageReadError(f"{ref}: malformed manifest: {exc}") from exc
        config_document, _ = self._json(image_ref, self._url(image_ref, "blobs", manifest.config.digest),
                                        limit=MAX_CONFIG_BYTES, deadline=deadline, what=f"the config of {ref}")
        try:
            config = oci.parse_config(config_document)
        except MalformedDocument as exc:
            raise ImageReadError(f"{ref}: malformed config {manifest.config.digest}: {exc}") from exc
        layers = tuple(
            LayerRef(
                index=index,
                digest=descriptor.digest,
                size_bytes=descriptor.size,
                compressed=descriptor.media_type not in UNCOMPRESSED_LAYER_TYPES,
                diff_id=config.diff_ids[index] if index < len(config.diff_ids) else None,
            )
            for index, descriptor in enumerate(manifest.layers)
        )
        return ImageManifest(
            ref=ref,
            digest=digest,
            config=config.config,
            history=config.history,
            layers=layers,
            architecture=config.architecture,
            os=config.os,
            created=config.created,
            platforms=offered,
        )

    def _pick_platform(self, ref: ImageRef, manifests: tuple[oci.Descriptor, ...]) -> oci.Descriptor:
        images = [m for m in manifests if m.os != "unknown"]  # attestations
        for item in images:
            if item.os == self._os and item.architecture == self._arch:
                return item
        if len(images) == 1:
            return images[0]
        offered = ", ".join(f"{m.os}/{m.architecture}" for m in images)
        raise ImageReadError(
            f"{ref.registry}/{ref.repository}:{ref.reference} has no {self._os}/{self._arch} image (offers {_one_line(offered)})"
        )

    def layer_files(self, ref: str, layer: LayerRef, *, deadline: Deadline = NO_DEADLINE) -> Iterator[FileEntry]:
        image_ref = self._parse(ref)
        url = self._url(image_ref, "blobs", layer.digest)
        with self._budget_lock:
            if self._reserved + layer.size_bytes > self.byte_budget:
                raise ByteBudgetExceeded(
                    f"layer {layer.index} ({layer.size_bytes} bytes) would exceed the download budget of {self.byte_budget} bytes"
                )
            self._reserved += layer.size_bytes
        return self._stream_layer(image_ref, layer, url, deadline)

    def _stream_layer(self, ref: ImageRef, layer: LayerRef, url: str, deadline: Deadline) -> Iterator[FileEntry]:
        what = f"layer {layer.index} ({layer.digest}) of {ref.repository}"
        response = self._get(ref, url, deadline=deadline)
        check = DigestCheck(layer.digest, layer.size_bytes)  # the descriptor's digest and size
        chunks = check.chunks(self._metered(self._chunks(response, deadline, what), layer))
        try:
            with watching(deadline) as watch:
                watch.socket(_socket_of(response))
                yield from iter_layer_blob(ChunkStream(chunks), limits=self._limits, deadline=deadline)
                check.drain(chunks, what)
        except (LayerError, OSError, EOFError, tarfile.TarError, zlib.error) as exc:
            deadline.check(f"reading {what}")  # a body cut short at the deadline is a timeout, not a broken layer
            _corrupt_or(check, chunks, what, exc)
            raise ImageReadError(f"{what} is unreadable: {exc}") from exc
        finally:
            response.close()

    def _metered(self, chunks: Iterator[bytes], layer: LayerRef) -> Iterator[bytes]:
        for chunk in chunks:
            with self._budget_lock:
                self.bytes_read += len(chunk)
                over = self.bytes_read > self.byte_budget
            if over:
                raise ByteBudgetExceeded(f"download budget of {self.byte_budget} bytes exhausted in layer {layer.index}")
            yield chunk

    def close(self) -> None:
        self._client.close()
