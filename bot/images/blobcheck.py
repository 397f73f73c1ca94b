"""A blob's bytes checked against the digest its manifest names, while they stream past.

A registry that serves other bytes than the digest (a corrupt store, a proxy that rewrote the body, a
blob cut short at exactly a tar boundary) would otherwise be reported as a valid image. The walk stops
reading at the tar's end-of-archive blocks, so `drain` reads and hashes what is left (padding, the
gzip trailer) before the comparison.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from bot.ports import ImageReadError


class BlobDigestMismatch(ImageReadError):
    """The bytes a registry served do not hash to the digest that names them."""


class DigestCheck:
    def __init__(self, digest: str, size: int | None = None) -> None:
        algorithm, _, self._expected = digest.partition(":")
        self.digest = digest
        self.size = size  # the descriptor's, when the reader has it
        self._hash = hashlib.new(algorithm)  # `digest` was checked by `reference.check_digest`: sha256 or sha512
        self.bytes = 0

    def chunks(self, source: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in source:
            self._hash.update(chunk)
            self.bytes += len(chunk)
            yield chunk

    def drain(self, rest: Iterator[bytes], what: str) -> None:
        """Hash what the reader left unread, then raise `BlobDigestMismatch` if the digests differ."""
        for _ in rest:
            pass
        actual = self._hash.hexdigest()
        if actual == self._expected:
            return
        if self.size is not None and self.bytes < self.size:
            raise BlobDigestMismatch(f"{what} is truncated: the registry sent {self.bytes} of its {self.size} bytes")
        algorithm = self.digest.partition(":")[0]
        raise BlobDigestMismatch(
            f"{what} is corrupt: its {self.bytes} bytes hash to {algorithm}:{actual}, not to the digest the manifest names"
        )
