"""Streaming tar reading: one pass, `r|` mode, never a whole layer in memory.

Layers arrive as HTTP bodies or as members of a `docker save` stream, so everything here works on
non-seekable file objects. `ChunkStream` adapts an iterator of byte chunks (httpx, docker-py) to the
`read()` interface tarfile wants.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from collections.abc import Iterable, Iterator
from typing import IO

from bot.images.model import FileEntry

# tarfile reads in blocks of `bufsize`; its 10 KiB default makes a gigabyte layer cost 100k calls.
TAR_BUFSIZE = 1 << 20

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class ChunkStream(io.RawIOBase):
    """A read-only, non-seekable file over an iterator of byte chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        while len(self._pending) - self._offset == 0:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
            self._offset = 0
        n = min(len(buffer), len(self._pending) - self._offset)
        buffer[:n] = self._pending[self._offset : self._offset + n]
        self._offset += n
        return n


class PrefixedStream(io.RawIOBase):
    """Puts back bytes already read (a peeked header) in front of a stream."""

    def __init__(self, prefix: bytes, rest: IO[bytes]) -> None:
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n


def normalise(name: str) -> str:
    """`./usr/bin/` -> `usr/bin`; "" for the root itself."""
    cleaned = posixpath.normpath("/" + name).lstrip("/")
    return "" if cleaned == "." else cleaned


def _kind(member: tarfile.TarInfo) -> str:
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.islnk():
        return "hardlink"
    if member.isreg():
        return "file"
    return "other"


def entry_from_member(member: tarfile.TarInfo) -> FileEntry | None:
    path = normalise(member.name)
    if not path:
        return None
    kind = _kind(member)
    return FileEntry(
        path=path,
        # Hardlinks, symlinks and directories carry no data in a tar: their header size is 0, as dive counts.
        size_bytes=member.size if kind == "file" else 0,
        kind=kind,
        mode=member.mode,
        uid=member.uid,
        link_target=member.linkname or None,
    )


def iter_tar(fileobj: IO[bytes], *, compression: str = "") -> Iterator[FileEntry]:
    """Entries of an (optionally gzip) tar read in one streaming pass. `compression` is "", "gz" or "*"."""
    mode = f"r|{compression}" if compression else "r|"
    with tarfile.open(fileobj=fileobj, mode=mode, bufsize=TAR_BUFSIZE) as archive:
        for member in archive:
            entry = entry_from_member(member)
            if entry is not None:
                yield entry


def open_layer_stream(raw: IO[bytes]) -> tuple[IO[bytes], str]:
    """Sniff the compression of a layer blob and return a stream of the plain tar plus what was found.

    gzip is left to tarfile (`r|gz`); zstd needs the optional `zstandard` package.
    """
    head = raw.read(4)
    stream: IO[bytes] = io.BufferedReader(PrefixedStream(head, raw), buffer_size=TAR_BUFSIZE)
    if head.startswith(GZIP_MAGIC):
        return stream, "gz"
    if head == ZSTD_MAGIC:
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError as exc:
            raise UnsupportedLayer("zstd-compressed layer: install the `zstandard` package to read it") from exc
        return zstandard.ZstdDecompressor().stream_reader(stream), ""  # type: ignore[no-any-return]
    return stream, ""


def iter_layer_blob(raw: IO[bytes]) -> Iterator[FileEntry]:
    stream, compression = open_layer_stream(raw)
    yield from iter_tar(stream, compression=compression)


class UnsupportedLayer(Exception):
    """A layer format this reader cannot decode; readers turn it into `ImageReadError`."""
