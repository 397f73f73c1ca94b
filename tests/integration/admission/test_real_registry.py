"""The webhook against Debian's real docker-registry, with an image built by dockerd from a context that
makes the outage's mistakes (`COPY . .` of a .git directory, a .venv, test data, a .env file)."""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid

import httpx
import pytest

from tests.doubles.images import tar_bytes
from tests.integration.admission.harness import NAME, NAMESPACE
from tests.integration.images.oci_push import push_blob

pytestmark = pytest.mark.slow  # builds an image with dockerd and pushes it to a real registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def push_small_image(registry_url: str) -> str:
    """The image being replaced: one small layer, pushed through the registry's upload API."""
    layer = tar_bytes([("app/", None), ("app/main.py", b"print('hello')\n")])
    blob = gzip.compress(layer)
    name = f"coroner-admission-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=f"http://{registry_url}", timeout=30) as client:
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
                             "history": [{"created_by": "/bin/sh -c #(nop) COPY file:main.py in /app "}]}).encode()
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": push_blob(client, name, config), "size": len(config)},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                "digest": push_blob(client, name, blob), "size": len(blob)}]}
        pushed = client.put(f"/v2/{name}/manifests/v1", content=json.dumps(manifest).encode(),
                            headers={"Content-Type": OCI_MANIFEST})
        assert pushed.status_code == 201, pushed.text
    return f"{registry_url}/{name}:v1"


def test_an_image_built_by_dockerd_is_denied_from_a_real_registry(webhook, registry_url, built_image):
    previous = push_small_image(registry_url)
    candidate = built_image.remote
    webhook.warm(previous, candidate)
    sent = webhook.change(previous, candidate)

    answer = webhook.post(sent)

    response = answer.json()["response"]
    assert response["uid"] == sent["request"]["uid"] and response["allowed"] is False
    message = response["status"]["message"]
    assert f"{candidate} against {previous} (container app): image-growth:" in message
    assert "new-critical-finding: vcs-directory" in message and "app/.git" in message
    assert "new-critical-finding: secret-file" in message
    (record,) = webhook.audit()
    assert (record.action, record.target) == ("admission.denied", f"Deployment {NAMESPACE}/{NAME}")
