"""References typed by a user and documents sent by a registry are checked before anything is built from
them: a digest never becomes a path on the registry, a malformed manifest is one clear line."""

import json

import pytest
from click.testing import CliRunner
from tests.doubles.images import sha, tar_bytes

from bot.cli import main
from bot.images.reference import DOCKER_HUB, parse_reference
from bot.images.registry_reader import RegistryImageReader
from bot.ports import ImageReadError

HISTORY = [{"created_by": "/bin/sh -c #(nop) ADD file:abc in / "}]
LAYER = tar_bytes([("bin/", None), ("bin/sh", b"x" * 100)])
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
HOSTILE_DIGEST = "../../admin/delete?all=1"


@pytest.mark.parametrize(
    "text",
    [":", "", " ", "app:", ":tag", "app@", "@sha256:" + "a" * 64, "App:v1", "app:v1:v2", "app//x", "/app", "app/",
     "registry.example.com/", "registry.example.com:5000/../admin", "app:" + "t" * 129, "app:-lead",
     "app@sha256:../../admin", "app@sha256:abc", "app@md5:" + "a" * 32, "host:port/app", "a" * 256],
)
def test_malformed_references_are_refused(text):
    with pytest.raises(ValueError, match="not an image reference"):
        parse_reference(text)


@pytest.mark.parametrize(
    ("text", "registry", "repository", "reference"),
    [
        ("busybox", DOCKER_HUB, "library/busybox", "latest"),
        ("team/app:v1.2-rc_3", DOCKER_HUB, "team/app", "v1.2-rc_3"),
        ("localhost/app", "localhost", "app", "latest"),
        ("127.0.0.1:5000/team/sub/app:v1", "127.0.0.1:5000", "team/sub/app", "v1"),
        ("[::1]:5000/app:v1", "[::1]:5000", "app", "v1"),
        ("registry.example.com/a.b/c__d/e-f:V1", "registry.example.com", "a.b/c__d/e-f", "V1"),
        ("app:v1@sha256:" + "a" * 64, DOCKER_HUB, "library/app", "sha256:" + "a" * 64),
    ],
)
def test_well_formed_references_are_split_as_before(text, registry, repository, reference):
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.reference) == (registry, repository, reference)


def test_colon_alone_is_not_a_reference_and_goes_nowhere():
    result = CliRunner().invoke(main, ["image", ":", "--source", "registry"])
    assert result.exit_code == 1
    assert "not an image reference" in result.output
    assert "docker.io" not in result.output and "unreachable" not in result.output


def _image_with(registry, *, layer_digest: str | None = None, config_digest: str | None = None) -> str:
    registry.add_image("app", "v1", [LAYER], HISTORY)
    media, body = registry.manifests[("app", "v1")]
    document = json.loads(body)
    if layer_digest:
        document["layers"][0]["digest"] = layer_digest
    if config_digest:
        document["config"]["digest"] = config_digest
    registry.manifests[("app", "v1")] = (media, json.dumps(document).encode())
    return f"127.0.0.1:{registry.port}/app:v1"


def _requested_paths(registry) -> list[str]:
    return [path for path, _ in registry.seen]


def test_a_config_digest_that_is_a_path_is_never_requested(registry):
    ref = _image_with(registry, config_digest=HOSTILE_DIGEST)
    with pytest.raises(ImageReadError, match="not a digest") as info:
        RegistryImageReader().manifest(ref)
    assert "\n" not in str(info.value)
    assert not any("admin" in path or ".." in path for path in _requested_paths(registry))


def test_a_layer_digest_that_is_a_path_is_never_requested(registry):
    ref = _image_with(registry, layer_digest=HOSTILE_DIGEST)
    with pytest.raises(ImageReadError, match="not a digest"):  # noqa: PT012 - whichever step meets it refuses
        reader = RegistryImageReader()
        manifest = reader.manifest(ref)
        list(reader.layer_files(ref, manifest.layers[0]))
    assert not any("admin" in path or ".." in path for path in _requested_paths(registry))


def test_an_index_entry_whose_digest_is_a_path_is_never_requested(registry):
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": OCI_MANIFEST, "digest": HOSTILE_DIGEST, "size": 10,
                            "platform": {"os": "linux", "architecture": "amd64"}}]}
    registry.manifests[("app", "v1")] = ("application/vnd.oci.image.index.v1+json", json.dumps(index).encode())
    with pytest.raises(ImageReadError, match="not a digest"):
        RegistryImageReader().manifest(f"127.0.0.1:{registry.port}/app:v1")
    assert not any("admin" in path or ".." in path for path in _requested_paths(registry))


GOOD_DIGEST = sha(b"x")
MALFORMED_MANIFESTS = {
    "a-list": [],
    "config-a-string": {"schemaVersion": 2, "config": "x", "layers": []},
    "config-without-digest": {"schemaVersion": 2, "config": {"size": 1}, "layers": []},
    "digest-a-number": {"schemaVersion": 2, "config": {"digest": 5, "size": 1}, "layers": []},
    "layers-an-object": {"schemaVersion": 2, "config": {"digest": GOOD_DIGEST, "size": 1}, "layers": {"a": 1}},
    "layer-a-string": {"schemaVersion": 2, "config": {"digest": GOOD_DIGEST, "size": 1}, "layers": ["sha256:x"]},
    "size-not-a-number": {"schemaVersion": 2, "config": {"digest": GOOD_DIGEST, "size": 1},
                          "layers": [{"digest": GOOD_DIGEST, "size": "big"}]},
    "negative-size": {"schemaVersion": 2, "config": {"digest": GOOD_DIGEST, "size": 1},
                      "layers": [{"digest": GOOD_DIGEST, "size": -5}]},
    "index-entries-strings": {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                              "manifests": ["linux/amd64"]},
    "index-platform-a-string": {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                "manifests": [{"digest": GOOD_DIGEST, "platform": "linux/amd64"}]},
}


@pytest.mark.parametrize("name", list(MALFORMED_MANIFESTS))
def test_malformed_manifest_is_one_line(registry, name):
    registry.manifests[("app", "v1")] = (OCI_MANIFEST, json.dumps(MALFORMED_MANIFESTS[name]).encode())
    with pytest.raises(ImageReadError, match="malformed") as info:
        RegistryImageReader().manifest(f"127.0.0.1:{registry.port}/app:v1")
    assert "\n" not in str(info.value)


def test_a_manifest_nested_past_the_recursion_limit_is_one_line(registry):
    registry.manifests[("app", "v1")] = (OCI_MANIFEST, b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ImageReadError, match="app"):
        RegistryImageReader().manifest(f"127.0.0.1:{registry.port}/app:v1")


MALFORMED_CONFIGS = {
    "a-list": [],
    "rootfs-a-string": {"rootfs": "layers", "history": []},
    "diff-ids-numbers": {"rootfs": {"diff_ids": [1, 2]}, "history": []},
    "history-strings": {"rootfs": {"diff_ids": []}, "history": ["RUN x"]},
    "config-a-list": {"rootfs": {"diff_ids": []}, "config": ["User", "root"]},
    "env-a-string": {"rootfs": {"diff_ids": []}, "config": {"Env": 5}},
    "labels-a-list": {"rootfs": {"diff_ids": []}, "config": {"Labels": ["a"]}},
    "healthcheck-test-a-number": {"rootfs": {"diff_ids": []}, "config": {"Healthcheck": {"Test": 3}}},
}


@pytest.mark.parametrize("name", list(MALFORMED_CONFIGS))
def test_malformed_config_blob_is_one_line(registry, name):
    registry.add_image("app", "v1", [LAYER], HISTORY)
    media, body = registry.manifests[("app", "v1")]
    document = json.loads(body)
    document["config"]["digest"] = registry.add_blob(json.dumps(MALFORMED_CONFIGS[name]).encode())
    registry.manifests[("app", "v1")] = (media, json.dumps(document).encode())
    with pytest.raises(ImageReadError, match="malformed") as info:
        RegistryImageReader().manifest(f"127.0.0.1:{registry.port}/app:v1")
    assert "\n" not in str(info.value)


def test_an_oversized_manifest_is_refused_without_reading_it_all(registry):
    registry.manifests[("app", "v1")] = (OCI_MANIFEST, b'{"pad": "' + b"x" * (5 << 20) + b'"}')
    with pytest.raises(ImageReadError, match="larger than"):
        RegistryImageReader().manifest(f"127.0.0.1:{registry.port}/app:v1")
