"""The sim's OCI registry: documents, blobs and errors as the distribution API serves them, with digests
that are the sha256 of what is served and layers that are real tars of the scenario's files."""

import gzip
import hashlib
import io
import json
import tarfile
import textwrap

import pytest

from bot.images.model import FileEntry
from bot.sim.registry import SimRegistry, build_layer
from bot.sim.scenario import load_scenario

SCENARIO = """
name: images
now: 2024-06-03T14:26:00Z
images:
  - ref: registry.internal:5000/team/api:1.2
    layer_compression: gzip
    created: 2024-06-03T14:00:00Z
    config: {user: "10001", cmd: [python, -m, api], env: ["PORT=8080"], exposed_ports: ["8080/tcp"],
             labels: {org.opencontainers.image.revision: abc123}, healthcheck: [CMD, curl, -f, "http://localhost/"]}
    history:
      - {created_by: "ADD rootfs.tar.xz / # buildkit"}
      - {created_by: "ENV PORT=8080", empty_layer: true}
      - {created_by: "COPY . /app # buildkit"}
    layers:
      - {size: 3Mi, files: [[bin/sh, 1Mi], {path: bin/bash, kind: hardlink, link_target: bin/sh}]}
      - files: [[app/main.py, 1234], [app/data/big.bin, 2Mi], {path: app/current, kind: symlink, link_target: main.py}]
  - ref: registry.internal:5000/team/api:1.1
    history: [{created_by: "COPY . /app"}]
    layers: [{files: [[app/main.py, 999]]}]
"""


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    path = tmp_path_factory.mktemp("s") / "images.yaml"
    path.write_text(textwrap.dedent(SCENARIO))
    return load_scenario(path)


@pytest.fixture(scope="module")
def registry(scenario):
    return SimRegistry(scenario)


def get(registry, path, method="GET"):
    answer = registry.handle(method, path)
    headers = dict(answer.headers)
    body = b"".join(answer.body)
    return answer.status, headers, body


def manifest(registry, tag="1.2"):
    status, headers, body = get(registry, f"/v2/team/api/manifests/{tag}")
    assert status == 200
    return headers, json.loads(body)


def test_base_and_tags(registry):
    assert get(registry, "/v2/")[0] == 200
    status, _, body = get(registry, "/v2/team/api/tags/list")
    assert status == 200 and json.loads(body) == {"name": "team/api", "tags": ["1.1", "1.2"]}
    assert registry.registries == {"registry.internal:5000"}


def test_manifest_by_tag_and_by_its_digest(registry):
    headers, document = manifest(registry)
    _, _, body = get(registry, "/v2/team/api/manifests/1.2")
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    assert headers["Docker-Content-Digest"] == digest
    assert headers["Content-Type"] == document["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert int(headers["Content-Length"]) == len(body)
    by_digest = get(registry, f"/v2/team/api/manifests/{digest}")
    assert by_digest[0] == 200 and by_digest[2] == body
    head = registry.handle("HEAD", f"/v2/team/api/manifests/{digest}")
    assert head.status == 200 and dict(head.headers)["Docker-Content-Digest"] == digest


def test_config_carries_the_evidence_and_the_real_diff_ids(registry, scenario):
    _, document = manifest(registry)
    config_digest = document["config"]["digest"]
    status, headers, body = get(registry, f"/v2/team/api/blobs/{config_digest}")
    assert status == 200 and "sha256:" + hashlib.sha256(body).hexdigest() == config_digest
    assert headers["Docker-Content-Digest"] == config_digest and document["config"]["size"] == len(body)
    config = json.loads(body)
    assert config["config"]["User"] == "10001" and config["config"]["Cmd"] == ["python", "-m", "api"]
    assert config["config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert config["config"]["Healthcheck"] == {"Test": ["CMD", "curl", "-f", "http://localhost/"]}
    assert [h.get("empty_layer", False) for h in config["history"]] == [False, True, False]
    assert config["created"] == "2024-06-03T14:00:00Z"
    for layer, diff_id in zip(document["layers"], config["rootfs"]["diff_ids"], strict=True):
        status, headers, blob = get(registry, f"/v2/team/api/blobs/{layer['digest']}")
        assert status == 200 and len(blob) == layer["size"] == int(headers["Content-Length"])
        assert "sha256:" + hashlib.sha256(blob).hexdigest() == layer["digest"]
        assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
        assert "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest() == diff_id


def members(blob, compressed=True):
    data = gzip.decompress(blob) if compressed else blob
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {m.name: m for m in archive.getmembers()}, archive, data


def test_layers_are_tars_of_the_listed_files_topped_up_to_the_declared_size(registry):
    _, document = manifest(registry)
    base = get(registry, f"/v2/team/api/blobs/{document['layers'][0]['digest']}")[2]
    entries, _, _ = members(base)
    assert entries["bin/sh"].size == 1 << 20 and entries["bin/sh"].isreg()
    assert entries["bin/bash"].islnk() and entries["bin/bash"].linkname == "bin/sh"
    unlisted = [m for name, m in entries.items() if "/sim-unlisted-" in name]
    assert sum(m.size for m in unlisted) == 2 << 20  # 3Mi declared, 1Mi listed: the rest beside bin/sh
    assert {m.name.rpartition("/")[0] for m in unlisted} == {"bin"} and all(m.size <= 256 << 10 for m in unlisted)
    app = get(registry, f"/v2/team/api/blobs/{document['layers'][1]['digest']}")[2]
    entries, _, data = members(app)
    assert entries["app/data/big.bin"].size == 2 << 20 and entries["app/current"].issym()
    assert not any("sim-unlisted" in name for name in entries)
    assert all(m.mtime == 1717423200 for m in entries.values())  # the image's created time
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        content = archive.extractfile("app/main.py").read()
    assert len(content) == 1234


def test_plain_tar_layers_by_default(registry):
    _, document = manifest(registry, "1.1")
    [layer] = document["layers"]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
    blob = get(registry, f"/v2/team/api/blobs/{layer['digest']}")[2]
    entries, _, _ = members(blob, compressed=False)
    assert entries["app/main.py"].size == 999
    assert "sha256:" + hashlib.sha256(blob).hexdigest() == layer["digest"]


@pytest.mark.slow  # hashes 1.25 GiB
def test_big_layers_are_streamed_in_small_pieces():
    gib = 1 << 30
    blob = build_layer((FileEntry(path="huge.bin", size_bytes=gib),), 0.0, "gzip")
    assert blob.tar_size > gib and blob.size < 8 << 20
    assert max(len(chunk) for chunk in blob.chunks()) <= 2 << 20
    plain = build_layer((FileEntry(path="huge.bin", size_bytes=256 << 20),), 0.0, "none")
    assert plain.size == plain.tar_size and plain.digest == plain.diff_id
    assert max(len(chunk) for chunk in plain.chunks()) <= 1 << 20


def test_gzip_trailer_matches_what_python_inflates():
    files = (FileEntry(path="a", size_bytes=5 * 1048512 + 77), FileEntry(path="b", size_bytes=3))
    blob = build_layer(files, 0.0, "gzip")
    data = gzip.decompress(b"".join(blob.chunks()))  # checks the CRC-32 and size in the trailer
    assert len(data) == blob.tar_size and "sha256:" + hashlib.sha256(data).hexdigest() == blob.diff_id


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/v2/nope/manifests/1", 404, "NAME_UNKNOWN"),
    ("GET", "/v2/team/api/manifests/9.9", 404, "MANIFEST_UNKNOWN"),
    ("GET", "/v2/team/api/manifests/sha256:" + "0" * 64, 404, "MANIFEST_UNKNOWN"),
    ("GET", "/v2/team/api/blobs/sha256:" + "0" * 64, 404, "BLOB_UNKNOWN"),
    ("GET", "/v2/team/api/blobs/latest", 400, "DIGEST_INVALID"),
    ("PUT", "/v2/team/api/manifests/1.2", 405, "UNSUPPORTED"),
    ("GET", "/v2/team/api/uploads/x", 404, "NOT_FOUND"),
])
def test_errors_in_the_distribution_format(registry, method, path, status, code):
    got, headers, body = get(registry, path, method)
    assert got == status and headers["Content-Type"] == "application/json"
    assert json.loads(body)["errors"][0]["code"] == code
