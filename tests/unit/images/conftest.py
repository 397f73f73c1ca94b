"""Fixtures of the images feature's unit tests; the doubles live in tests/doubles/images.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.doubles.images import RegistryDouble


@pytest.fixture
def registry() -> Iterator[RegistryDouble]:
    double = RegistryDouble()
    yield double
    double.close()


@pytest.fixture
def auth_registry() -> Iterator[RegistryDouble]:
    double = RegistryDouble(token="t0ken")
    yield double
    double.close()
