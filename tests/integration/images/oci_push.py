"""Pushing blobs and manifests to the loopback docker-registry with the distribution API, as a client
that is not docker would (an OCI manifest, uncompressed layers, an index of platforms)."""

from __future__ import annotations

import hashlib
import json

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(client: httpx.Client, name: str, data: bytes) -> str:
    digest = digest_of(data)
    started = client.post(f"/v2/{name}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = httpx.URL(started.headers["Location"])
    done = client.put(client.base_url.join(location.path), params={**dict(location.params), "digest": digest},
                      content=data, headers={"Content-Type": "application/octet-stream"})
    assert done.status_code == 201, done.text
    return digest


def push_manifest(client: httpx.Client, name: str, reference: str, document: dict[str, object], media_type: str) -> str:
    """PUT a manifest or index; returns its digest."""
    body = json.dumps(document).encode()
    pushed = client.put(f"/v2/{name}/manifests/{reference}", content=body, headers={"Content-Type": media_type})
    assert pushed.status_code == 201, pushed.text
    return digest_of(body)


def push_image(client: httpx.Client, name: str, reference: str, *, config: bytes, layers: list[bytes],
               manifest_type: str = OCI_MANIFEST, config_type: str = OCI_CONFIG, layer_type: str = OCI_LAYER) -> tuple[str, int]:
    """Blobs first, then the manifest that names them; returns the manifest's digest and size."""
    manifest = {
        "schemaVersion": 2, "mediaType": manifest_type,
        "config": {"mediaType": config_type, "digest": push_blob(client, name, config), "size": len(config)},
        "layers": [{"mediaType": layer_type, "digest": push_blob(client, name, layer), "size": len(layer)} for layer in layers],
    }
    digest = push_manifest(client, name, reference, manifest, manifest_type)
    return digest, len(json.dumps(manifest).encode())
