from decimal import Decimal

import pytest

from bot.units import QuantityError, human_bytes, parse_quantity, quantity_bytes


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (4509715660, "4.2 GB"),
        (81579212, "77.8 MB"),
        (300 * 1024**2, "300 MB"),
        (int(2.1 * 1024**3), "2.1 GB"),
        (int(1.8 * 1024**3), "1.8 GB"),
        (800 * 1024**2, "800 MB"),
        (220 * 1024**2, "220 MB"),
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1 KB"),
        (1024**2 - 1, "1 MB"),  # rounds up into the next unit instead of printing "1024 KB"
        (-(220 * 1024**2), "-220 MB"),
    ],
)
def test_human_bytes_reads_like_the_incident_report(size: int, text: str) -> None:
    assert human_bytes(size) == text


def test_human_bytes_si_uses_powers_of_1000() -> None:
    assert human_bytes(4_200_000_000, si=True) == "4.2 GB"
    assert human_bytes(77_800_000, si=True) == "77.8 MB"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("512Mi", Decimal(512 * 1024**2)),
        ("2Gi", Decimal(2 * 1024**3)),
        ("100m", Decimal("0.1")),
        ("1.5", Decimal("1.5")),
        ("1e3", Decimal(1000)),
        ("2k", Decimal(2000)),
        ("3M", Decimal(3_000_000)),
        (" 1Ki ", Decimal(1024)),
    ],
)
def test_parse_quantity(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


def test_quantity_bytes_rounds_up() -> None:
    assert quantity_bytes("1.5Ki") == 1536
    assert quantity_bytes("1500m") == 2


@pytest.mark.parametrize("text", ["", "Mi", "12XB", "1.2.3", "ten"])
def test_parse_quantity_rejects_garbage(text: str) -> None:
    with pytest.raises(QuantityError, match="not a Kubernetes quantity"):
        parse_quantity(text)
