"""Sizes as people read them at 3 AM: 1.8 GB, 600 MB (decimal, like `docker images`)."""

from __future__ import annotations


def human_bytes(size: int | float) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
