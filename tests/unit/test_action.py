"""action.yml, the composite GitHub Action: its structure, and every command and flag it runs exists."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import yaml

from bot.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
STEPS = ACTION["runs"]["steps"]
SCRIPTS = [step["run"] for step in STEPS if "run" in step]
COMMAND = re.compile(r"^\s*coroner (\w+)|args=\((\w+)", re.MULTILINE)


def invocations() -> list[tuple[str, str]]:
    """(coroner subcommand, the script that runs it)."""
    found = []
    for script in SCRIPTS:
        for match in COMMAND.finditer(script):
            found.append((match.group(1) or match.group(2), script))
    return found


def command(name: str) -> click.Command:
    ctx = click.Context(main)
    cmd = main.get_command(ctx, name)  # type: ignore[attr-defined]
    assert cmd is not None, name
    return cmd


def test_it_is_a_composite_action_that_lints_uploads_sarif_and_gates():
    assert ACTION["runs"]["using"] == "composite"
    assert [name for name, _ in invocations()] == ["lint", "gate"]
    (upload,) = [s for s in STEPS if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    lint_script = next(script for name, script in invocations() if name == "lint")
    assert "--format sarif" in lint_script and f"> {upload['with']['sarif_file']}" in lint_script
    gate_script = next(script for name, script in invocations() if name == "gate")
    assert "--format github" in gate_script
    assert {"image", "against", "deployed", "dockerfile"} <= set(ACTION["inputs"])
    assert ACTION["inputs"]["image"]["required"] is True


@pytest.mark.parametrize("name", ["lint", "gate"])
def test_every_flag_the_action_passes_exists_in_the_cli(name):
    assert name in COMMANDS
    cmd = command(name)
    options = {opt for param in cmd.params for opt in param.opts}
    script = next(script for found, script in invocations() if found == name)
    used = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", script))
    assert used and used <= options, used - options
    for flag, value in re.findall(r"(--[a-z][a-z-]*) ([a-z]+)\b", script):  # literal values must be accepted
        param = next(p for p in cmd.params if flag in p.opts)
        if isinstance(param.type, click.Choice):
            assert value in param.type.choices, (flag, value)


def test_inputs_reach_scripts_through_the_environment_only():
    text = (ROOT / "action.yml").read_text()
    declared = set(ACTION["inputs"])
    referenced = set(re.findall(r"\$\{\{\s*inputs\.([a-z-]+)\s*\}\}", text))
    assert referenced == declared  # none undeclared, none unused
    for script in SCRIPTS:
        assert "${{" not in script  # an input spliced into a script is a shell injection


def test_the_lint_fail_on_default_is_a_level_lint_accepts():
    param = next(p for p in command("lint").params if "--fail-on" in p.opts)
    assert isinstance(param.type, click.Choice)
    assert ACTION["inputs"]["lint-fail-on"]["default"] in param.type.choices
