"""An image's size in one measure, so that the gate never divides a compressed size by an uncompressed one.

- `uncompressed`: what a node's imagefs holds once the layers are unpacked, and what the pull pressure
  charges each node. Known for a layer whose contents were read (their total), or whose blob is not
  compressed (the Docker engine's diff sizes).
- `compressed`: what a pull transfers, the registry's blob sizes. Known only for compressed blobs: the
  engine has no idea what the registry would send.

Growth is compared uncompressed when both images have that figure (it is the disk that fills, and it does
not move with how well the layers compress), else compressed when both have that, else not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from bot.images.autopsy import ImageReport, LayerReport

Measure = Literal["uncompressed", "compressed"]
UNCOMPRESSED: Measure = "uncompressed"
COMPRESSED: Measure = "compressed"
MEASURES: tuple[Measure, ...] = (UNCOMPRESSED, COMPRESSED)  # in order of preference


def layer_bytes(layer: LayerReport, measure: Measure) -> int | None:
    """The layer's size in `measure`, or None when the reader did not tell it."""
    if measure == UNCOMPRESSED:
        # A walked layer's size_bytes is its contents' total; an uncompressed blob's is its diff size.
        return layer.size_bytes if layer.contents_read or not layer.compressed else None
    return layer.stored_bytes if layer.compressed else None


def image_bytes(report: ImageReport, measure: Measure) -> int | None:
    """The sum of the layers in `measure`; None when one layer lacks it (a partial sum would be a mix)."""
    sizes = [layer_bytes(layer, measure) for layer in report.layers]
    if any(size is None for size in sizes):
        return None
    return sum(size for size in sizes if size is not None)


def common_measure(reports: Iterable[ImageReport]) -> Measure | None:
    """The first measure, in order of preference, that every report has."""
    held = list(reports)
    return next((m for m in MEASURES if all(image_bytes(r, m) is not None for r in held)), None)


def known_measures(report: ImageReport) -> str:
    """What `report` can say, for the could-not-compare message: "app:v1: compressed"."""
    held = [m for m in MEASURES if image_bytes(report, m) is not None]
    return f"{report.ref}: {' and '.join(held) or 'no complete size'}"
