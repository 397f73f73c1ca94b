"""Kubernetes resource quantities ("100Gi", "512Mi", "1.5G", "250m") as integers of bytes or units.

Scenario files write sizes the way manifests do; the sim serves them back as the API does (strings in
`capacity`, integers of bytes in the kubelet summary).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIXES = {
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
    "Pi": 1024**5,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "": 1,
}
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGTP]i|[kKMGTP])?\s*$")


def parse_bytes(value: int | float | str) -> int:
    """Bytes from an int or a quantity string; raises ValueError on anything else."""
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    match = _QUANTITY.match(value)
    if not match:
        raise ValueError(f"not a quantity: {value!r} (use bytes or 100Gi, 512Mi, 1.5G)")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation as exc:  # pragma: no cover - the regex already filters
        raise ValueError(f"not a quantity: {value!r}") from exc
    return int(number * _SUFFIXES[match.group(2) or ""])


def format_binary(n: int) -> str:
    """The Ki/Mi/Gi string the kubelet reports in `capacity`, exact when possible."""
    for suffix in ("Ti", "Gi", "Mi", "Ki"):
        unit = _SUFFIXES[suffix]
        if n >= unit and n % unit == 0:
            return f"{n // unit}{suffix}"
    if n % 1024 == 0:
        return f"{n // 1024}Ki"
    return str(n)
