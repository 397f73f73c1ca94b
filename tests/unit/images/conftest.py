"""Fixtures of the images feature's unit tests; the doubles live in images_fakes.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from images_fakes import RegistryDouble


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
