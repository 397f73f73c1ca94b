"""The wheel holds every package under bot/, the two mapped directories and every data file: a new
subpackage or template cannot silently go missing from `pip install .` (setup.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Where each source directory lands in the wheel (setup.py's MAPPED, plus bot/ itself).
SOURCES = {"bot": "bot", "playbooks": "bot/playbooks", "migrations": "bot/migrations"}

pytestmark = [
    pytest.mark.slow,  # builds the wheel with pip (a few seconds, setuptools from the package index)
    pytest.mark.skipif(not (ROOT / "setup.py").exists(), reason="needs the source tree, not an installed copy"),
]


def source_files() -> dict[str, Path]:
    """Every file the wheel must hold, by its path in the wheel: sources, templates, YAML, py.typed, ..."""
    expected = {}
    for directory, target in SOURCES.items():
        for path in (ROOT / directory).rglob("*"):
            relative = path.relative_to(ROOT / directory)
            if path.is_file() and "__pycache__" not in relative.parts and path.suffix != ".pyc":
                expected[str(PurePosixPath(target, *relative.parts))] = path
    return expected


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    # Built from a clean copy: setuptools adds whatever an earlier build left in build/ to the wheel.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for directory in SOURCES:
        shutil.copytree(ROOT / directory, source / directory, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(source)],
                   check=True, capture_output=True, timeout=300)
    (built,) = out.glob("coroner-*.whl")
    return zipfile.ZipFile(built)


def test_every_package_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    packages = {str(PurePosixPath(name).parent) for name in source_files() if name.endswith("/__init__.py")}
    assert {"bot/jobs", "bot/lifecycle", "bot/playbooks", "bot/migrations/versions"} <= packages
    shipped = {str(PurePosixPath(name).parent) for name in wheel.namelist() if name.endswith("/__init__.py")}
    assert packages - shipped == set()


def test_every_data_file_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    expected = source_files()
    assert "bot/playbooks/diagnose.yaml" in expected and "bot/migrations/script.py.mako" in expected
    missing = sorted(set(expected) - set(wheel.namelist()))
    assert missing == []
    for name in ("bot/postmortem/templates/postmortem.md.j2", "bot/web/templates/postmortem.css"):
        assert wheel.read(name) == expected[name].read_bytes()


def test_py_typed_ships_once_it_exists(wheel: zipfile.ZipFile) -> None:
    if not (ROOT / "bot" / "py.typed").exists():
        pytest.skip("bot/py.typed does not exist yet")
    assert "bot/py.typed" in wheel.namelist()
