"""The admission webhook's words are the same in the code, the manifests, docs/admission.md and the README."""

from __future__ import annotations

import re
from pathlib import Path

import click

from bot.admission.mode import GATE_MODES, MODE_LABEL
from bot.admission.review import OVERRIDE_ANNOTATION, OVERRIDE_VALUE
from bot.admission.webhook import ACTIONS, PATH
from bot.cli import main
from bot.gate import GatePolicy
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "admission.md").read_text()


def test_every_audit_action_is_documented():
    assert ACTIONS == ("admission.allowed", "admission.warned", "admission.denied", "admission.overridden")
    for action in ACTIONS:
        assert f"`{action}`" in DOC


def test_the_modes_the_label_the_override_and_the_path_are_the_documented_ones():
    assert f"kubectl label namespace staging {MODE_LABEL}=warn" in DOC
    assert "`CORONER_GATE_MODE` is " + ", ".join(f"`{m}`" for m in GATE_MODES[:2]) + f" or `{GATE_MODES[2]}`" in \
        DOC.replace(" (default)", "")
    assert f"`{OVERRIDE_ANNOTATION}: {OVERRIDE_VALUE}`" in DOC
    assert f"`POST {PATH}`" in DOC


def test_the_settings_defaults_are_the_gates_own():
    policy = GatePolicy()
    assert Settings.model_fields["gate_max_growth"].default == policy.max_growth
    assert Settings.model_fields["gate_min_growth_bytes"].default == policy.min_growth_bytes
    assert f"`CORONER_GATE_DEADLINE_SECONDS` ({Settings.model_fields['gate_deadline_seconds'].default:g} s)" in DOC


def test_the_commands_in_the_docs_use_flags_that_exist():
    ctx = click.Context(main)
    shown = re.findall(r"coroner (certs|serve) ([^\n`]*)", DOC)
    assert {name for name, _ in shown} == {"certs", "serve"}
    for name, args in shown:
        command = main.get_command(ctx, name)
        assert command is not None
        options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        used = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", args))
        assert used <= options, (name, used - options)


def test_the_readme_links_the_docs():
    assert "](docs/admission.md)" in (ROOT / "README.md").read_text()
