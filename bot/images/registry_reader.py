"""`ImageReader` over the OCI distribution API (httpx): no docker socket, no pull.

manifest list/index -> platform manifest -> config blob (history, rootfs) gives everything but the
contents; layer blobs are streamed only when the walk asks, and a byte budget caps what one reader
downloads. Bearer tokens are fetched on a 401 from the realm its `WWW-Authenticate` names.
"""

from __future__ import annotations

import logging
import re
import tarfile
from collections.abc import Iterator
from typing import Any

import httpx

from bot.images.errors import ByteBudgetExceeded
from bot.images.config import history_entries, image_config
from bot.images.model import FileEntry, ImageManifest, LayerRef
from bot.images.reference import ImageRef, parse_reference
from bot.images.tarstream import ChunkStream, UnsupportedLayer, iter_layer_blob
from bot.images.timeparse import parse_time
from bot.ports import ImageReadError

log = logging.getLogger(__name__)

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
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
CHUNK = 1 << 20

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryImageReader:
    def __init__(
        self,
        *,
        client: httpx.Client | None = None,
        platform: str = "linux/amd64",
        byte_budget: int = DEFAULT_BUDGET,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=True)
        self._os, _, self._arch = platform.partition("/")
        self.byte_budget = byte_budget
        self.bytes_read = 0
        self._auth = (username, password) if username is not None else None
        self._tokens: dict[tuple[str, str], str] = {}  # (registry, repository) -> bearer token

    # -- HTTP ---------------------------------------------------------------------------------------

    def _url(self, ref: ImageRef, kind: str, reference: str) -> str:
        return f"{ref.base_url}/v2/{ref.repository}/{kind}/{reference}"

    def _headers(self, ref: ImageRef, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        token = self._tokens.get((ref.registry, ref.repository))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _authenticate(self, ref: ImageRef, response: httpx.Response) -> None:
        challenge = response.headers.get("WWW-Authenticate", "")
        scheme, _, params_text = challenge.partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(params_text))
        if scheme.lower() == "basic":
            if self._auth is None:
                raise ImageReadError(f"registry {ref.registry} refused access to {ref.repository}: it wants credentials")
            self._client.auth = httpx.BasicAuth(*self._auth)  # type: ignore[arg-type]
            return
        if scheme.lower() != "bearer" or "realm" not in params:
            raise ImageReadError(f"registry {ref.registry} refused access to {ref.repository} (no usable challenge)")
        query = {k: v for k, v in params.items() if k in ("service", "scope")}
        query.setdefault("scope", f"repository:{ref.repository}:pull")
        try:
            answer = self._client.get(params["realm"], params=query, auth=httpx.BasicAuth(*self._auth) if self._auth else None)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise ImageReadError(f"token service {params['realm']} unreachable: {exc}") from exc
        if answer.status_code != 200:
            raise ImageReadError(
                f"registry {ref.registry} refused access to {ref.repository}: token service answered {answer.status_code}"
            )
        body = answer.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise ImageReadError(f"token service {params['realm']} gave no token")
        self._tokens[(ref.registry, ref.repository)] = token

    def _send(self, ref: ImageRef, url: str, *, accept: str | None = None, stream: bool = False) -> httpx.Response:
        extra = {"Accept": accept} if accept else {}
        for attempt in (1, 2):
            request = self._client.build_request("GET", url, headers=self._headers(ref, extra))
            try:
                response = self._client.send(request, stream=stream)
            except httpx.HTTPError as exc:
                raise ImageReadError(f"registry {ref.registry} is unreachable: {exc}") from exc
            if response.status_code == 401 and attempt == 1:
                if stream:
                    response.read()
                    response.close()
                self._authenticate(ref, response)
                continue
            if response.status_code == 200:
                return response
            if stream:
                response.read()
                response.close()
            raise self._error(ref, response)
        raise AssertionError("unreachable")

    def _error(self, ref: ImageRef, response: httpx.Response) -> ImageReadError:
        detail = ""
        try:
            errors = response.json().get("errors") or []
            detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
        except ValueError:
            detail = response.text[:200]
        where = f"{ref.registry}/{ref.repository}:{ref.reference}"
        if response.status_code == 404:
            return ImageReadError(f"image {where} not found in the registry ({detail or 'not found'})")
        if response.status_code in (401, 403):
            return ImageReadError(f"registry {ref.registry} refused access to {ref.repository} ({response.status_code})")
        return ImageReadError(f"registry {ref.registry} answered {response.status_code} for {where}: {detail}")

    def _json(self, ref: ImageRef, url: str, accept: str | None = None) -> tuple[dict[str, Any], httpx.Response]:
        response = self._send(ref, url, accept=accept)
        try:
            return response.json(), response
        except ValueError as exc:
            raise ImageReadError(f"registry {ref.registry} sent invalid JSON for {url}") from exc

    # -- ImageReader ----------------------------------------------------------------------------------

    def manifest(self, ref: str) -> ImageManifest:
        try:
            image_ref = parse_reference(ref)
        except ValueError as exc:
            raise ImageReadError(str(exc)) from exc
        document, response = self._json(image_ref, self._url(image_ref, "manifests", image_ref.reference), ACCEPT)
        digest = response.headers.get("Docker-Content-Digest")
        media_type = document.get("mediaType") or response.headers.get("Content-Type", "").split(";")[0]
        if media_type in INDEX_TYPES or "manifests" in document:
            chosen = self._pick_platform(image_ref, document.get("manifests") or [])
            digest = chosen["digest"]
            document, _ = self._json(image_ref, self._url(image_ref, "manifests", digest), ACCEPT)
        if "config" not in document or "layers" not in document:
            raise ImageReadError(f"{ref}: unsupported manifest (schema {document.get('schemaVersion')}, {media_type})")
        config, _ = self._json(image_ref, self._url(image_ref, "blobs", document["config"]["digest"]))
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        layers = []
        for index, descriptor in enumerate(document["layers"]):
            compressed = descriptor.get("mediaType") not in UNCOMPRESSED_LAYER_TYPES
            layers.append(
                LayerRef(
                    index=index,
                    digest=descriptor["digest"],
                    size_bytes=int(descriptor.get("size") or 0),
                    compressed=compressed,
                    diff_id=diff_ids[index] if index < len(diff_ids) else None,
                )
            )
        return ImageManifest(
            ref=ref,
            digest=digest,
            config=image_config(config.get("config")),
            history=history_entries(config.get("history")),
            layers=tuple(layers),
            architecture=config.get("architecture"),
            os=config.get("os"),
            created=parse_time(config.get("created")),
        )

    def _pick_platform(self, ref: ImageRef, manifests: list[dict[str, Any]]) -> dict[str, Any]:
        images = [m for m in manifests if (m.get("platform") or {}).get("os") != "unknown"]  # attestations
        for item in images:
            platform = item.get("platform") or {}
            if platform.get("os") == self._os and platform.get("architecture") == self._arch:
                return item
        if len(images) == 1:
            return images[0]
        offered = ", ".join(f"{(m.get('platform') or {}).get('os')}/{(m.get('platform') or {}).get('architecture')}" for m in images)
        raise ImageReadError(f"{ref.registry}/{ref.repository}:{ref.reference} has no {self._os}/{self._arch} image (offers {offered})")

    def layer_files(self, ref: str, layer: LayerRef) -> Iterator[FileEntry]:
        image_ref = parse_reference(ref)
        if self.bytes_read + layer.size_bytes > self.byte_budget:
            raise ByteBudgetExceeded(
                f"layer {layer.index} ({layer.size_bytes} bytes) would exceed the download budget of {self.byte_budget} bytes"
            )
        return self._stream_layer(image_ref, layer)

    def _stream_layer(self, ref: ImageRef, layer: LayerRef) -> Iterator[FileEntry]:
        response = self._send(ref, self._url(ref, "blobs", layer.digest), stream=True)
        try:
            yield from iter_layer_blob(ChunkStream(self._metered(response, layer)))
        except (UnsupportedLayer, OSError, EOFError, tarfile.TarError) as exc:
            raise ImageReadError(f"layer {layer.index} ({layer.digest}) of {ref.repository} is unreadable: {exc}") from exc
        except httpx.HTTPError as exc:
            raise ImageReadError(f"registry {ref.registry} broke off layer {layer.index}: {exc}") from exc
        finally:
            response.close()

    def _metered(self, response: httpx.Response, layer: LayerRef) -> Iterator[bytes]:
        for chunk in response.iter_raw(CHUNK):
            self.bytes_read += len(chunk)
            if self.bytes_read > self.byte_budget:
                raise ByteBudgetExceeded(f"download budget of {self.byte_budget} bytes exhausted in layer {layer.index}")
            yield chunk

    def close(self) -> None:
        self._client.close()
