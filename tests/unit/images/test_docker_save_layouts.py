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
