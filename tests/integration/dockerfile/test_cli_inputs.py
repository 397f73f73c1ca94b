"""`coroner lint` and `coroner fix` on awkward inputs, run as a real process: bytes that are not UTF-8,
an endless device, control characters in what gets echoed back."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tests.cli_process import CORONER, cli_env

pytestmark = pytest.mark.slow  # each test runs coroner as a process

# A Latin-1 comment (0xE9, 0xFC are not UTF-8) next to lines that `coroner fix` rewrites.
LATIN1 = (
    b"FROM python:3.12-slim\n"
    b"# Auteur: Ren\xe9 M\xfcller\n"
    b"RUN pip install flask==3.0.0\n"
    b"LABEL description=\"caf\xe9\"\n"
    b"CMD [\"python\", \"app.py\"]\n"
)


def coroner(*args: str, stdin: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    env = cli_env()
    cli = CORONER
    return subprocess.run([*cli, *args], input=stdin, capture_output=True, env=env, timeout=timeout)


def test_fix_write_keeps_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(LATIN1)
    proc = coroner("fix", "--write", str(path))
    assert proc.returncode == 0, proc.stderr
    written = path.read_bytes()
    assert b"\xef\xbf\xbd" not in written  # no U+FFFD
    assert b"# Auteur: Ren\xe9 M\xfcller\n" in written and b'description="caf\xe9"' in written
    assert b"pip install --no-cache-dir flask" in written


@pytest.mark.skipif(shutil.which("patch") is None, reason="the patch binary is not installed")
def test_the_printed_diff_of_a_latin1_file_applies(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(LATIN1)
    diff = coroner("fix", str(path), "--context", str(tmp_path)).stdout
    assert b"\xe9" in diff  # the context lines carry the file's own bytes
    patched = subprocess.run(["patch", "-p1", "--batch", "-d", str(tmp_path)], input=diff.replace(
        f"a/{path}".encode(), b"a/Dockerfile").replace(f"b/{path}".encode(), b"b/Dockerfile"), capture_output=True)
    assert patched.returncode == 0, patched.stdout + patched.stderr
    fixed = tmp_path / "fixed"
    fixed.write_bytes(LATIN1)
    assert coroner("fix", "--write", str(fixed)).returncode == 0
    assert path.read_bytes() == fixed.read_bytes()


@pytest.mark.parametrize("command", [["lint"], ["fix"], ["image", "example.invalid/app:1", "--dockerfile"]])
def test_an_endless_file_stops_at_the_cap(command: list[str]) -> None:
    proc = coroner(*command, "/dev/zero", timeout=60)
    assert proc.returncode == (1 if command[0] == "image" else 2), proc.stderr  # each command's own code
    assert proc.stderr.decode().splitlines() == [
        "coroner: error: cannot read /dev/zero: larger than 10 MB; a Dockerfile is a few KB"
    ]


def test_lint_of_an_endless_stdin_stops_at_the_cap() -> None:
    proc = coroner("lint", "-", stdin=b"FROM alpine\n" + b"#" * (11 << 20))
    assert proc.returncode == 2
    assert b"larger than 10 MB" in proc.stderr and b"Traceback" not in proc.stderr


def test_error_lines_carry_no_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    # An unknown instruction made of terminal escapes: echoed back, it would clear the screen.
    path.write_bytes(b"FROM alpine\n\x1b[2J\x1b]0;pwned\x07BOGUS\r x\n")
    for command in ("lint", "fix"):
        proc = coroner(command, str(path))
        assert proc.returncode == 2, proc.stderr
        line = proc.stderr.decode()
        assert line.count("\n") == 1 and line.startswith("coroner: error:"), line
        assert not any((ord(c) < 32 and c != "\n") or ord(c) == 127 for c in line), repr(line)
