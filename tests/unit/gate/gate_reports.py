"""Image reports for the gate's unit tests, made by the real autopsy from an in-memory reader whose layer
digests are their contents' hash: two images built on the same base share its layers, as in a registry."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

from bot.deadline import NO_DEADLINE, Deadline
from bot.images.autopsy import ImageReport, autopsy
from bot.images.model import (
    FileEntry,
    HistoryEntry,
    ImageConfig,
    ImageManifest,
    LayerRef,
)
from bot.images.errors import ByteBudgetExceeded
from bot.ports import ImageNotFound

MB = 1_000_000
Layer = tuple[str, Sequence[tuple[str, int]]]  # (created_by, [(path, bytes)])

BASE: Layer = ("/bin/sh -c #(nop) ADD file:base in / ", [("usr/lib/libc.so", 5 * MB), ("bin/sh", 1 * MB)])


class ContentReader:
    """`compressed`: the manifest gives gzip blobs of this share of the contents' size (a registry), else
    the uncompressed diff sizes (the Docker engine). `contents`: False refuses every layer's contents (a
    registry reader out of its byte budget), so the report has the manifest's sizes only; an int N reads
    layers 0 to N-1 and runs out of budget at layer N, as a real reader does part way through an image."""

    def __init__(self, *, compressed: float | None = None, contents: bool | int = True) -> None:
        self.images: dict[str, tuple[ImageManifest, dict[str, list[FileEntry]]]] = {}
        self.compressed = compressed
        self.contents = contents

    def add(self, ref: str, layers: Sequence[Layer], *, env: tuple[str, ...] = ()) -> None:
        refs, files = [], {}
        for i, (created_by, members) in enumerate(layers):
            digest = "sha256:" + hashlib.sha256(repr((created_by, list(members))).encode()).hexdigest()
            size = sum(size for _, size in members)
            if self.compressed is None:
                refs.append(LayerRef(index=i, digest=digest, size_bytes=size, diff_id=digest))
            else:
                refs.append(LayerRef(index=i, digest=digest, size_bytes=int(size * self.compressed), compressed=True,
                                     diff_id="sha256:diff-" + digest[7:]))
            files[digest] = [FileEntry(path=path, size_bytes=size) for path, size in members]
        manifest = ImageManifest(
            ref=ref, digest=None, config=ImageConfig(user="10001", env=env, healthcheck=("CMD", "true")),
            history=tuple(HistoryEntry(created_by=c) for c, _ in layers), layers=tuple(refs),
        )
        self.images[ref] = (manifest, files)

    def manifest(self, ref: str, *, deadline: Deadline = NO_DEADLINE) -> ImageManifest:
        if ref not in self.images:
            raise ImageNotFound(f"image {ref} not found")
        return self.images[ref][0]

    def layer_files(self, ref: str, layer: LayerRef, *, deadline: Deadline = NO_DEADLINE) -> Iterator[FileEntry]:
        if self.contents is False or (self.contents is not True and layer.index >= self.contents):
            raise ByteBudgetExceeded(f"download budget exhausted in layer {layer.index}")
        return iter(self.images[ref][1][layer.digest])


def report(ref: str, layers: Sequence[Layer], *, env: tuple[str, ...] = (), dockerfile: str | None = None,
           compressed: float | None = None, contents: bool | int = True) -> ImageReport:
    reader = ContentReader(compressed=compressed, contents=contents)
    reader.add(ref, layers, env=env)
    return autopsy(reader, ref, dockerfile_text=dockerfile, dockerfile_path="Dockerfile" if dockerfile else None)
