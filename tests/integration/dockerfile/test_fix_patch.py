"""`coroner fix` prints one patch that real `patch -p1` and `git apply` take whole: the Dockerfile and
the .dockerignore, created or changed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

OUTAGE = """\
FROM ubuntu:22.04
RUN apt-get update && apt-get install -y python3 python3-pip build-essential git cuda-toolkit-12-1 vim
WORKDIR /app
COPY . .
RUN pip install -r requirements.txt
CMD python3 app.py
"""
TOOLS = [pytest.param(["patch", "-p1", "--batch"], id="patch"), pytest.param(["git", "apply", "-"], id="git-apply")]


def fix_in(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    """`coroner fix Dockerfile` run from the repository root, as a reviewer would."""
    monkeypatch.chdir(root)
    result = CliRunner().invoke(main, ["fix", "Dockerfile", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def apply(tool: list[str], patch: str, root: Path, into: Path) -> Path:
    if shutil.which(tool[0]) is None:
        pytest.skip(f"{tool[0]} is not installed")
    shutil.copytree(root, into)
    done = subprocess.run(tool, input=patch, text=True, cwd=into, capture_output=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return into


def relint(root: Path) -> list[str]:
    result = CliRunner().invoke(main, ["lint", "--format", "json", "--fail-on", "none", str(root / "Dockerfile")])
    return [f["rule"] for f in json.loads(result.stdout)
            if f["fixable"] or f["rule"] == "dockerignore-missing"]  # `fixable` is a top-level field of the JSON


@pytest.mark.parametrize("tool", TOOLS)
def test_a_new_dockerignore_is_a_new_file_hunk(tool: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "Dockerfile").write_text(OUTAGE)
    patch = fix_in(root, monkeypatch)
    assert "--- /dev/null\n+++ b/.dockerignore\n@@ -0,0 +1," in patch
    out = apply(tool, patch, root, tmp_path / "applied")
    assert ".git" in (out / ".dockerignore").read_text().splitlines()
    final = (out / "Dockerfile").read_text().split("\nFROM ", 1)[1]
    for tool_package in ("cuda-toolkit-12-1", "build-essential", " git", "vim"):
        assert tool_package not in final
    assert relint(out) == []


@pytest.mark.parametrize("tool", TOOLS)
def test_an_incomplete_dockerignore_is_changed_in_place(
    tool: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "Dockerfile").write_text(OUTAGE)
    (root / ".dockerignore").write_text("# ours\n.git\n")
    (root / ".venv").mkdir()
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    patch = fix_in(root, monkeypatch, "--context", ".")
    assert "--- a/.dockerignore\n+++ b/.dockerignore\n" in patch
    out = apply(tool, patch, root, tmp_path / "applied")
    lines = (out / ".dockerignore").read_text().splitlines()
    assert lines[:2] == ["# ours", ".git"] and "**/node_modules" in lines
    assert relint(out) == []
