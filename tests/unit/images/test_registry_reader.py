import pytest
from tests.doubles.images import tar_bytes

from bot.images.autopsy import autopsy
from bot.images.registry_reader import RegistryImageReader
from bot.ports import ImageReadError

HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
    {"created_by": "/bin/sh -c #(nop)  ENV DB_PASSWORD=hunter2", "empty_layer": True},
    {"created_by": "/bin/sh -c #(nop) COPY dir:def in /app "},
]
LAYERS = [
    tar_bytes([("bin/", None), ("bin/sh", b"x" * 100)]),
    tar_bytes([("app/", None), ("app/.env", b"SECRET=1"), ("app/.git/", None), ("app/.git/HEAD", b"ref")]),
]


def test_reads_index_manifest_config_and_gzip_layers(registry):
    registry.add_image("team/app", "v1", LAYERS, HISTORY, index=True)
    reader = RegistryImageReader()
    manifest = reader.manifest(f"127.0.0.1:{registry.port}/team/app:v1")
    assert [h.empty_layer for h in manifest.history] == [False, True, False]
    assert len(manifest.layers) == 2 and all(layer.compressed for layer in manifest.layers)
    assert manifest.config.user == "app"
    files = [e.path for e in reader.layer_files(f"127.0.0.1:{registry.port}/team/app:v1", manifest.layers[1])]
    assert "app/.env" in files and "app/.git/HEAD" in files


def test_bearer_token_is_fetched_on_401_and_reused(auth_registry):
    auth_registry.add_image("app", "v1", LAYERS, HISTORY)
    reader = RegistryImageReader()
    report = autopsy(reader, f"127.0.0.1:{auth_registry.port}/app:v1")
    assert len(auth_registry.token_requests) == 1
    assert "scope=repository%3Aapp%3Apull" in auth_registry.token_requests[0]
    rules = {f.rule for f in report.findings}
    assert {"secret-file", "vcs-directory", "secret-in-history"} <= rules
    text = str(report.to_json())
    assert "hunter2" not in text and "SECRET=1" not in text


def test_unknown_image_is_a_clear_error(registry):
    with pytest.raises(ImageReadError, match="not found in the registry"):
        RegistryImageReader().manifest(f"127.0.0.1:{registry.port}/nope:v1")


def test_registry_down_is_a_clear_error_with_cause():
    with pytest.raises(ImageReadError, match="unreachable") as info:
        RegistryImageReader(timeout=2).manifest("127.0.0.1:9/app:v1")
    assert info.value.__cause__ is not None


def test_token_refused_is_a_clear_error(auth_registry):
    auth_registry.add_image("app", "v1", LAYERS, HISTORY)
    auth_registry.refuse_tokens = True
    with pytest.raises(ImageReadError, match="refused access to app: token service answered 401"):
        RegistryImageReader().manifest(f"127.0.0.1:{auth_registry.port}/app:v1")


def test_byte_budget_leaves_contents_unread_and_says_so(registry):
    registry.add_image("app", "v1", LAYERS, HISTORY)
    reader = RegistryImageReader(byte_budget=1)
    report = autopsy(reader, f"127.0.0.1:{registry.port}/app:v1")
    assert not report.totals.complete and report.totals.dive_efficiency is None
    assert registry.blob_requests.count(registry.manifests and next(iter(registry.blobs))) == 0
    assert any("budget" in note for note in report.notes)


def test_uncompressed_layers_are_read(registry):
    registry.add_image("app", "raw", LAYERS, HISTORY, gzip_layers=False)
    reader = RegistryImageReader()
    ref = f"127.0.0.1:{registry.port}/app:raw"
    manifest = reader.manifest(ref)
    assert not manifest.layers[0].compressed
    assert [e.path for e in reader.layer_files(ref, manifest.layers[0])] == ["bin", "bin/sh"]


def test_parallel_reads_give_the_same_report_and_respect_the_budget(registry):
    layers = [tar_bytes([(f"l{i}/", None), (f"l{i}/f", bytes(1000 * (i + 1)))]) for i in range(6)]
    history = [{"created_by": f"/bin/sh -c step {i}"} for i in range(6)]
    registry.add_image("many", "v1", layers, history)
    ref = f"127.0.0.1:{registry.port}/many:v1"
    sequential = autopsy(RegistryImageReader(), ref)
    parallel = autopsy(RegistryImageReader(), ref, workers=4)
    assert parallel.totals == sequential.totals and parallel.layers == sequential.layers
    reader = RegistryImageReader(byte_budget=sum(layer.stored_bytes for layer in sequential.layers[:3]))
    limited = autopsy(reader, ref, workers=4)
    assert [layer.contents_read for layer in limited.layers] == [True, True, True, False, False, False]
    assert reader.bytes_read <= reader.byte_budget


def test_corrupt_layer_blob_is_a_clear_error(registry):
    registry.add_image("app", "bad", LAYERS, HISTORY)
    manifest = RegistryImageReader().manifest(f"127.0.0.1:{registry.port}/app:bad")
    registry.blobs[manifest.layers[1].digest] = b"\x1f\x8b\x08\x00" + b"garbage" * 100
    with pytest.raises(ImageReadError, match=r"layer 1 \(sha256:\w+\) of app is corrupt: its 704 bytes hash to sha256:\w+, not to the digest"):
        list(RegistryImageReader().layer_files(f"127.0.0.1:{registry.port}/app:bad", manifest.layers[1]))


def test_a_blob_cut_short_or_swapped_is_named_as_such(registry):
    registry.add_image("app", "cut", LAYERS, HISTORY)
    manifest = RegistryImageReader().manifest(f"127.0.0.1:{registry.port}/app:cut")
    layer = manifest.layers[1]
    whole = registry.blobs[layer.digest]
    registry.blobs[layer.digest] = whole[: len(whole) // 2]
    with pytest.raises(ImageReadError, match=rf"layer 1 \({layer.digest}\) of app is truncated: the registry sent {len(whole) // 2} of its {len(whole)} bytes"):
        list(RegistryImageReader().layer_files(f"127.0.0.1:{registry.port}/app:cut", layer))
    # A good blob with bytes after it (a valid tar, read to its end) is caught by the digest alone.
    registry.blobs[layer.digest] = whole + bytes(4096)
    with pytest.raises(ImageReadError, match=rf"of app is corrupt: its {len(whole) + 4096} bytes hash to sha256:"):
        list(RegistryImageReader().layer_files(f"127.0.0.1:{registry.port}/app:cut", layer))


def test_npmrc_is_a_secret_only_with_a_literal_token(registry):
    # The reader peeks at .npmrc (a few bytes) as it streams by: a token makes it a secret-file,
    # a registry setting or an ${NPM_TOKEN} reference does not.
    layers = [tar_bytes([
        ("a/", None), ("a/.npmrc", b"registry=https://npm.example.com/\n//npm.example.com/:_authToken=npm_s3cr3t\n"),
        ("b/", None), ("b/.npmrc", b"//npm.example.com/:_authToken=${NPM_TOKEN}\n"),
        ("c/", None), ("c/.npmrc", b"registry=https://npm.example.com/\nsave-exact=true\n"),
    ])]
    registry.add_image("npm", "v1", layers, [{"created_by": "/bin/sh -c #(nop) COPY dir:a in / "}])
    report = autopsy(RegistryImageReader(), f"127.0.0.1:{registry.port}/npm:v1")
    secret_paths = [f.evidence["path"] for f in report.findings if f.rule == "secret-file"]
    assert secret_paths == ["a/.npmrc"]
    assert "npm_s3cr3t" not in str(report.to_json())
