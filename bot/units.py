"""Sizes for people and quantities from Kubernetes.

`human_bytes` follows the incident report's convention: powers of 1024 labelled KB/MB/GB
(`human_bytes(4509715660) == "4.2 GB"`), the way `df -h` and most on-call notes write them. Pass
`si=True` for powers of 1000 (what `docker images` prints). Either way the text is stable: the same
number always gives the same string, which keeps rendered postmortems byte-identical.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_UNITS = ("B", "KB", "MB", "GB", "TB", "PB", "EB")


def human_bytes(size: int | float, *, si: bool = False) -> str:
    """`4509715660 -> "4.2 GB"`, `81579212 -> "77.8 MB"`, `314572800 -> "300 MB"`, `512 -> "512 B"`.

    One decimal below 100 of a unit, none above; a trailing ".0" is dropped. Negative sizes (deltas)
    keep their sign.
    """
    if size < 0:
        return "-" + human_bytes(-size, si=si)
    step = 1000 if si else 1024
    value = float(size)
    unit = 0
    # Pick the unit after rounding, so 1023.96 KB becomes "1 MB" rather than "1024 KB".
    while unit < len(_UNITS) - 1 and round(value, 1) >= step:
        value /= step
        unit += 1
    if unit == 0:
        return f"{int(size)} B"
    text = f"{value:.0f}" if value >= 100 else f"{value:.1f}".removesuffix(".0")
    return f"{text} {_UNITS[unit]}"


_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
# k8s.io/apimachinery resource.Quantity: <signed number><suffix>, suffix binary, decimal SI or e-notation.
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")


class QuantityError(ValueError):
    """Text that is not a Kubernetes quantity."""


def parse_quantity(text: str) -> Decimal:
    """Parse a Kubernetes quantity exactly: `"512Mi" -> 536870912`, `"100m" -> 0.1`, `"1e3" -> 1000`."""
    match = _QUANTITY.match(text.strip())
    if match is None:
        raise QuantityError(f"not a Kubernetes quantity: {text!r}")
    number, suffix = match.group(1), match.group(2) or ""
    try:
        value = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid decimals
        raise QuantityError(f"not a Kubernetes quantity: {text!r}") from exc
    if suffix in _BINARY:
        return value * _BINARY[suffix]
    if suffix in _DECIMAL:
        return value * _DECIMAL[suffix]
    return value * (Decimal(10) ** int(suffix[1:]))


def quantity_bytes(text: str) -> int:
    """A memory/storage quantity in whole bytes, rounded up as the kubelet does (`"1.5Ki" -> 1536`)."""
    value = parse_quantity(text)
    whole = int(value)
    return whole + 1 if value > whole else whole


def plural(count: int, noun: str) -> str:
    """`plural(1, "pod")` -> "1 pod", `plural(3, "other workload")` -> "3 other workloads"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
