"""One image, the layers the engine built, pushed to the real registry in the forms other tools push:
an OCI manifest with plain or gzip layers, a Docker v2 manifest with plain layers, and an OCI index
of two platforms. Every form must read to the same files, so to the same report as the engine's.
Then the ways a read fails, each one line: a registry that is down, a manifest it does not know, a
blob whose stored bytes were damaged or cut short."""

from __future__ import annotations

import gzip
import io
import json
import socket
import subprocess
import sys
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.images import oci_push as push
from tests.integration.images.conftest import Registry

from bot.images.autopsy import autopsy
from bot.images.docker_reader import DockerImageReader
from bot.images.registry_reader import RegistryImageReader
from bot.ports import ImageReadError

pytestmark = [pytest.mark.docker, pytest.mark.registry, pytest.mark.slow]  # slow: a built image, coroner as a process


@dataclass(frozen=True)
class Saved:
    config: bytes
    layers: list[bytes]  # uncompressed tars, bottom first


def _saved(docker_client, ref: str) -> Saved:
    """The engine's own layer tars and config, from `docker save` (read whole: the test image is small)."""
    data = b"".join(docker_client.images.get(ref).save(named=False))
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        def read(name: str) -> bytes:
            member = archive.extractfile(name)
            assert member is not None, name
            return member.read()

        manifest = json.loads(read("manifest.json"))[0]
        return Saved(config=read(manifest["Config"]), layers=[read(name) for name in manifest["Layers"]])


def _summary(report):
    findings = sorted((f.rule, f.evidence.get("layer"), f.evidence.get("bytes")) for f in report.findings)
    return report.totals, findings, [layer.size_bytes for layer in report.layers], [layer.top_paths for layer in report.layers]


@pytest.fixture(scope="module")
def saved(docker_client, built_image) -> Saved:
    return _saved(docker_client, built_image.local)


@pytest.fixture(scope="module")
def engine_summary(docker_client, built_image):
    return _summary(autopsy(DockerImageReader(docker_client), built_image.local))


def _client(registry_url: str) -> httpx.Client:
    return httpx.Client(base_url=f"http://{registry_url}", timeout=60)


@pytest.mark.parametrize(("manifest_type", "config_type", "layer_type", "compress"), [
    (push.OCI_MANIFEST, push.OCI_CONFIG, push.OCI_LAYER, False),
    (push.OCI_MANIFEST, push.OCI_CONFIG, push.OCI_LAYER_GZIP, True),
    (push.DOCKER_MANIFEST, push.DOCKER_CONFIG, push.DOCKER_LAYER, False),
], ids=["oci-plain", "oci-gzip", "docker-plain"])
def test_every_manifest_and_layer_form_gives_the_engines_report(registry_url, saved, engine_summary,
                                                                 manifest_type, config_type, layer_type, compress):
    name = f"coroner-forms-{uuid.uuid4().hex[:8]}"
    layers = [gzip.compress(layer, compresslevel=1) if compress else layer for layer in saved.layers]
    with _client(registry_url) as client:
        push.push_image(client, name, "v1", config=saved.config, layers=layers,
                        manifest_type=manifest_type, config_type=config_type, layer_type=layer_type)
    report = autopsy(RegistryImageReader(), f"{registry_url}/{name}:v1")
    assert _summary(report) == engine_summary
    assert [(layer.compressed, layer.stored_bytes) for layer in report.layers] == [(compress, len(blob)) for blob in layers]


def test_an_index_of_two_platforms_reads_the_one_asked_for(registry_url, saved, engine_summary):
    name = f"coroner-index-{uuid.uuid4().hex[:8]}"
    config = json.loads(saved.config)
    # The arm64 image: the same base layer alone, as a build for another platform would differ.
    arm_config = json.dumps({**config, "architecture": "arm64", "rootfs": {"type": "layers", "diff_ids": config["rootfs"]["diff_ids"][:1]},
                             "history": config["history"][:1]}).encode()
    with _client(registry_url) as client:
        amd_digest, amd_size = push.push_image(client, name, "amd64", config=saved.config,
                                               layers=[gzip.compress(layer) for layer in saved.layers], layer_type=push.OCI_LAYER_GZIP)
        arm_digest, arm_size = push.push_image(client, name, "arm64", config=arm_config,
                                               layers=[gzip.compress(saved.layers[0])], layer_type=push.OCI_LAYER_GZIP)
        index = {"schemaVersion": 2, "mediaType": push.OCI_INDEX, "manifests": [
            {"mediaType": push.OCI_MANIFEST, "digest": arm_digest, "size": arm_size, "platform": {"os": "linux", "architecture": "arm64"}},
            {"mediaType": push.OCI_MANIFEST, "digest": amd_digest, "size": amd_size, "platform": {"os": "linux", "architecture": "amd64"}},
        ]}
        push.push_manifest(client, name, "multi", index, push.OCI_INDEX)
    ref = f"{registry_url}/{name}:multi"

    amd = autopsy(RegistryImageReader(), ref)
    assert _summary(amd) == engine_summary and amd.manifest.digest == amd_digest
    arm = autopsy(RegistryImageReader(platform="linux/arm64"), ref)
    assert (arm.manifest.architecture, arm.manifest.digest, len(arm.layers)) == ("arm64", arm_digest, 1)
    assert arm.totals.size_bytes == engine_summary[2][0]
    with pytest.raises(ImageReadError, match=r"has no linux/s390x image \(offers linux/arm64, linux/amd64\)"):
        RegistryImageReader(platform="linux/s390x").manifest(ref)


def _coroner_error(*args: str) -> str:
    """The CLI's stderr for a read that must fail: exit status 1 and exactly one line."""
    result = subprocess.run([str(Path(sys.executable).parent / "coroner"), "image", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_failures_are_one_line_each(registry_url, built_image):
    assert "image coroner-no-such-image:v9 not found in the Docker engine" in _coroner_error("coroner-no-such-image:v9", "--source", "docker")
    down = _coroner_error(f"127.0.0.1:{_closed_port()}/app:v1", "--source", "registry")
    assert "is unreachable" in down
    repository = built_image.remote.rsplit(":", 1)[0].split("/", 1)[1]
    missing = "sha256:" + "0" * 64
    unknown = _coroner_error(f"{registry_url}/{repository}@{missing}", "--source", "registry")
    assert f"image {registry_url}/{repository}:{missing} not found in the registry (MANIFEST_UNKNOWN" in unknown


def _push_one(registry: Registry, docker_client, built_image) -> tuple[str, str, bytes]:
    """The built image pushed again under a new name, its layers gzip; returns the ref, the digest of the
    largest layer blob and that blob."""
    saved = _saved(docker_client, built_image.local)
    name = f"coroner-damaged-{uuid.uuid4().hex[:8]}"
    blobs = [gzip.compress(layer, compresslevel=1) for layer in saved.layers]
    with _client(registry.url) as client:
        push.push_image(client, name, "v1", config=saved.config, layers=blobs, layer_type=push.OCI_LAYER_GZIP)
    biggest = max(blobs, key=len)
    return f"{registry.url}/{name}:v1", push.digest_of(biggest), biggest


def test_a_blob_damaged_in_the_store_is_named_corrupt(registry, docker_client, built_image):
    ref, digest, blob = _push_one(registry, docker_client, built_image)
    # Same length, other bytes past the gzip header: the registry serves them as stored, without a check.
    damaged = blob[:100] + bytes(b ^ 0x55 for b in blob[100:200]) + blob[200:]
    registry.blob_path(digest).write_bytes(damaged)
    line = _coroner_error(ref, "--source", "registry")
    assert f"({digest}) of {ref.split('/', 1)[1].rsplit(':', 1)[0]} is corrupt: its {len(blob)} bytes hash to sha256:" in line
    assert line.endswith("not to the digest the manifest names")


def test_a_blob_cut_short_in_the_store_is_named_truncated(registry, docker_client, built_image):
    ref, digest, blob = _push_one(registry, docker_client, built_image)
    registry.blob_path(digest).write_bytes(blob[: len(blob) // 2])
    line = _coroner_error(ref, "--source", "registry")
    assert f"({digest}) of {ref.split('/', 1)[1].rsplit(':', 1)[0]} is truncated: the registry sent {len(blob) // 2} of its {len(blob)} bytes" in line
