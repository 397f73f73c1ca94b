"""Hostile layers pushed to Debian's real docker-registry through its upload API, then read back by
`RegistryImageReader`: the registry stores and serves the bytes as given, as any registry a pod names may."""

from __future__ import annotations

import hashlib
import json
import uuid

import httpx
import pytest

from tests.doubles.images import deep_layer, pax_layer

from bot.images.autopsy import autopsy
from bot.images.registry_reader import RegistryImageReader
from bot.ports import ImageReadError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push_blob(client: httpx.Client, name: str, data: bytes) -> str:
    digest = _digest(data)
    started = client.post(f"/v2/{name}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = httpx.URL(started.headers["Location"])
    done = client.put(client.base_url.join(location.path), params={**dict(location.params), "digest": digest},
                      content=data, headers={"Content-Type": "application/octet-stream"})
    assert done.status_code == 201, done.text
    return digest


def _push_image(registry_url: str, layer: bytes) -> str:
    name, tag = f"hostile-{uuid.uuid4().hex[:8]}", "v1"
    with httpx.Client(base_url=f"http://{registry_url}", timeout=30) as client:
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
                             "history": [{"created_by": "/bin/sh -c #(nop) ADD file:hostile in / "}]}).encode()
        manifest = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _push_blob(client, name, config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _push_blob(client, name, layer), "size": len(layer)}],
        }
        pushed = client.put(f"/v2/{name}/manifests/{tag}", content=json.dumps(manifest).encode(), headers={"Content-Type": OCI_MANIFEST})
        assert pushed.status_code == 201, pushed.text
    return f"{registry_url}/{name}:{tag}"


def test_a_pax_loop_from_a_real_registry_is_one_line_naming_the_layer(registry_url):
    ref = _push_image(registry_url, pax_layer(b"0 path=x\n"))
    with pytest.raises(ImageReadError, match=r"layer 0 \(sha256:[0-9a-f]{64}\) of hostile-\w+ is unreadable: PAX record") as info:
        autopsy(RegistryImageReader(), ref)
    assert "\n" not in str(info.value)


@pytest.mark.slow  # pushes and walks a 2,000-deep tree
def test_a_directory_thousands_deep_from_a_real_registry_is_walked(registry_url):
    ref = _push_image(registry_url, deep_layer(2000))
    report = autopsy(RegistryImageReader(), ref)
    assert report.totals.final_bytes == 4 and report.totals.complete
