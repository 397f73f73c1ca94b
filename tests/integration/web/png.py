"""A small PNG reader for the browser tests: 8-bit RGB or RGBA, non-interlaced, which is what Chromium writes.

Pure Python on purpose (no image library is a dependency). Rows are unfiltered with whole-row integer
arithmetic where the filter allows it (None, Up) and byte by byte where it does not (Sub, Average, Paeth).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {2: 3, 6: 4}  # colour type -> bytes per pixel at bit depth 8


class PngError(ValueError):
    """Not a PNG this reader understands."""


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    channels: int
    pixels: bytes  # rows top to bottom, `channels` bytes per pixel, no filter bytes

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        start = (y * self.width + x) * self.channels
        r, g, b = self.pixels[start:start + 3]
        return r, g, b

    def count(self, rgb: tuple[int, int, int], *, at_least: int) -> int:
        """How many pixels have exactly this colour, counting up to `at_least` (then it stops looking)."""
        if self.channels != 3:
            raise PngError("count() reads RGB images")
        needle = bytes(rgb)
        found = 0
        pos = self.pixels.find(needle)
        while pos != -1 and found < at_least:
            if pos % 3 == 0:  # a match across two pixels is not this colour
                found += 1
                pos = self.pixels.find(needle, pos + 3)
            else:
                pos = self.pixels.find(needle, pos + 1)
        return found

    def distinct_colours(self, *, limit: int) -> int:
        """Distinct colours among every 7th pixel, capped at `limit`: a blank page has one."""
        seen: set[bytes] = set()
        step = self.channels * 7
        for start in range(0, len(self.pixels) - self.channels, step):
            seen.add(self.pixels[start:start + 3])
            if len(seen) >= limit:
                break
        return len(seen)


def _add(a: bytes, b: bytes) -> bytes:
    """Bytewise (a + b) mod 256 in one big-integer step: add the low 7 bits, put the top bits back by XOR."""
    n = len(a)
    low = int.from_bytes(b"\x7f" * n, "big")
    high = int.from_bytes(b"\x80" * n, "big")
    x, y = int.from_bytes(a, "big"), int.from_bytes(b, "big")
    return (((x & low) + (y & low)) ^ ((x ^ y) & high)).to_bytes(n, "big")


def _unfilter(kind: int, row: bytes, prior: bytes, bpp: int) -> bytes:
    if kind == 0:
        return row
    if kind == 2:
        return _add(row, prior)
    out = bytearray(row)
    if kind == 1:
        for i in range(bpp, len(out)):
            out[i] = (out[i] + out[i - bpp]) & 0xFF
    elif kind == 3:
        for i in range(len(out)):
            left = out[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + ((left + prior[i]) >> 1)) & 0xFF
    elif kind == 4:
        for i in range(bpp):  # no left neighbour: Paeth predicts the byte above
            out[i] = (out[i] + prior[i]) & 0xFF
        for i in range(bpp, len(out)):
            a, b, c = out[i - bpp], prior[i], prior[i - bpp]
            pa, pb = abs(b - c), abs(a - c)  # |p - a| and |p - b| for p = a + b - c
            pc = abs(a + b - c - c)
            out[i] = (out[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    else:
        raise PngError(f"unknown filter type {kind}")
    return bytes(out)


def decode_png(data: bytes) -> Image:
    if not data.startswith(SIGNATURE):
        raise PngError("no PNG signature")
    pos, header, idat = len(SIGNATURE), None, bytearray()
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]:
            raise PngError(f"bad CRC in chunk {kind!r}")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None:
        raise PngError("no IHDR chunk")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in CHANNELS or interlace:
        raise PngError(f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}")
    bpp = CHANNELS[colour]
    stride = width * bpp
    raw = zlib.decompress(bytes(idat))
    if len(raw) != height * (stride + 1):
        raise PngError(f"{len(raw)} bytes of image data for {width}x{height}")
    rows, prior = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        prior = _unfilter(raw[start], raw[start + 1:start + 1 + stride], prior, bpp)
        rows.append(prior)
    return Image(width=width, height=height, channels=bpp, pixels=b"".join(rows))
