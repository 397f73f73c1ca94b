"""Streaming tar reading: one pass, `r|` mode, never a whole layer in memory.

Layers arrive as HTTP bodies or as members of a `docker save` stream, so everything here works on
non-seekable file objects. `ChunkStream` adapts an iterator of byte chunks (httpx, docker-py) to the
`read()` interface tarfile wants.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import zlib
from dataclasses import dataclass, replace
from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING, Literal

from bot.deadline import NO_DEADLINE, Deadline
from bot.images import classify
from bot.images.blobcheck import HashingStream, StreamDigest
from bot.images.model import FileEntry
from bot.printable import printable

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

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

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer)
        while len(self._pending) - self._offset == 0:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
            self._offset = 0
        n = min(len(view), len(self._pending) - self._offset)
        view[:n] = memoryview(self._pending)[self._offset : self._offset + n]
        self._offset += n
        return n


class PrefixedStream(io.RawIOBase):
    """Puts back bytes already read (a peeked header) in front of a stream."""

    def __init__(self, prefix: bytes, rest: IO[bytes] | io.RawIOBase) -> None:
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer)
        if self._prefix:
            n = min(len(view), len(self._prefix))
            view[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        readinto = getattr(self._rest, "readinto", None)
        if readinto is not None:
            return readinto(view) or 0
        data = self._rest.read(len(view))
        n = len(data)
        view[:n] = data
        return n


def normalise(name: str) -> str:
    """`./usr/bin/` -> `usr/bin`; "" for the root itself. Printable (`bot.printable.printable`)."""
    cleaned = posixpath.normpath("/" + name).lstrip("/")
    return "" if cleaned == "." else printable(cleaned)


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
        link_target=printable(member.linkname) if member.linkname else None,
    )


_TAR_MODES: dict[str, Literal["r|", "r|gz", "r|*"]] = {"": "r|", "gz": "r|gz", "*": "r|*"}


def iter_tar(fileobj: IO[bytes], *, compression: str = "") -> Iterator[FileEntry]:
    """Entries of an (optionally gzip) tar read in one streaming pass. `compression` is "", "gz" or "*"."""
    mode = _TAR_MODES[compression]
    with tarfile.open(fileobj=fileobj, mode=mode, bufsize=TAR_BUFSIZE) as archive:
        for member in archive:
            entry = entry_from_member(member)
            if entry is not None:
                yield entry


def open_layer_stream(raw: IO[bytes] | io.RawIOBase) -> tuple[IO[bytes], str]:
    """Sniff the compression of a layer blob and return a stream of the plain tar plus what was found.

    gzip is left to tarfile (`r|gz`); zstd needs the optional `zstandard` package.
    """
    head = raw.read(4)
    stream: IO[bytes] = io.BufferedReader(PrefixedStream(head, raw), buffer_size=TAR_BUFSIZE)
    if head.startswith(GZIP_MAGIC):
        return stream, "gz"
    if head == ZSTD_MAGIC:
        try:
            import zstandard
        except ImportError as exc:
            raise UnsupportedLayer("zstd-compressed layer: install the `zstandard` package to read it") from exc
        return zstandard.ZstdDecompressor().stream_reader(stream), ""
    return stream, ""


class GzipStream(io.RawIOBase):
    """Plain bytes of a gzip stream (several members allowed), decompressed a chunk at a time."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._inflate = zlib.decompressobj(wbits=31)
        self._out = b""
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer)
        while self._offset >= len(self._out):
            if self._inflate.eof:
                rest = self._inflate.unused_data
                self._inflate = zlib.decompressobj(wbits=31)
                if rest:
                    self._out, self._offset = self._inflate.decompress(rest, TAR_BUFSIZE), 0
                    continue
            data = self._inflate.unconsumed_tail or self._raw.read(TAR_BUFSIZE)
            if not data:
                return 0
            self._out, self._offset = self._inflate.decompress(data, TAR_BUFSIZE), 0
        n = min(len(view), len(self._out) - self._offset)
        view[:n] = memoryview(self._out)[self._offset : self._offset + n]
        self._offset += n
        return n


class LayerError(Exception):
    """A layer this reader cannot read; readers turn it into an `ImageReadError` that names the layer."""


class UnsupportedLayer(LayerError):
    """A layer format this reader cannot decode (zstd without the `zstandard` package)."""


class MalformedLayer(LayerError):
    """Bytes that are not a tar this reader accepts: a broken header, a bad PAX record, a bomb."""


class BoundedStream(io.RawIOBase):
    """The next `size` bytes of a stream (one tar member's data), without copying them anywhere."""

    def __init__(self, raw: IO[bytes], size: int) -> None:
        self._raw = raw
        self.remaining = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self.remaining <= 0:
            return 0
        view = memoryview(buffer)
        view = view[: min(len(view), self.remaining)]
        n = self._raw.readinto(view)  # type: ignore[attr-defined]
        if not n:
            raise EOFError("tar member truncated")
        self.remaining -= n
        return n


_SKIP = bytearray(TAR_BUFSIZE)


def _read_exact(raw: IO[bytes], size: int) -> bytes:
    data = raw.read(size)
    if len(data) != size:
        raise EOFError("unexpected end of tar stream")
    return data


def skip(raw: IO[bytes], size: int, deadline: Deadline = NO_DEADLINE) -> None:
    view = memoryview(_SKIP)
    while size > 0:
        n = raw.readinto(view[: min(size, len(view))])  # type: ignore[attr-defined]
        if not n:
            raise EOFError("unexpected end of tar stream")
        size -= n
        if size > 0:  # a gzip bomb inflates without touching the network: time is checked per megabyte
            deadline.check("reading a layer")


def _size(text: str, what: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise MalformedLayer(f"{what} {text[:40]!r} is not a size")
    return int(text)


def _pax(data: bytes) -> dict[str, str]:
    """PAX records, `<length> <key>=<value>\\n`, each length counting the whole record. Parsed as Go's
    archive/tar does: a length that does not move forward or runs past the header is an error."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos, pos + 21)
        digits = data[pos:space] if space > pos else b""
        if not digits.isdigit():
            raise MalformedLayer(f"PAX record at byte {pos} has no length")
        length = int(digits)
        end = pos + length
        if length <= len(digits) + 1 or end > len(data) or data[end - 1 : end] != b"\n":
            raise MalformedLayer(f"PAX record at byte {pos} has a bad length ({length})")
        key, equals, value = data[space + 1 : end - 1].partition(b"=")
        if not key or not equals:
            raise MalformedLayer(f"PAX record at byte {pos} is not key=value")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos = end
    return records


@dataclass(frozen=True)
class LayerLimits:
    """What one layer may make the reader hold. Every tar header costs 512 bytes of input, but input can
    be a gzip bomb, so headers are bounded here rather than by the download budget."""

    # One PAX or GNU long-name header, and all of those before one member (Go's archive/tar allows 1 MiB).
    max_extended_header: int = 1 << 20
    max_entries: int = 1_000_000
    max_name_bytes: int = 128 << 20  # paths and link targets kept for the walk


class _HeaderBudget:
    """Counts extended-header bytes: per member (reset by each member) and for the layer's global headers."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.member = 0
        self.layer_global = 0

    def take(self, size: int, *, is_global: bool, what: str) -> None:
        if is_global:
            self.layer_global += size
            used = self.layer_global
        else:
            self.member += size
            used = self.member
        if size > self.limit:
            raise MalformedLayer(f"{what} header of {size} bytes is over the limit of {self.limit} bytes")
        if used > self.limit:
            whose = "global headers" if is_global else "headers before one member"
            raise MalformedLayer(f"{what} {whose} add up to {used} bytes, over the limit of {self.limit} bytes")


_NO_DATA_TYPES = (tarfile.SYMTYPE, tarfile.DIRTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE)


def iter_members(
    raw: IO[bytes], *, limits: LayerLimits = LayerLimits(), deadline: Deadline = NO_DEADLINE
) -> Iterator[tuple[tarfile.TarInfo, BoundedStream]]:
    """A fast streaming tar reader for the hot path: headers parsed by tarfile, data skipped with
    `readinto` into one reusable buffer. PAX (`x`, `g`) and GNU long names (`L`, `K`) are applied;
    each member's data is offered as a `BoundedStream` and skipped if the caller does not read it.
    `raw` must support `readinto` (wrap it in `io.BufferedReader`). Raises `MalformedLayer`."""
    global_pax: dict[str, str] = {}
    pending: dict[str, str] = {}
    budget = _HeaderBudget(limits.max_extended_header)
    members = 0
    while True:
        block = raw.read(512)
        if len(block) < 512 or not any(block):
            return
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except (tarfile.HeaderError, ValueError) as exc:
            raise MalformedLayer(f"tar header after {members} members: {exc}") from exc
        if info.size < 0:
            raise MalformedLayer(f"tar header after {members} members has a negative size")
        padded = (info.size + 511) & ~511
        if info.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE):
            is_global = info.type == tarfile.XGLTYPE
            budget.take(info.size, is_global=is_global, what="PAX")
            records = _pax(_read_exact(raw, padded)[: info.size])
            (global_pax if is_global else pending).update(records)
            continue
        if info.type in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
            budget.take(info.size, is_global=False, what="GNU long-name")
            value = _read_exact(raw, padded)[: info.size].rstrip(b"\0").decode("utf-8", "surrogateescape")
            pending["path" if info.type == tarfile.GNUTYPE_LONGNAME else "linkpath"] = value
            continue
        members += 1
        if members > limits.max_entries:
            raise MalformedLayer(f"more than {limits.max_entries} entries")
        if not members & 255:
            deadline.check("reading a layer")
        overrides = {**global_pax, **pending} if global_pax else pending
        pending = {}
        budget.member = 0
        if "path" in overrides:
            info.name = overrides["path"]
        if "linkpath" in overrides:
            info.linkname = overrides["linkpath"]
        if "size" in overrides:
            info.size = _size(overrides["size"], "PAX size")
            padded = (info.size + 511) & ~511
        if info.type in _NO_DATA_TYPES:
            data_size, padded = 0, 0
        else:
            data_size = info.size
        body = BoundedStream(raw, data_size)
        yield info, body
        skip(raw, body.remaining + (padded - data_size), deadline)


def _read_body(body: BoundedStream) -> bytes:
    data = bytearray(body.remaining)
    view = memoryview(data)
    got = 0
    while got < len(data):
        got += body.readinto(view[got:])
    return bytes(data)


def iter_tar_fast(
    raw: IO[bytes], *, limits: LayerLimits = LayerLimits(), deadline: Deadline = NO_DEADLINE
) -> Iterator[FileEntry]:
    name_bytes = 0
    for info, body in iter_members(raw, limits=limits, deadline=deadline):
        entry = entry_from_member(info)
        if entry is None:
            continue
        name_bytes += len(entry.path) + len(entry.link_target or "")
        if name_bytes > limits.max_name_bytes:
            raise MalformedLayer(f"more than {limits.max_name_bytes} bytes of names")
        name = entry.path.rpartition("/")[2]
        if entry.kind == "file" and name in classify.PEEKED_NAMES and entry.size_bytes <= classify.PEEK_MAX_BYTES:
            entry = replace(entry, token=classify.holds_token(name, _read_body(body)))
        yield entry


def iter_layer_blob(
    raw: IO[bytes] | io.RawIOBase,
    *,
    limits: LayerLimits = LayerLimits(),
    deadline: Deadline = NO_DEADLINE,
    plain: StreamDigest | None = None,
) -> Iterator[FileEntry]:
    """The entries of a layer blob (plain, gzip or zstd tar). Raises `LayerError` for a layer that cannot
    be read, `EOFError` for a truncated one and `DeadlineExceeded` when time runs out.

    `plain`, given, hashes the uncompressed tar (what a diff id names), to its last byte: what follows
    the end-of-archive blocks is read once the entries are out."""
    opened, compression = open_layer_stream(raw)
    decoded: IO[bytes] | io.RawIOBase = GzipStream(opened) if compression == "gz" else opened
    if plain is not None:
        decoded = HashingStream(decoded, plain)
    if isinstance(decoded, io.RawIOBase):
        stream: IO[bytes] = io.BufferedReader(decoded, buffer_size=TAR_BUFSIZE)
    elif not hasattr(decoded, "readinto"):  # BufferedReader reads through readinto: PrefixedStream adds it
        stream = io.BufferedReader(PrefixedStream(b"", decoded), buffer_size=TAR_BUFSIZE)
    else:
        stream = decoded
    yield from iter_tar_fast(stream, limits=limits, deadline=deadline)
    if plain is not None:
        while stream.read(TAR_BUFSIZE):
            deadline.check("reading a layer")
