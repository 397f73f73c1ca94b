"""Properties of `coroner fix` over Dockerfiles nobody tuned the rules on (tests/dockerfile_unseen.py),
through the real CLI: the patch applies whole with `patch -p1` and `git apply`, the patched file re-lints
with no fixable finding and no `dockerignore-missing`, and fixing the fixed file changes nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from tests.cli_process import cli_env, python
from tests.dockerfile_unseen import CONTEXT_FILES, UNSEEN

TOOLS = {"patch": ["patch", "-p1", "--batch", "--silent"], "git-apply": ["git", "apply", "-"]}


def context(root: Path, dockerfile: str) -> Path:
    root.mkdir()
    for name in CONTEXT_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x\n")
    (root / "Dockerfile").write_bytes(dockerfile.encode())  # bytes: a CRLF file stays CRLF
    return root


def fix_patch(root: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.chdir(root)
    result = CliRunner().invoke(main, ["fix", "Dockerfile"])
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


def fixable_left(root: Path) -> list[str]:
    result = CliRunner().invoke(main, ["lint", "--format", "json", "--fail-on", "none", str(root / "Dockerfile")])
    return [f"{f['rule']}@{f['line']}" for f in json.loads(result.stdout)
            if f["fixable"] or f["rule"] == "dockerignore-missing"]


@pytest.mark.parametrize("name", sorted(UNSEEN))
def test_fix_applies_whole_relints_clean_and_is_idempotent(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("patch") is None or shutil.which("git") is None:
        pytest.skip("patch and git are needed")
    root = context(tmp_path / "repo", UNSEEN[name])
    patch = fix_patch(root, monkeypatch)
    applied: dict[str, bytes] = {}
    for tool, cmd in TOOLS.items():
        copy = tmp_path / tool
        shutil.copytree(root, copy)
        if patch:
            done = subprocess.run(cmd, input=patch, cwd=copy, capture_output=True)
            assert done.returncode == 0, (tool, done.stdout + done.stderr, patch.decode())
        applied[tool] = (copy / "Dockerfile").read_bytes()
    assert applied["patch"] == applied["git-apply"]
    fixed = tmp_path / "patch"
    assert fixable_left(fixed) == []
    assert fix_patch(fixed, monkeypatch) == b"", "fixing the fixed file changed it again"
    if "\r\n" in UNSEEN[name]:
        assert b"\n" not in applied["patch"].replace(b"\r\n", b""), "a CRLF file got LF lines"


@pytest.mark.slow  # a coroner process
def test_python_dash_m_bot_cli_runs_the_cli(tmp_path: Path) -> None:
    """`python -m bot.cli lint …` (the documented way to run a checkout) lints, it does not exit 0 silently."""
    (tmp_path / "Dockerfile").write_text(UNSEEN["node-yarn"])
    done = subprocess.run([*python("")[:2], "-m", "bot.cli", "lint", "--format", "json", "--fail-on", "none",
                           "Dockerfile"], cwd=tmp_path, capture_output=True, text=True, env=cli_env())
    assert done.returncode == 0, done.stderr
    assert "shell-form-entrypoint" in {f["rule"] for f in json.loads(done.stdout)}
