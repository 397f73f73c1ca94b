"""`--context` with paths the user cannot read: listed as unreadable, or one clear line, never a traceback.

The tests run as root, for whom `chmod 000` blocks nothing. The CLI therefore runs in a subprocess under
`setpriv` without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: still uid 0, but held to the permission
bits like any user, so the files are really unreadable.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import service_unavailable
from tests.cli_process import CORONER, cli_env

DOCKERFILE = "FROM alpine:3.20\nCOPY . /app\nUSER 10001\nCMD [\"/app/run\"]\n"


def run_without_dac(*args: str) -> subprocess.CompletedProcess[str]:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        service_unavailable("setpriv is not installed (Debian package util-linux)")
    drop = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]
    probe = subprocess.run([*drop, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        service_unavailable(f"cannot drop capabilities here: {probe.stderr.strip()}")
    cli = CORONER
    env = cli_env()
    return subprocess.run([*drop, *cli, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def context(tmp_path: Path):
    ctx = tmp_path / "ctx"
    (ctx / "locked").mkdir(parents=True)
    (ctx / "locked" / "data.bin").write_bytes(b"x" * 1000)
    (ctx / "run").write_text("#!/bin/sh\n")
    (ctx / "private.txt").write_text("keep out\n")
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    modes = {ctx / "locked": 0o000, ctx / "private.txt": 0o000}
    for path, mode in modes.items():
        path.chmod(mode)
    yield ctx
    for path in modes:
        path.chmod(0o755)


@pytest.mark.slow  # a coroner process as another user
def test_an_unreadable_directory_is_listed_not_a_traceback(context: Path) -> None:
    proc = run_without_dac("lint", "--context", str(context), "--no-color", str(context.parent / "Dockerfile"))
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stdout + proc.stderr  # dockerignore-missing: a finding, not a crash
    assert "unreadable, not measured: locked" in proc.stdout


@pytest.mark.slow  # a coroner process as another user
def test_fix_with_an_unreadable_directory_writes_no_traceback(context: Path) -> None:
    proc = run_without_dac("fix", "--context", str(context), str(context.parent / "Dockerfile"))
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert "+++ b/" in proc.stdout and ".dockerignore" in proc.stdout  # the .dockerignore it proposes, in the patch


@pytest.mark.slow  # a coroner process as another user
def test_an_unreadable_dockerignore_is_one_line(context: Path) -> None:
    ignore = context / ".dockerignore"
    ignore.write_text(".git\n")
    ignore.chmod(0o000)
    try:
        for command in (["lint"], ["fix"]):
            proc = run_without_dac(*command, "--context", str(context), str(context.parent / "Dockerfile"))
            assert "Traceback" not in proc.stderr, proc.stderr
            assert proc.returncode == 2, proc.stdout + proc.stderr
            lines = proc.stderr.strip().splitlines()
            assert lines == [f"coroner: error: cannot read {ignore}: Permission denied"], lines
    finally:
        ignore.chmod(0o644)
