"""Every `coroner` command the gate's and the admission webhook's docs show, in their code blocks (the
GitHub Actions and GitLab CI examples, the set-up) and inline, is a command with those flags and values;
every CORONER_ variable they name is a setting. A user copies these: a flag the CLI does not know is a
broken pipeline. (action.yml's own commands: tests/unit/test_action.py.)"""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from bot.cli import main
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
DOCS = ("docs/gate.md", "docs/admission.md")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`(coroner [^`]+)`")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")


def commands(text: str) -> list[str]:
    """`coroner ...` command lines: the code blocks' (continuations joined, YAML list items and `run:`
    keys stripped) and the inline code spans'."""
    found: list[str] = []
    for block in FENCE.findall(text):
        joined = False  # the last line found goes on (a synopsis' indented `[--flag]` lines)
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            if joined and line[:1].isspace() and line.strip().startswith(("[", "--")):
                found[-1] += " " + line.strip()
                continue
            line = re.sub(r"^\s*(?:-\s+)?(?:run:\s*)?(?:\$\s+)?", "", line)
            joined = line.startswith("coroner ")
            if joined:
                found.append(line)
    prose = FENCE.sub("", text)
    found += [" ".join(span.split()) for span in INLINE.findall(prose)]
    # `coroner gate: FAIL ...` is output quoted, not a command
    return [line for line in found if re.fullmatch(r"[a-z][a-z-]*", line.split()[1])]


def command(name: str) -> click.Command | None:
    return main.get_command(click.Context(main), name)  # type: ignore[attr-defined]


def shown() -> list[tuple[str, str]]:
    return [(doc, line) for doc in DOCS for line in commands((ROOT / doc).read_text())]


def test_the_docs_show_the_commands_a_user_runs():
    names = {line.split()[1] for _, line in shown()}
    assert {"gate", "lint", "certs", "serve"} <= names


@pytest.mark.parametrize(("doc", "line"), shown())
def test_every_command_and_flag_in_the_docs_exists(doc, line):
    name = line.split()[1]
    cmd = command(name)
    assert cmd is not None, f"{doc}: coroner {name} is no command"
    options = {opt: param for param in cmd.params for opt in (*param.opts, *param.secondary_opts)}
    unknown = set(FLAG.findall(line)) - set(options)
    assert not unknown, f"{doc}: `{line}` uses {sorted(unknown)}, not flags of coroner {name}"
    try:
        words = shlex.split(line.split(" > ")[0].split(" || ")[0])
    except ValueError:
        words = line.split()
    words = [w.strip("[]()") for w in words]  # a synopsis' `[--format text|json|github]`
    for flag, value in itertools.pairwise(words):
        param = options.get(flag)
        if param is not None and isinstance(param.type, click.Choice) and not value.startswith(("$", "-")):
            # `--format text|json|github` in a synopsis lists the choices
            assert set(value.split("|")) <= set(param.type.choices), (doc, line, flag, value)


def action_steps(text: str) -> list[dict]:
    """The steps of the docs' GitHub Actions examples that use this repository's action."""
    steps = []
    for block in FENCE.findall(text):
        try:
            data = yaml.safe_load(block)
        except yaml.YAMLError:
            continue
        jobs = data.get("jobs", {}).values() if isinstance(data, dict) else ()
        candidates = [s for job in jobs for s in job.get("steps", ())] + (data if isinstance(data, list) else [])
        steps += [s for s in candidates if isinstance(s, dict) and "/coroner@" in str(s.get("uses", ""))]
    return steps


def test_the_action_examples_pass_inputs_action_yml_declares():
    inputs = yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]
    required = {name for name, spec in inputs.items() if spec.get("required")}
    steps = action_steps((ROOT / "docs/gate.md").read_text())
    assert len(steps) >= 2  # against a release, and against the cluster
    for step in steps:
        given = set(step.get("with", {}))
        assert given <= set(inputs), sorted(given - set(inputs))
        assert required <= given, sorted(required - given)
        assert (("against" in given) != ("deployed" in given)), given  # the gate takes exactly one


def test_every_setting_the_docs_name_exists():
    fields = {f"CORONER_{name.upper()}" for name in Settings.model_fields}
    for doc in (*DOCS, "action.yml"):
        named = set(re.findall(r"\bCORONER_[A-Z_]+[A-Z]\b", (ROOT / doc).read_text()))
        assert named <= fields, (doc, sorted(named - fields))
