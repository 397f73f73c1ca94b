"""The `coroner` group: subcommands load lazily, `--help` imports none of them, and `coroner lint` never
pays for the server's dependencies (docs/benchmarks-startup.md has the times)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from click.utils import make_default_short_help

import bot
from bot.cli import COMMANDS, load_command, main

# Run in a fresh interpreter: the test process has imported everything already. The same `bot` as this
# process (installed or checked out), then the names in FORBIDDEN that the command's path imported.
PROBE = """
import json, sys
from bot.cli import main
try:
    main(sys.argv[1:], prog_name="coroner")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""
SERVER_DEPENDENCIES = ("sqlalchemy", "kubernetes", "slack_bolt", "slack_sdk", "docker", "starlette", "alembic")


def imported_by(*args: str, cwd: Path) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(bot.__file__).resolve().parent.parent)}
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    return set(json.loads(proc.stderr.strip().splitlines()[-1]))


def top_level(modules: set[str]) -> set[str]:
    return {name.partition(".")[0] for name in modules}


@pytest.mark.slow  # a fresh interpreter, to see what it imports
def test_lint_imports_none_of_the_server_dependencies(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.12\nRUN pip install flask\nCMD python app.py\n")
    modules = imported_by("lint", str(dockerfile), cwd=tmp_path)
    assert "bot.dockerfile.rules" in modules  # the probe really linted
    assert top_level(modules) & {*SERVER_DEPENDENCIES, "pydantic", "pydantic_settings"} == set()
    # Logging is configured only when asked for (-v): nothing on lint's path logs.
    assert "bot.logs" not in modules


@pytest.mark.slow  # a fresh interpreter, to see what it imports
def test_help_imports_no_subcommand(tmp_path: Path) -> None:
    modules = imported_by("--help", cwd=tmp_path)
    assert "bot.cli" in modules
    assert top_level(modules) & {*SERVER_DEPENDENCIES, "pydantic", "pydantic_settings"} == set()
    loaded = {spec.target.partition(":")[0] for spec in COMMANDS.values()} & modules
    assert loaded == set(), f"--help imported {sorted(loaded)}"


@pytest.mark.slow  # a fresh interpreter, to see what it imports
def test_image_from_the_engine_does_not_import_the_composition_root(tmp_path: Path) -> None:
    # No engine needed: the path is imported before the reader connects, and a missing engine is an error line.
    modules = imported_by("image", "coroner-test/absent:1", "--source", "docker", cwd=tmp_path)
    assert "bot.images.docker_reader" in modules
    assert top_level(modules) & {"sqlalchemy", "kubernetes", "slack_bolt", "starlette", "alembic"} == set()
    assert "bot.wiring" not in modules


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_summary_is_the_commands_own_first_sentence(name: str) -> None:
    command = load_command(name)
    assert command is not None and command.name == name
    own = command.short_help or make_default_short_help(command.help or "", 1000)
    assert COMMANDS[name].summary == own


def test_help_lists_every_command_with_its_summary() -> None:
    result = CliRunner().invoke(main, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    rows = result.output.split("Commands:\n", 1)[1].splitlines()
    assert [row.split()[0] for row in rows if row.strip()] == list(COMMANDS)
    assert "  lint        Lint Dockerfiles (default: ./Dockerfile)." in rows


def test_unknown_command_is_one_usage_error() -> None:
    result = CliRunner().invoke(main, ["lnit"])
    assert result.exit_code == 2
    assert "No such command 'lnit'" in result.output
