"""`.pre-commit-hooks.yaml` (the hook users add, as with hadolint's) and this repository's own
`.pre-commit-config.yaml`: valid for pre-commit, naming a real subcommand, matching Dockerfiles only."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
CONFIG = ROOT / ".pre-commit-config.yaml"

pytestmark = pytest.mark.skipif(not MANIFEST.exists(), reason="needs the source tree, not an installed copy")


def manifest_hook() -> dict[str, Any]:
    (hook,) = yaml.safe_load(MANIFEST.read_text())
    return hook


def local_hooks() -> dict[str, dict[str, Any]]:
    (repo,) = yaml.safe_load(CONFIG.read_text())["repos"]
    assert repo["repo"] == "local"
    return {hook["id"]: hook for hook in repo["hooks"]}


@pytest.mark.slow  # pre-commit as a process
@pytest.mark.parametrize(("command", "path"), [("validate-manifest", MANIFEST), ("validate-config", CONFIG)])
def test_pre_commit_accepts_the_file(command: str, path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "pre_commit", command, str(path)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_hook_runs_the_lint_subcommand_of_the_installed_script() -> None:
    hook = manifest_hook()
    assert hook["id"] == "coroner-lint" and hook["language"] == "python"
    script, subcommand, *args = shlex.split(hook["entry"])
    assert script in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert subcommand in COMMANDS and args == []


def test_the_hooks_entry_lints_the_files_pre_commit_passes(tmp_path: Path) -> None:
    clean, dirty = tmp_path / "Dockerfile", tmp_path / "app.dockerfile"
    clean.write_text((ROOT / "Dockerfile").read_text())
    dirty.write_text("FROM python\nRUN pip install flask\n")
    entry = shlex.split(manifest_hook()["entry"])[1:]
    assert CliRunner().invoke(main, [*entry, str(clean)]).exit_code == 0
    failed = CliRunner().invoke(main, [*entry, str(clean), str(dirty)])
    assert failed.exit_code == 1 and "app.dockerfile:2 pip-cache" in failed.output


@pytest.mark.parametrize("path", ["Dockerfile", "deploy/Dockerfile", "Dockerfile.dev", "docker/Dockerfile-prod",
                                  "Containerfile", "images/app.dockerfile", "api.Dockerfile"])
def test_the_hook_matches_dockerfile_names(path: str) -> None:
    assert re.search(manifest_hook()["files"], path)


@pytest.mark.parametrize("path", [".dockerignore", "docs/dockerfile.md", "bot/dockerfile/rules.py",
                                  "MyDockerfileNotes.txt", "docker-compose.yml"])
def test_the_hook_skips_other_files(path: str) -> None:
    assert not re.search(manifest_hook()["files"], path)


def test_this_repository_runs_the_same_hook_on_its_checkout() -> None:
    local = local_hooks()["coroner-lint"]
    offered = manifest_hook()
    assert local["language"] == "system"  # the checkout's own install, not a fresh one from the index
    assert {k: local[k] for k in ("entry", "files", "types")} == {k: offered[k] for k in ("entry", "files", "types")}


@pytest.mark.parametrize("hook_id", ["ruff", "mypy"])
def test_this_repository_runs_ruff_and_mypy(hook_id: str) -> None:
    executable = shlex.split(local_hooks()[hook_id]["entry"])[0]
    assert executable == hook_id
    assert shutil.which(executable), f"{executable} is not installed"
