"""Bytes checked against the digest that names them, while they stream past.

A registry that serves other bytes than the digest (a corrupt store, a proxy that rewrote the body, a
blob cut short at exactly a tar boundary), or an engine export whose layer is not the one its image
config names (`rootfs.diff_ids`), would otherwise be reported as a valid image. The walk stops reading
at the tar's end-of-archive blocks, so what is left (padding, the gzip trailer) is read and hashed
before the comparison.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from bot.ports import ImageReadError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class BlobDigestMismatch(ImageReadError):
    """The bytes read do not hash to the digest that names them."""


class StreamDigest:
    """A running digest of the bytes that pass, and the one-line verdict against the expected one."""

    def __init__(self, algorithm: str = "sha256") -> None:
        self.algorithm = algorithm
        self._hash = hashlib.new(algorithm)
        self.bytes = 0

    def update(self, data: bytes | memoryview) -> None:
        self._hash.update(data)
        self.bytes += len(data)

    def chunks(self, source: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in source:
            self.update(chunk)
            yield chunk

    @property
    def digest(self) -> str:
        return f"{self.algorithm}:{self._hash.hexdigest()}"

    def verify(self, expected: str, what: str, *, named_by: str, measured: str = "bytes") -> None:
        """Raise `BlobDigestMismatch` (`what is corrupt: ...`) unless the bytes hashed to `expected`."""
        actual = self.digest
        if actual != expected:
            raise BlobDigestMismatch(f"{what} is corrupt: its {self.bytes} {measured} hash to {actual}, not to {named_by}")


class HashingStream(io.RawIOBase):
    """A read-only stream that feeds every byte read through it to `digest`."""

    def __init__(self, raw: IO[bytes] | io.RawIOBase, digest: StreamDigest) -> None:
        self._raw = raw
        self._digest = digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer)
        readinto = getattr(self._raw, "readinto", None)
        if readinto is not None:
            n = readinto(view) or 0
        else:
            data = self._raw.read(len(view))
            n = len(data)
            view[:n] = data
        self._digest.update(view[:n])
        return n


class DigestCheck(StreamDigest):
    """A registry blob against its descriptor's digest (and size, to tell truncated from corrupt)."""

    def __init__(self, digest: str, size: int | None = None) -> None:
        super().__init__(digest.partition(":")[0])  # `digest` was checked by `reference.check_digest`: sha256 or sha512
        self.expected = digest
        self.size = size  # the descriptor's, when the reader has it

    def drain(self, rest: Iterator[bytes], what: str) -> None:
        """Hash what the reader left unread, then raise `BlobDigestMismatch` if the digests differ."""
        for _ in rest:
            pass
        if self.digest != self.expected and self.size is not None and self.bytes < self.size:
            raise BlobDigestMismatch(f"{what} is truncated: the registry sent {self.bytes} of its {self.size} bytes")
        self.verify(self.expected, what, named_by="the digest the manifest names")
