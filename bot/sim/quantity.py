"""Kubernetes resource quantities ("100Gi", "512Mi", "1.5G") as integers of bytes, and back.

Scenario files write sizes the way manifests do; the sim serves them back as the API does (strings in
`capacity`, integers of bytes in the kubelet summary). The quantity grammar itself lives once, in
`bot.units.parse_quantity`.
"""

from __future__ import annotations

from bot.units import QuantityError, parse_quantity

_BINARY = (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024))


def parse_bytes(value: int | float | str) -> int:
    """Bytes from an int or a quantity string (fractions truncated); raises ValueError on anything else."""
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    try:
        size = int(parse_quantity(value))
    except QuantityError as exc:
        raise ValueError(f"not a quantity: {value!r} (use bytes or 100Gi, 512Mi, 1.5G)") from exc
    if size < 0:
        raise ValueError(f"not a size: {value!r} is negative")
    return size


def format_binary(n: int) -> str:
    """The Ki/Mi/Gi string the kubelet reports in `capacity`, exact when possible."""
    for suffix, unit in _BINARY:
        if n >= unit and n % unit == 0:
            return f"{n // unit}{suffix}"
    if n == 0:
        return "0Ki"
    return str(n)
