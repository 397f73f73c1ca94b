"""The service markers follow the fixtures a test uses (tests/conftest.py), so `-m "not postgres"` leaves
out exactly the tests that would start PostgreSQL, and `-m "not slow"` the ones that take seconds, need a
service or start a Python process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_process import cli_env

ROOT = Path(__file__).resolve().parents[2]
STORE_TESTS = "tests/integration/store/test_repositories.py"

pytestmark = [pytest.mark.skipif(not (ROOT / STORE_TESTS).exists(), reason="needs the source tree's tests"), pytest.mark.slow]  # slow: collects the suite in pytest subprocesses


def pytest_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120, check=False)


def collected(*args: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-P", "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode in (0, 5), proc.stdout + proc.stderr  # 5: nothing selected
    return {line for line in proc.stdout.splitlines() if "::" in line}


def test_the_postgres_case_of_a_database_fixture_is_marked_and_the_sqlite_case_is_not() -> None:
    everything = collected(STORE_TESTS)
    on_postgres = collected(STORE_TESTS, "-m", "postgres")
    assert on_postgres and everything - on_postgres
    assert all("postgres" in test for test in on_postgres)
    assert not any("[postgres" in test for test in everything - on_postgres)


def test_a_test_that_receives_the_registry_fixture_is_marked_registry() -> None:
    # No module mark there: the marker comes from the registry_url fixture alone.
    hostile = "tests/integration/images/test_hostile_registry.py"
    assert collected(hostile, "-m", "registry") and collected(hostile, "-m", "not registry") == set()


def test_the_gigabyte_layer_is_slow() -> None:
    slow = collected("tests/unit/images/test_memory.py", "-m", "slow")
    assert slow and all("one_gigabyte" in test for test in slow)


def test_the_fast_subset_needs_no_service() -> None:
    services = "postgres or docker or registry or chromium"
    assert collected("-m", services)
    assert collected("-m", f"not slow and ({services})") == set()


SPAWNING = """
import subprocess
import sys

import pytest


def test_unmarked_python():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


@pytest.mark.slow
def test_marked_python():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_native_tool():
    subprocess.run(["true"], check=True)
"""


def test_a_test_that_starts_python_unmarked_fails_and_says_to_mark_it_slow(tmp_path: Path) -> None:
    (tmp_path / "test_spawning.py").write_text(SPAWNING)
    proc = pytest_run("-c", str(ROOT / "pyproject.toml"), "-p", "tests.conftest", "--rootdir", str(tmp_path),
                      "-rf", str(tmp_path / "test_spawning.py"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 2 passed" in proc.stdout
    assert "FAILED" in proc.stdout and "test_unmarked_python" in proc.stdout
    assert "starts a Python process" in proc.stdout and "mark it @pytest.mark.slow" in proc.stdout
