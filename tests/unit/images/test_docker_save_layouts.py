"""`docker save` layouts, pre-25 and OCI (25+), both resolved through manifest.json."""

import io
import json
import os
import tarfile

import pytest
from tests.doubles.images import sha, tar_bytes

from bot.images.docker_reader import DockerImageReader
from bot.images.overlay import scan_diff

LAYER_A = tar_bytes([("bin/", None), ("bin/sh", b"x" * 700)])
LAYER_B = tar_bytes([("app/", None), ("app/.wh.old", b""), ("app/new", b"y" * 50)])
CONFIG = {"rootfs": {"type": "layers", "diff_ids": [sha(LAYER_A), sha(LAYER_B), sha(LAYER_A)]},
          "history": [{"created_by": "a"}, {"created_by": "b"}, {"created_by": "a again"}]}


def _tar(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data, link in members:
            info = tarfile.TarInfo(name)
            if link:
                info.type, info.linkname = tarfile.SYMTYPE, link
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class SavedImageDouble:
    """Stands in for a docker-py Image: only `id` and a `save()` that streams real tar bytes."""

    def __init__(self, data: bytes) -> None:
        self.id = "sha256:" + "c" * 64
        self._data = data

    def save(self, chunk_size: int, named: bool):
        for start in range(0, len(self._data), 7):  # small chunks stress the stream adapters
            yield self._data[start : start + 7]


def legacy_save() -> bytes:
    config_name = "c" * 64 + ".json"
    manifest = [{"Config": config_name, "RepoTags": ["app:1"], "Layers": ["aaa/layer.tar", "bbb/layer.tar", "ccc/layer.tar"]}]
    return _tar([
        ("aaa/layer.tar", LAYER_A, None), ("aaa/json", b'{"id": "aaa"}', None), ("bbb/layer.tar", LAYER_B, None),
        ("ccc/layer.tar", b"", "../aaa/layer.tar"),
        (config_name, json.dumps(CONFIG).encode(), None), ("manifest.json", json.dumps(manifest).encode(), None),
    ])


def oci_save() -> bytes:
    config = json.dumps(CONFIG).encode()
    blobs = {sha(LAYER_A): LAYER_A, sha(LAYER_B): LAYER_B, sha(config): config}
    manifest = [{"Config": "blobs/sha256/" + sha(config)[7:], "RepoTags": ["app:1"],
                 "Layers": ["blobs/sha256/" + sha(LAYER_A)[7:], "blobs/sha256/" + sha(LAYER_B)[7:], "blobs/sha256/" + sha(LAYER_A)[7:]]}]
    members = [("oci-layout", b'{"imageLayoutVersion": "1.0.0"}', None), ("index.json", b'{"manifests": []}', None)]
    members += [("blobs/sha256/" + digest[7:], data, None) for digest, data in sorted(blobs.items())]
    members += [("manifest.json", json.dumps(manifest).encode(), None)]
    return _tar(members)


@pytest.mark.parametrize("layout", [legacy_save, oci_save], ids=["pre-25", "oci"])
def test_both_save_layouts_resolve_layers_through_manifest_json(layout):
    saved = DockerImageReader(client=None, contents="save")._read_save(SavedImageDouble(layout()))
    assert [h["created_by"] for h in saved.config["history"]] == ["a", "b", "a again"]
    assert [e.path for e in saved.layers[sha(LAYER_A)]] == ["bin", "bin/sh"]
    assert [(e.path, e.size_bytes) for e in saved.layers[sha(LAYER_B)]] == [("app", 0), ("app/.wh.old", 0), ("app/new", 50)]


def test_overlay_diff_listing_converts_whiteouts_opaque_dirs_and_hardlinks(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a").write_bytes(b"z" * 10)
    os.link(tmp_path / "app" / "a", tmp_path / "app" / "b")
    (tmp_path / "opq").mkdir()
    try:
        os.mknod(tmp_path / "app" / "gone", 0o600 | 0o020000, os.makedev(0, 0))
        os.setxattr(tmp_path / "opq", "trusted.overlay.opaque", b"y")
    except (PermissionError, OSError) as exc:
        pytest.skip(f"needs root and trusted xattrs: {exc}")
    listed = [(e.path, e.size_bytes, e.kind) for e in scan_diff(str(tmp_path))]
    assert listed == [
        ("app", 0, "dir"), ("app/a", 10, "file"), ("app/b", 0, "hardlink"), ("app/.wh.gone", 0, "file"),
        ("opq", 0, "dir"), ("opq/.wh..wh..opq", 0, "file"),
    ]


def test_overlay_listing_peeks_at_npmrc_for_a_token(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / ".npmrc").write_bytes(b"//r/:_authToken=npm_s3cr3t\n")
    (tmp_path / ".npmrc").write_bytes(b"registry=https://r/\n")
    tokens = {e.path: e.token for e in scan_diff(str(tmp_path)) if e.kind == "file"}
    assert tokens == {".npmrc": False, "app/.npmrc": True}


def test_a_hostile_layer_in_a_save_is_one_line_naming_it():
    from tests.doubles.images import pax_layer

    from bot.ports import ImageReadError

    hostile = pax_layer(b"0 path=x\n")
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [sha(hostile)]}, "history": [{"created_by": "a"}]})
    manifest = [{"Config": "c.json", "RepoTags": ["app:1"], "Layers": ["aaa/layer.tar"]}]
    save = _tar([("aaa/layer.tar", hostile, None), ("c.json", config.encode(), None),
                 ("manifest.json", json.dumps(manifest).encode(), None)])
    with pytest.raises(ImageReadError, match="layer aaa/layer.tar of the saved image .* unreadable: PAX record") as info:
        DockerImageReader(client=None, contents="save")._read_save(SavedImageDouble(save), ref="app:1")
    assert "\n" not in str(info.value)


# -- layers checked against the config's rootfs.diff_ids (sha256 of the uncompressed tar) ------------

def _tampered(layer: bytes) -> bytes:
    """The same file list and sizes, one data byte changed: only the diff id can tell."""
    at = layer.index(b"y" * 50)
    return layer[:at] + b"z" + layer[at + 1 :]


def _save_with_layer_b(layer_b: bytes, layout: str) -> bytes:
    """A save of CONFIG (whose diff ids name the true LAYER_B) carrying `layer_b` in its place."""
    config = json.dumps(CONFIG).encode()
    if layout == "pre-25":
        manifest = [{"Config": "c.json", "RepoTags": ["app:1"], "Layers": ["aaa/layer.tar", "bbb/layer.tar", "aaa/layer.tar"]}]
        return _tar([("aaa/layer.tar", LAYER_A, None), ("bbb/layer.tar", layer_b, None), ("c.json", config, None),
                     ("manifest.json", json.dumps(manifest).encode(), None)])
    # OCI layout: the blob keeps the name of the digest it should have, as a damaged store would
    paths = ["blobs/sha256/" + sha(data)[7:] for data in (LAYER_A, LAYER_B, LAYER_A)]
    manifest = [{"Config": "blobs/sha256/" + sha(config)[7:], "RepoTags": ["app:1"], "Layers": paths}]
    return _tar([(paths[0], LAYER_A, None), (paths[1], layer_b, None), ("blobs/sha256/" + sha(config)[7:], config, None),
                 ("manifest.json", json.dumps(manifest).encode(), None)])


@pytest.mark.parametrize("layout", ["pre-25", "oci"])
def test_a_layer_whose_bytes_are_not_its_diff_id_is_one_line_naming_it(layout):
    from bot.ports import ImageReadError

    save = _save_with_layer_b(_tampered(LAYER_B), layout)
    with pytest.raises(ImageReadError) as info:
        DockerImageReader(client=None, contents="save")._read_save(SavedImageDouble(save), ref="app:1")
    message = str(info.value)
    assert message.startswith(f"layer 1 ({sha(LAYER_B)}) of app:1 is corrupt: its {len(LAYER_B)} uncompressed bytes "
                              f"hash to {sha(_tampered(LAYER_B))}, not to the diff id the image config names")
    assert "\n" not in message


def test_bytes_after_the_end_of_archive_count_in_the_diff_id():
    """The walk stops at the end-of-archive blocks; what follows them is hashed too."""
    from bot.ports import ImageReadError

    padded = LAYER_B + b"\x01" + bytes(511)
    with pytest.raises(ImageReadError, match=rf"layer 1 \({sha(LAYER_B)}\) of app:1 is corrupt: its {len(padded)} "):
        DockerImageReader(client=None, contents="save")._read_save(SavedImageDouble(_save_with_layer_b(padded, "oci")),
                                                                   ref="app:1")


def test_a_gzip_layer_in_a_save_is_checked_on_its_uncompressed_bytes():
    import gzip

    saved = DockerImageReader(client=None, contents="save")._read_save(
        SavedImageDouble(_save_with_layer_b(gzip.compress(LAYER_B), "pre-25")), ref="app:1")
    assert [e.path for e in saved.layers[sha(LAYER_B)]] == ["app", "app/.wh.old", "app/new"]


def test_a_diff_id_that_is_not_sha256_is_one_line():
    from bot.ports import ImageReadError

    config = dict(CONFIG, rootfs={"type": "layers", "diff_ids": ["md5:" + "0" * 32, sha(LAYER_B), sha(LAYER_A)]})
    manifest = [{"Config": "c.json", "RepoTags": ["app:1"], "Layers": ["aaa/layer.tar", "bbb/layer.tar", "aaa/layer.tar"]}]
    save = _tar([("aaa/layer.tar", LAYER_A, None), ("bbb/layer.tar", LAYER_B, None),
                 ("c.json", json.dumps(config).encode(), None), ("manifest.json", json.dumps(manifest).encode(), None)])
    with pytest.raises(ImageReadError, match=r"^layer 0 of app:1: its diff id 'md5:0+' is not a sha256 digest$"):
        DockerImageReader(client=None, contents="save")._read_save(SavedImageDouble(save), ref="app:1")
