"""What a user copies out of the README, CONTRIBUTING.md and docs/*.md works: every `coroner` command
shown, in code blocks (GitHub Actions and GitLab CI examples, console sessions) and inline, is a command
or subcommand with those flags and choice values; every CORONER_ variable named is a setting (or a
variable the test suite reads); every relative link leads to a file, and its #anchor to a heading. A flag
the CLI does not know is a broken pipeline; a dead link is the first thing a new user meets.
(action.yml's own commands: tests/unit/test_action.py.)"""

from __future__ import annotations

import functools
import itertools
import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from bot.cli import main
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = tuple(
    sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "ARCHITECTURE.md", *ROOT.glob("docs/*.md"))
    )
)
FENCE = re.compile(r"^ *```[^\n]*\n(.*?)^ *```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`(coroner [^`]+)`")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")
SETTING = re.compile(r"\bCORONER_[A-Z_]+[A-Z]\b")
# Variables the test harness reads (tests/), not the product: named in the README's Development section.
TEST_VARIABLES = {"CORONER_REQUIRE_SERVICES", "CORONER_TEST_POSTGRES_URL", "CORONER_UPDATE_GOLDEN"}


def commands(text: str) -> list[str]:
    """`coroner ...` command lines: the code blocks' (continuations joined, YAML list items, `run:` keys
    and `$ ` prompts stripped) and the inline code spans' (a table's `\\|` unescaped)."""
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
    found += [" ".join(span.replace("\\|", "|").split()) for span in INLINE.findall(prose)]
    # `coroner gate: FAIL ...`, `coroner: error: ...` are output quoted, not commands
    return [line for line in found if re.fullmatch(r"[a-z][a-z-]*", line.split()[1])]


def resolve(words: list[str]) -> tuple[click.Command | None, list[str]]:
    """The (sub)command `coroner WORDS...` names, and the words after its name. A group's subcommand
    written as alternatives (`coroner db upgrade|downgrade|current|check`) must name subcommands each."""
    cmd: click.Command | None = main
    ctx = click.Context(main)
    rest = words
    while isinstance(cmd, click.Group) and rest:
        names = rest[0].strip("[]()").split("|")
        subs = [cmd.get_command(ctx, name) for name in names]
        if any(sub is None for sub in subs):
            return None, rest
        cmd, rest = subs[0], rest[1:]
        if len(subs) > 1:
            return cmd, rest
    return cmd, rest


def shown() -> list[tuple[str, str]]:
    return [(doc, line) for doc in DOCS for line in commands((ROOT / doc).read_text())]


def test_the_docs_show_the_commands_a_user_runs():
    names = {" ".join(line.split()[1:3]) for _, line in shown()}
    assert {"gate IMAGE", "lint --format", "certs --out", "db upgrade", "postmortem review", "sim --scenario"} <= names


def problems(line: str) -> list[str]:
    """What is wrong with `coroner ...` as a command line: no such (sub)command, a flag it lacks, a value
    outside a choice (`--format text|json|github` in a synopsis lists the choices; so does a positional
    `in_review|approved`)."""
    cmd, rest = resolve(line.split()[1:])
    if cmd is None:
        return ["names no coroner command"]
    options = {opt: param for param in cmd.params for opt in (*param.opts, *param.secondary_opts)}
    found = [f"{flag} is no flag of it" for flag in sorted(set(FLAG.findall(" ".join(rest))) - set(options))]
    try:
        words = shlex.split(" ".join(rest).split(" > ")[0].split(" || ")[0].split("  #")[0])
    except ValueError:
        words = rest
    words = [w.strip("[]()") for w in words]
    for flag, value in itertools.pairwise(words):
        param = options.get(flag)
        if param is not None and isinstance(param.type, click.Choice) and not value.startswith(("$", "-")):
            found += [f"{flag} {value}: not in {param.type.choices}"] if not _within(value, param.type) else []
    choices = [p for p in cmd.params if isinstance(p, click.Argument) and isinstance(p.type, click.Choice)]
    for word in (w for w in words if "|" in w and not w.startswith("-")):
        if choices and not any(_within(word, p.type) for p in choices):
            found.append(f"{word}: not in {[p.type.choices for p in choices]}")
    return found


def _within(value: str, choice: click.ParamType) -> bool:
    assert isinstance(choice, click.Choice)
    return set(value.split("|")) <= set(choice.choices)


@pytest.mark.parametrize(("doc", "line"), shown())
def test_every_command_and_flag_in_the_docs_exists(doc, line):
    assert not problems(line), f"{doc}: `{line}`: {problems(line)}"


def test_a_wrong_command_line_is_caught():
    assert problems("coroner lint --no-such-flag Dockerfile") == ["--no-such-flag is no flag of it"]
    assert problems("coroner lint [--format text|yaml]") == ["--format text|yaml: not in ('text', 'json', 'sarif')"]
    assert problems("coroner postmortem review X in_review|published --by me")
    assert problems("coroner lnt Dockerfile") == ["names no coroner command"]
    assert not problems("coroner gate IMAGE (--against REF | --deployed NS/NAME) [--format text|json|github]")


def test_a_subcommand_the_docs_name_is_looked_up_in_its_group():
    assert resolve(["db", "downgrade", "-1", "--yes"])[0] is not None
    assert resolve(["db", "upgrade|current"])[0] is not None
    assert resolve(["db", "upgrade|vacuum"])[0] is None
    assert resolve(["postmortem", "reveiw"])[0] is None


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


@pytest.mark.parametrize("doc", [*DOCS, "action.yml"])
def test_every_setting_the_docs_name_exists(doc):
    fields = {f"CORONER_{name.upper()}" for name in Settings.model_fields}
    named = set(SETTING.findall((ROOT / doc).read_text()))
    assert named <= fields | TEST_VARIABLES, (doc, sorted(named - fields - TEST_VARIABLES))


def test_the_test_variables_are_read_by_the_tests():
    harness = "\n".join(path.read_text() for path in (ROOT / "tests").rglob("*.py") if path.name != Path(__file__).name)
    assert {name for name in TEST_VARIABLES if name in harness} == TEST_VARIABLES


# -- links ------------------------------------------------------------------------------------------------

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation but `-` and `_` removed,
    spaces to `-`."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@functools.cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", FENCE.sub("", path.read_text()), re.MULTILINE):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def broken_links(doc: Path) -> list[str]:
    """The relative links of `doc`'s prose (code left out) that lead to no file, or to no heading."""
    prose = re.sub(r"`[^`\n]*`", "", FENCE.sub("", doc.read_text()))
    broken = []
    for target in LINK.findall(prose):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path_part, _, anchor = target.partition("#")
        path = doc.parent / path_part if path_part else doc
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path.resolve()):
            broken.append(f"{target}: no heading #{anchor}")
    return broken


def test_slugs_are_githubs():
    assert slug("The REST API: write-back, buttons, enrichment") == "the-rest-api-write-back-buttons-enrichment"
    assert slug("`coroner serve`") == "coroner-serve"
    assert slug("Registry credentials") == "registry-credentials"


def test_a_dead_link_is_caught(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## Part two\n\n## Part two\n")
    doc = tmp_path / "doc.md"
    doc.write_text("# Doc\n[a](other.md#part-two-1) [b](missing.md) [c](other.md#nope) [d](#doc) [e](#gone)\n"
                   "`[f](missing-in-code.md)` [g](https://example.com/x)\n")
    assert broken_links(doc) == ["missing.md: no such file", "other.md#nope: no heading #nope",
                                 "#gone: no heading #gone"]


@pytest.mark.parametrize("doc", DOCS)
def test_every_relative_link_resolves(doc):
    assert not broken_links(ROOT / doc), doc
