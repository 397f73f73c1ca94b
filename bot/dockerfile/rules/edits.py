"""The fixers' toolkit: the text being rewritten (`Work`), and edits of whole instructions by line range,
so the lines a rule did not ask about stay byte for byte."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.dockerfile.options import OptionTable, parse_args
from bot.dockerfile.parser import Dockerfile, Instruction
from bot.dockerfile.shell import Script
from bot.domain import Finding


@dataclass
class Work:
    """The text being rewritten, parsed, and its findings: each computed once per accepted rewrite.

    Fixers that change nothing (most of them, most of the time) then cost no parse and no lint; linting
    again for every fixer made `coroner fix` ~30 lint passes over the file.
    """

    dockerfile: Dockerfile
    context: Path | None
    measure: bool
    # The rule set's `lint`, handed in by `fix`: the rules package imports this module, so it cannot
    # import the package back.
    lint: Callable[..., list[Finding]]
    notes: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # build tools a split took out of the final stage
    pins: Mapping[str, str] = field(default_factory=dict)
    _findings: list[Finding] | None = None
    _by_line: dict[int, Instruction] | None = None
    _scripts: dict[str, Script] = field(default_factory=dict)  # shared by every lint of the rewrites

    @property
    def text(self) -> str:
        return self.dockerfile.text

    @property
    def path(self) -> str:
        return self.dockerfile.path

    def parsed(self) -> Dockerfile:
        return self.dockerfile

    def findings(self) -> list[Finding]:
        if self._findings is None:
            self._findings = self.lint(self.dockerfile, context=self.context, measure_context=self.measure,
                                  script_cache=self._scripts)
        return self._findings

    def instruction_at(self, line: int) -> Instruction | None:
        if self._by_line is None:
            self._by_line = {ins.line: ins for ins in self.dockerfile.instructions}
        return self._by_line.get(line)

    def accept(self, dockerfile: Dockerfile) -> None:
        self.dockerfile = dockerfile
        self._findings = None
        self._by_line = None


def lines_of(text: str) -> list[str]:
    return text.split("\n")


def splice(text: str, edits: list[tuple[int, int, list[str]]]) -> str:
    """Apply (start, end, new_lines) edits over 0-based, non-overlapping line ranges [start, end).

    One pass from the top: replacing slices in place, one edit at a time, moved the rest of the file
    once per edit."""
    lines = lines_of(text)
    out: list[str] = []
    pos = 0
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1])):
        out += lines[pos:start]
        out += new
        pos = max(pos, end)
    out += lines[pos:]
    return "\n".join(out)


def span_of(ins: Instruction) -> tuple[int, int]:
    return ins.line - 1, ins.end_line


def indent_of(ins: Instruction) -> str:
    first = ins.original.split("\n", 1)[0]
    return first[: len(first) - len(first.lstrip())]


def split_head(ins: Instruction) -> tuple[str, str]:
    """Split the first line into `RUN --flags ` and the rest."""
    first = ins.original.split("\n", 1)[0]
    m = re.match(r"^(\s*\S+\s+(?:--\S+\s+)*)(.*)$", first)
    if not m:
        return first + " ", ""
    return m.group(1), m.group(2)


def add_flag(ins: Instruction, flag: str) -> list[str]:
    lines = ins.original.split("\n")
    m = re.match(r"^(\s*\S+)(\s+)", lines[0])
    if not m:
        return lines
    lines[0] = f"{m.group(1)} {flag}{lines[0][m.end(1):]}"
    return lines


def append_command(d: Dockerfile, ins: Instruction, command: str) -> list[str]:
    """`… && command` at the end of a RUN; inside the heredoc for `RUN <<EOF`."""
    if ins.exec_form is not None:
        # `RUN ["npm", "ci"]` has no shell to chain in: it becomes the same argv in shell form, quoted so
        # the shell hands the program the same words (the rules read exec-form RUNs only under a POSIX SHELL)
        head, _ = split_head(ins)
        return [f"{head}{shlex.join(ins.exec_form)} {d.escape}", f"{indent_of(ins)}    && {command}"]
    lines = ins.original.split("\n")
    if ins.heredocs and ins.shell_script != ins.arguments:
        doc = ins.heredocs[-1]
        idx = doc.end_line - ins.line  # the terminator's index within the instruction
        lines.insert(idx, ("\t" if doc.strip_tabs else "") + command)
        return lines
    last = lines[-1].rstrip()
    lines[-1] = f"{last} {d.escape}"
    lines.append(f"{indent_of(ins)}    && {command}")
    return lines


def insert_in_command(ins: Instruction, pattern: re.Pattern[str], insert: str, table: OptionTable,
                      same: tuple[str, ...] = ()) -> list[str] | None:
    """Insert the option ` insert` after each match of `pattern` whose command does not already give it,
    as the tool reads its options (`table`: `--no-cache` is pip's `--no-cache-dir`).

    An exec-form RUN (`RUN ["apt-get", "install", "-y", "curl"]`) is read as the words it runs, and
    written back as a JSON array with the option among them. `same`: the option's other spellings that the
    table cannot tell (gem's `-N` is `--no-document`)."""
    if ins.exec_form is not None:
        joined = insert_in_text(shlex.join(ins.exec_form), pattern, insert, table, same)
        if joined is None:
            return None
        head, _ = split_head(ins)
        return [head + json.dumps(shlex.split(joined))]
    joined = insert_in_text(ins.original, pattern, insert, table, same)
    return joined.split("\n") if joined is not None else None


def insert_in_text(text: str, pattern: re.Pattern[str], insert: str, table: OptionTable,
                   same: tuple[str, ...] = ()) -> str | None:
    """`text` with ` insert` after each match of `pattern` whose command lacks it; None when none does."""
    out: list[str] = []
    pos = 0
    changed = False
    for m in pattern.finditer(text):
        tail = re.split(r"&&|\|\||;|\|(?!\|)|\n\s*\n", text[m.end():], maxsplit=1)[0]
        words = (m.group(0) + " " + tail).replace("\\\n", " ").split()[1:]
        if parse_args(words, table).has(insert, *same):
            continue
        out.append(text[pos : m.end()])
        out.append(f" {insert}")
        pos = m.end()
        changed = True
    if not changed:
        return None
    out.append(text[pos:])
    return "".join(out)


def by_rule(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule and f.evidence.get("fixable")]


Edit = Callable[[Dockerfile, Instruction, Finding], list[str] | None]


def edit_each(w: Work, rule: str, edit: Edit, *, once_per_line: bool = False) -> str | None:
    """Rewrite the instruction each fixable `rule` finding points at with `edit` (None: leave it).

    The shape most fixers share. `once_per_line` is for rules that report one instruction several times
    (one finding per package manager or flag) but need a single edit of it.
    """
    d = w.parsed()
    edits = []
    seen: set[int] = set()
    for f in by_rule(w.findings(), rule):
        ins = w.instruction_at(f.evidence["line"])
        if ins is None or ins.line in seen:
            continue
        if once_per_line:
            seen.add(ins.line)
        new = edit(d, ins, f)
        if new is not None:
            edits.append((*span_of(ins), new))
    return splice(d.text, edits) if edits else None


def fix_option(rule: str, pattern: re.Pattern[str], insert: str, table: OptionTable,
               same: tuple[str, ...] = ()) -> Callable[[Work], str | None]:
    def fixer(w: Work) -> str | None:
        return edit_each(w, rule, lambda d, ins, f: insert_in_command(ins, pattern, insert, table, same),
                          once_per_line=True)

    fixer.__name__ = f"fix_{rule}"
    return fixer


Fixer = Callable[[Work], str | None]
