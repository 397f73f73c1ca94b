"""`coroner fix`: rewrite a Dockerfile so every fixable finding is gone, and explain what was left alone.

Every fixer edits whole instructions by line range, so lines the rules did not ask about stay byte for
byte. Fixers run one at a time on a fresh parse, in rounds, until a round changes nothing. A version is
never invented: when a fix would need one, the line stays and a note says why.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bot.dockerfile import context as ctxmod
from bot.dockerfile.images import parse_ref, slim_variant
from bot.dockerfile.packages import classify, is_build_tool
from bot.dockerfile.parser import Dockerfile, DockerfileParseError, Instruction, Stage, parse, split_words
from bot.dockerfile.rules import _FINAL_ONLY as _FINAL_ONLY_KEYWORDS
from bot.dockerfile.rules import GO_RUNTIME_IMAGE, copy_order_blocker, go_build_output, lint, npm_pattern
from bot.dockerfile.shell import Script, parse_script
from bot.domain import Finding
from bot.redact import redact, redact_json

NON_ROOT_USER = "10001:10001"  # above the range distributions hand out, so it never collides with a real user
_MAX_ROUNDS = 5


@dataclass(frozen=True)
class FixResult:
    path: str
    original: str
    text: str
    diff: str  # unified diff, `--- a/<path>` / `+++ b/<path>`, applies with `patch -p1`
    fixed: tuple[Finding, ...]  # findings of the original that the rewrite removed
    remaining: tuple[Finding, ...]  # findings of the rewritten file
    notes: tuple[str, ...]  # what was left alone, and why
    dockerignore: str | None = None  # content of the .dockerignore to write, when one is missing or incomplete
    dockerignore_path: str | None = None

    @property
    def changed(self) -> bool:
        return self.text != self.original

    @property
    def applied(self) -> tuple[str, ...]:
        """One line per finding the rewrite removed: `rule (line N)`."""
        return tuple(f"{f.rule} (line {f.evidence.get('line')})" for f in self.fixed)

    def to_json(self) -> dict[str, object]:
        """The result as JSON, credentials redacted (the diff is already)."""
        return redact_json({
            "file": self.path,
            "changed": self.changed,
            "diff": self.diff,
            "fixed": [_brief(f) for f in self.fixed],
            "remaining": [_brief(f) for f in self.remaining],
            "notes": list(self.notes),
            "dockerignore": self.dockerignore,
            "dockerignore_path": self.dockerignore_path,
        })


def _brief(f: Finding) -> dict[str, object]:
    return {"rule": f.rule, "line": f.evidence.get("line"), "message": f.title}


@dataclass
class _Work:
    """The text being rewritten, parsed, and its findings: each computed once per accepted rewrite.

    Fixers that change nothing (most of them, most of the time) then cost no parse and no lint; linting
    again for every fixer made `coroner fix` ~30 lint passes over the file.
    """

    dockerfile: Dockerfile
    context: Path | None
    measure: bool
    notes: list[str] = field(default_factory=list)
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
            self._findings = lint(self.dockerfile, context=self.context, measure_context=self.measure,
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


def fix(
    text: str,
    *,
    path: str = "Dockerfile",
    context: Path | None = None,
    measure_context: bool = True,
    pins: Mapping[str, str] | None = None,
    dockerignore_missing: bool = False,
    context_files: Mapping[str, int] | None = None,
) -> FixResult:
    """Rewrite `text`. Raises DockerfileParseError when the input does not parse.

    `pins` maps a base image as written in FROM (`python:3.11`) to its exact pin, known from an image at
    hand (see `pin_from_image`). Without one, an unpinned base stays as it is: no version is invented.
    `dockerignore_missing` says, without a context to look at, that the build had no .dockerignore (the
    postmortem knows it from the image): the result then carries the .dockerignore to write, tailored to
    `context_files` (context path -> bytes, e.g. the files of the image's `COPY . .` layer) when given.
    """
    crlf = "\r\n" in text
    norm = text.replace("\r\n", "\n")
    if norm.startswith("\ufeff"):
        norm = norm[1:]
    original_df = parse(norm, path=path)
    scripts: dict[str, Script] = {}
    before = lint(original_df, context=context, measure_context=measure_context, script_cache=scripts)
    work = _Work(original_df, context, measure_context, pins=dict(pins or {}), _findings=before, _scripts=scripts)
    for _ in range(_MAX_ROUNDS):
        start = work.text
        for fixer in _FIXERS:
            new = fixer(work)
            if new is not None and new != work.text:
                try:
                    rewritten = parse(new, path=path)
                except DockerfileParseError as exc:  # a fixer bug must never hand back a broken file
                    work.notes.append(f"internal: a {fixer.__name__} rewrite did not parse ({exc}); skipped")
                    continue
                work.accept(rewritten)
        if work.text == start:
            break
    after = work.findings()
    new = work.text
    if new == norm:
        out_text = text  # unchanged, byte for byte
    else:
        if not new.endswith("\n"):
            new += "\n"
        out_text = new.replace("\n", "\r\n") if crlf else new
    notes = _notes(after) + work.notes
    remaining_keys = {(f.rule, f.title) for f in after}
    fixed = tuple(f for f in before if (f.rule, f.title) not in remaining_keys and f.rule not in ("dockerignore-missing", "dockerignore-incomplete"))
    named_sources = _named_sources(original_df)
    ignore_content, ignore_path, ignore_fixed = _dockerignore(before, context, path, measure_context, named_sources)
    if ignore_content is None and context is None and dockerignore_missing:
        listed = ctxmod.audit_from_files(context_files) if context_files else None
        lines = _keep_copied(ctxmod.recommended_dockerignore(listed), named_sources)
        ignore_content = "\n".join(lines) + "\n"
        ignore_path = str(PurePosixPath(_diff_path(path)).parent / ".dockerignore")
    after = [f for f in after if f.rule not in ("dockerignore-missing", "dockerignore-incomplete") or not ignore_content]
    return FixResult(
        path=path,
        original=text,
        text=out_text,
        diff=unified_diff(text, out_text, path=path, secrets=_secret_values(original_df, before)),
        fixed=fixed + ignore_fixed,
        remaining=tuple(after),
        notes=tuple(notes),
        dockerignore=ignore_content,
        dockerignore_path=ignore_path,
    )


def unified_diff(before: str, after: str, *, path: str = "Dockerfile", secrets: frozenset[str] = frozenset()) -> str:
    """A diff `patch -p1` applies from the directory the path is relative to.

    Credentials never print: a line is sensitive when `bot.redact.redact` (given `secrets`, the literal
    values the findings know of) would change it. The context shrinks (3, 2, 1, then 0 lines; `patch`
    applies zero-context hunks at their line numbers) until no context line is sensitive. A changed line
    that is sensitive is printed redacted: that diff no longer applies, and says so in a trailing line
    that `patch` ignores.
    """
    if before == after:
        return ""
    rel = _diff_path(path)
    a = before.splitlines(keepends=True)
    b = after.splitlines(keepends=True)

    def sensitive(line: str) -> bool:
        return redact(line, values=secrets) != line

    lines: list[str] = []
    for context in (3, 2, 1, 0):
        lines = list(difflib.unified_diff(a, b, fromfile=f"a/{rel}", tofile=f"b/{rel}", n=context))
        if not any(line.startswith(" ") and sensitive(line) for line in lines[2:]):
            break
    out: list[str] = []
    masked = False
    for i, line in enumerate(lines):
        if i >= 2 and sensitive(line):
            line = redact(line, values=secrets)
            masked = True
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    if masked:
        out.append("# coroner: a secret's value is masked above, so this diff will not apply; use `coroner fix --write`\n")
    return "".join(out)


def _secret_values(d: Dockerfile, findings: list[Finding]) -> frozenset[str]:
    """The literal values behind secret-in-env findings (a finding itself only names the variable)."""
    names = {(f.evidence.get("line"), f.evidence.get("name")) for f in findings if f.rule == "secret-in-env"}
    values: set[str] = set()
    for ins in d.instructions:
        for key, value in ins.pairs:
            if (ins.line, key) in names and value:
                values.add(value)
    return frozenset(values)


def _diff_path(path: str) -> str:
    p = PurePosixPath(path.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts:
        return p.name
    return str(p)


# --- edits ---------------------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _splice(text: str, edits: list[tuple[int, int, list[str]]]) -> str:
    """Apply (start, end, new_lines) edits over 0-based, non-overlapping line ranges [start, end).

    One pass from the top: replacing slices in place, one edit at a time, moved the rest of the file
    once per edit."""
    lines = _lines(text)
    out: list[str] = []
    pos = 0
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1])):
        out += lines[pos:start]
        out += new
        pos = max(pos, end)
    out += lines[pos:]
    return "\n".join(out)


def _span(ins: Instruction) -> tuple[int, int]:
    return ins.line - 1, ins.end_line


def _indent(ins: Instruction) -> str:
    first = ins.original.split("\n", 1)[0]
    return first[: len(first) - len(first.lstrip())]


def _head(ins: Instruction) -> tuple[str, str]:
    """Split the first line into `RUN --flags ` and the rest."""
    first = ins.original.split("\n", 1)[0]
    m = re.match(r"^(\s*\S+\s+(?:--\S+\s+)*)(.*)$", first)
    if not m:
        return first + " ", ""
    return m.group(1), m.group(2)


def _add_flag(ins: Instruction, flag: str) -> list[str]:
    lines = ins.original.split("\n")
    m = re.match(r"^(\s*\S+)(\s+)", lines[0])
    if not m:
        return lines
    lines[0] = f"{m.group(1)} {flag}{lines[0][m.end(1):]}"
    return lines


def _append_command(d: Dockerfile, ins: Instruction, command: str) -> list[str]:
    """`… && command` at the end of a RUN; inside the heredoc for `RUN <<EOF`."""
    lines = ins.original.split("\n")
    if ins.heredocs and ins.shell_script != ins.arguments:
        doc = ins.heredocs[-1]
        idx = doc.end_line - ins.line  # the terminator's index within the instruction
        lines.insert(idx, ("\t" if doc.strip_tabs else "") + command)
        return lines
    last = lines[-1].rstrip()
    lines[-1] = f"{last} {d.escape}"
    lines.append(f"{_indent(ins)}    && {command}")
    return lines


def _insert_in_command(ins: Instruction, pattern: re.Pattern[str], insert: str, already: str) -> list[str] | None:
    """Insert ` insert` after each match of `pattern` whose command does not already hold `already`."""
    text = ins.original
    out: list[str] = []
    pos = 0
    changed = False
    for m in pattern.finditer(text):
        tail = re.split(r"&&|\|\||;|\|(?!\|)|\n\s*\n", text[m.end():], maxsplit=1)[0]
        if already in tail or already in m.group(0):
            continue
        out.append(text[pos : m.end()])
        out.append(f" {insert}")
        pos = m.end()
        changed = True
    if not changed:
        return None
    out.append(text[pos:])
    return "".join(out).split("\n")


def _by_rule(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule and f.evidence.get("fixable")]


_Edit = Callable[[Dockerfile, Instruction, Finding], list[str] | None]


def _edit_each(w: _Work, rule: str, edit: _Edit, *, once_per_line: bool = False) -> str | None:
    """Rewrite the instruction each fixable `rule` finding points at with `edit` (None: leave it).

    The shape most fixers share. `once_per_line` is for rules that report one instruction several times
    (one finding per package manager or flag) but need a single edit of it.
    """
    d = w.parsed()
    edits = []
    seen: set[int] = set()
    for f in _by_rule(w.findings(), rule):
        ins = w.instruction_at(f.evidence["line"])
        if ins is None or ins.line in seen:
            continue
        if once_per_line:
            seen.add(ins.line)
        new = edit(d, ins, f)
        if new is not None:
            edits.append((*_span(ins), new))
    return _splice(d.text, edits) if edits else None


# --- fixers --------------------------------------------------------------------------------------


_APT_INSTALL = re.compile(r"\bapt(?:-get)?\b(?:\s+(?:-o\s+\S+|-{1,2}[\w:=.-]+))*\s+install\b")
_PIP_INSTALL = re.compile(r"\b(?:pip[0-9.]*|python[0-9.]*\s+-m\s+pip)\s+install\b")
_APK_ADD = re.compile(r"\bapk\s+add\b")


def _fix_multistage(w: _Work) -> str | None:
    """Single-stage Python image with build tools and `pip install -r`: build wheels in a builder stage."""
    d = w.parsed()
    if len(d.stages) != 1:
        return None
    findings = w.findings()
    if not [f for f in findings if f.rule == "build-tools-in-final-stage" and f.evidence.get("instruction") == "RUN"]:
        return None
    stage = d.stages[0]
    ref = parse_ref(stage.base_image)
    slim = slim_variant(ref)
    if ref.name != "python":
        return None
    pip_run: Instruction | None = None
    requirement: str | None = None
    for ins in stage.instructions:
        if ins.keyword != "RUN":
            continue
        for c in parse_script(ins.shell_script).commands:
            call = classify(c)
            if call and call.manager == "pip" and call.action == "install":
                words = list(call.command.unwrapped().words)
                for i, word in enumerate(words):
                    if word in ("-r", "--requirement") and i + 1 < len(words):
                        requirement = words[i + 1]
                    elif word.startswith("-r") and len(word) > 2:
                        requirement = word[2:]
                if requirement and pip_run is None:
                    pip_run = ins
    if pip_run is None or requirement is None or len(parse_script(pip_run.shell_script).commands) != 1:
        w.notes.append("build-tools-in-final-stage: no single `pip install -r` RUN to turn into wheels; left alone")
        return None
    tool_runs, runtime_packages, dropped = _apt_tool_runs(stage, skip=pip_run)
    if not tool_runs:
        return None
    lines = _lines(d.text)
    from_ins = stage.from_instruction
    builder: list[str] = [f"{_head(from_ins)[0]}{stage.base_image_raw} AS builder"]
    for ins in stage.instructions[1:]:
        if ins in tool_runs or ins.keyword in ("ARG", "ENV", "WORKDIR", "SHELL"):
            builder += ins.original.split("\n")
        if ins is pip_run:
            break
    dest = "./"
    before_pip = stage.instructions[: stage.instructions.index(pip_run)]
    needs_manifest = not any(i.keyword in ("COPY", "ADD") and i.flag("from") is None for i in before_pip)
    builder.append(f"COPY {requirement} {dest}")
    builder.append(f"RUN pip wheel --wheel-dir /wheels -r {requirement}")
    builder.append("")
    final_base = slim or stage.base_image_raw
    out: list[str] = lines[: from_ins.line - 1] + builder
    out.append(f"{_head(from_ins)[0]}{final_base}" + (f" AS {stage.name}" if stage.name else ""))
    prev_end = from_ins.end_line
    for ins in stage.instructions[1:]:
        out += lines[prev_end : ins.line - 1]  # comments and blank lines between instructions stay
        prev_end = ins.end_line
        if ins in tool_runs:
            out += _runtime_install(ins, runtime_packages)
            continue
        if ins is pip_run:
            head, _ = _head(ins)
            body = ins.original[len(head):] if "\n" not in ins.original else ins.arguments
            body = re.sub(r"\binstall\b", "install --no-index --find-links=/wheels", body, count=1)
            if needs_manifest:
                out.append(f"{_indent(ins)}COPY {requirement} {dest}")
            out.append(f"{_indent(ins)}RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels {body}")
            continue
        out += ins.original.split("\n")
    out += lines[prev_end:]
    w.notes.append(
        "build-tools-in-final-stage: split into a `builder` stage that builds wheels and a final stage on "
        f"{final_base}; {', '.join(sorted(set(dropped)))} no longer ship"
    )
    if any(p.endswith("-dev") for p in dropped):
        w.notes.append(
            "build-tools-in-final-stage: runtime libraries for the -dev packages (for example libpq5 for "
            "libpq-dev) are not guessed; add them to the final stage if the wheels need them"
        )
    if any("cuda" in p for p in dropped):
        w.notes.append(
            "build-tools-in-final-stage: the CUDA toolkit (compiler and headers) no longer ships; if the app "
            "needs the CUDA runtime at run time, install only the runtime libraries (cuda-libraries-<version>)"
        )
    return "\n".join(out)


def _apt_tool_runs(stage: Stage, *, skip: Instruction) -> tuple[list[Instruction], dict[int, list[str]], list[str]]:
    """The apt-only RUNs that install build tools (and a lone `apt-get update`), the runtime packages to
    keep per RUN, and the build tools dropped."""
    tool_runs: list[Instruction] = []
    runtime_packages: dict[int, list[str]] = {}
    dropped: list[str] = []
    for ins in stage.instructions:
        if ins.keyword != "RUN" or ins is skip:
            continue
        calls = [classify(c) for c in parse_script(ins.shell_script).commands]
        if not calls or any(c is None or c.manager != "apt" for c in calls):
            continue
        installs = [c for c in calls if c and c.action == "install"]
        if all(c and c.action == "update" for c in calls):
            tool_runs.append(ins)
            continue
        if installs and any(is_build_tool(p.split("=", 1)[0]) for c in installs for p in c.packages):
            tool_runs.append(ins)
            runtime_packages[ins.line] = [p for c in installs for p in c.packages if not is_build_tool(p.split("=", 1)[0])]
            dropped += [p for c in installs for p in c.packages if is_build_tool(p.split("=", 1)[0])]
    return tool_runs, runtime_packages, dropped


def _runtime_install(ins: Instruction, runtime_packages: dict[int, list[str]]) -> list[str]:
    """What a build-tool RUN becomes in the final stage: an install of its runtime packages, if any."""
    keep = runtime_packages.get(ins.line, [])
    return [f"{_indent(ins)}RUN apt-get update && apt-get install -y {' '.join(keep)}"] if keep else []


def _fix_npm_multistage(w: _Work) -> str | None:
    """Single-stage Node image that compiles native modules: build node_modules in a builder stage."""
    d = w.parsed()
    if not [f for f in w.findings() if f.rule == "build-tools-in-final-stage" and f.evidence.get("instruction") == "RUN"]:
        return None
    found = npm_pattern(d)
    if found is None:
        return None
    npm_run, workdir = found
    stage = d.stages[0]
    tool_runs, runtime_packages, dropped = _apt_tool_runs(stage, skip=npm_run)
    if not tool_runs:
        return None
    slim = slim_variant(parse_ref(stage.base_image)) or stage.base_image_raw
    lines = _lines(d.text)
    from_ins = stage.from_instruction
    out: list[str] = lines[: from_ins.line - 1] + [f"{_head(from_ins)[0]}{stage.base_image_raw} AS builder"]
    for ins in stage.instructions[1:]:
        if ins is npm_run:
            break
        if ins in tool_runs or ins.keyword in ("ARG", "ENV", "WORKDIR", "SHELL"):
            out += ins.original.split("\n")
    out += ["COPY package.json package-lock.json* ./", *npm_run.original.split("\n"), ""]
    out.append(f"{_head(from_ins)[0]}{slim}" + (f" AS {stage.name}" if stage.name else ""))
    prev_end = from_ins.end_line
    for ins in stage.instructions[1:]:
        out += lines[prev_end : ins.line - 1]
        prev_end = ins.end_line
        if ins in tool_runs:
            out += _runtime_install(ins, runtime_packages)
            continue
        if ins is npm_run:
            out.append(f"{_indent(ins)}COPY --from=builder {workdir.rstrip('/')}/node_modules ./node_modules")
            continue
        out += ins.original.split("\n")
    out += lines[prev_end:]
    w.notes.append(
        "build-tools-in-final-stage: split into a `builder` stage that compiles node_modules and a final stage "
        f"on {slim}; {', '.join(sorted(set(dropped)))} no longer ship"
    )
    return "\n".join(out)


def _fix_go_multistage(w: _Work) -> str | None:
    """Single-stage Go image: build in the golang image, ship only the binary on a distroless runtime."""
    d = w.parsed()
    if not [f for f in w.findings() if f.rule == "build-tools-in-final-stage"]:
        return None
    output = go_build_output(d)
    if output is None:
        return None
    stage = d.stages[0]
    lines = _lines(d.text)
    from_ins = stage.from_instruction
    out: list[str] = lines[: from_ins.line - 1]
    out.append(f"{_head(from_ins)[0]}{stage.base_image_raw} AS builder")
    final: list[str] = []
    envs: list[str] = []
    prev_end = from_ins.end_line
    for ins in stage.instructions[1:]:
        gap = lines[prev_end : ins.line - 1]
        prev_end = ins.end_line
        body = ins.original.split("\n")
        if ins.keyword in _FINAL_ONLY_KEYWORDS:
            if ins.keyword == "USER":
                w.notes.append(f"build-tools-in-final-stage: USER {ins.arguments} dropped; the runtime image runs as nonroot (65532)")
                continue
            final += gap + body
            continue
        if ins.keyword in ("ENV", "WORKDIR"):
            envs += body  # the program may read them at run time (relative CMD, $PORT): keep them in both stages
        out += gap + body
    out += lines[prev_end:]
    while out and not out[-1].strip():
        out.pop()
    out += ["", f"FROM {GO_RUNTIME_IMAGE}", *envs, f"COPY --from=builder {output} {output}", *final]
    w.notes.append(
        f"build-tools-in-final-stage: split into a golang `builder` stage and {GO_RUNTIME_IMAGE} (glibc, CA "
        "certificates, tzdata, no shell); only the binary ships. Pin that image by digest."
    )
    return "\n".join(out) + "\n"


def _fix_apt_update_alone(w: _Work) -> str | None:
    d = w.parsed()
    for f in _by_rule(w.findings(), "apt-update-alone"):
        ins = w.instruction_at(f.evidence["line"])
        if ins is None:
            continue
        stage = d.stages[ins.stage_index]
        idx = stage.instructions.index(ins)
        nxt = stage.instructions[idx + 1] if idx + 1 < len(stage.instructions) else None
        if nxt is None or nxt.keyword != "RUN" or nxt.heredocs or ins.heredocs:
            continue
        head, _ = _head(ins)
        flags = [fl for fl in _head(nxt)[0].split()[1:] if fl not in head.split()]
        first = ins.original.split("\n")
        if flags:
            first[0] = re.sub(r"^(\s*\S+)", lambda m: m.group(1) + " " + " ".join(flags), first[0], count=1)  # noqa: B023 - called at once
        first[-1] = first[-1].rstrip() + f" {d.escape}"
        nxt_lines = nxt.original.split("\n")
        nxt_lines[0] = f"{_indent(ins)}    && {_head(nxt)[1]}"
        # drop the blank/comment lines between the two RUNs only when there are none; otherwise keep them above
        between = _lines(d.text)[ins.end_line : nxt.line - 1]
        return _splice(d.text, [(ins.line - 1, nxt.end_line, between + first + nxt_lines)])
    return None


def _fix_regex(rule: str, pattern: re.Pattern[str], insert: str, already: str) -> Callable[[_Work], str | None]:
    def fixer(w: _Work) -> str | None:
        return _edit_each(w, rule, lambda d, ins, f: _insert_in_command(ins, pattern, insert, already),
                          once_per_line=True)

    fixer.__name__ = f"fix_{rule}"
    return fixer


def _fix_apt_lists(w: _Work) -> str | None:
    return _edit_each(w, "apt-lists-not-removed",
                      lambda d, ins, f: _append_command(d, ins, "rm -rf /var/lib/apt/lists/*"))


_CACHE_CLEAN = {"yum": "yum clean all", "dnf": "dnf clean all", "microdnf": "microdnf clean all",
                "yarn": "yarn cache clean", "npm": "npm cache clean --force"}


def _fix_package_cache(w: _Work) -> str | None:
    def edit(d: Dockerfile, ins: Instruction, f: Finding) -> list[str] | None:
        manager = f.evidence.get("manager")
        if manager == "apk":
            return _insert_in_command(ins, _APK_ADD, "--no-cache", "--no-cache")
        command = _CACHE_CLEAN.get(str(manager))
        return _append_command(d, ins, command) if command else None

    return _edit_each(w, "package-cache", edit, once_per_line=True)


def _fix_cache_mount(w: _Work) -> str | None:
    d = w.parsed()
    targets: dict[int, list[str]] = {}
    for f in _by_rule(w.findings(), "no-cache-mount"):
        targets.setdefault(f.evidence["line"], [])
        if f.evidence["target"] not in targets[f.evidence["line"]]:
            targets[f.evidence["line"]].append(f.evidence["target"])
    edits = []
    for line, ts in targets.items():
        ins = w.instruction_at(line)
        if ins is None:
            continue
        lines = ins.original.split("\n")
        for t in reversed(ts):
            tmp = Instruction(ins.keyword, ins.line, ins.end_line, "\n".join(lines), ins.arguments)
            lines = _add_flag(tmp, f"--mount=type=cache,target={t}")
        edits.append((*_span(ins), lines))
    return _splice(d.text, edits) if edits else None


def _fix_add(w: _Work) -> str | None:
    def edit(d: Dockerfile, ins: Instruction, f: Finding) -> list[str] | None:
        if any(fl.name in ("checksum", "keep-git-dir", "unpack") for fl in ins.flags):
            return None
        lines = ins.original.split("\n")
        lines[0] = re.sub(r"^(\s*)ADD\b", r"\1COPY", lines[0], count=1, flags=re.I)
        return lines

    return _edit_each(w, "add-instead-of-copy", edit)


_MANIFEST_COPY = {
    "npm": "package.json package-lock.json*",
    "pnpm": "package.json pnpm-lock.yaml*",
    "yarn": "package.json yarn.lock*",
    "go": "go.mod go.sum*",
    "bundle": "Gemfile Gemfile.lock*",
    "composer": "composer.json composer.lock*",
    "poetry": "pyproject.toml poetry.lock*",
    "uv": "pyproject.toml uv.lock*",
    "pipenv": "Pipfile Pipfile.lock*",
}


def _fix_copy_order(w: _Work) -> str | None:
    d = w.parsed()
    for f in _by_rule(w.findings(), "copy-before-deps"):
        whole = w.instruction_at(f.evidence["line"])
        install = w.instruction_at(f.evidence["install_line"])
        if whole is None or install is None:
            continue
        manager = str(f.evidence.get("manager"))
        stage = d.stages[whole.stage_index]
        items = list(stage.instructions)
        between = items[items.index(whole) + 1 : items.index(install)]
        reason = copy_order_blocker(between + [install])
        if reason:
            w.notes.append(f"copy-before-deps (line {whole.line}): left alone, {reason}")
            continue
        if manager == "pip":
            manifests = " ".join(_requirement_files(install))
        else:
            manifests = _MANIFEST_COPY.get(manager, "")
        if not manifests:
            continue
        srcs_dest = whole.exec_form[-1] if whole.exec_form else whole.arguments.split()[-1]
        dest = srcs_dest if srcs_dest.endswith("/") else ("./" if srcs_dest in (".", "./") else srcs_dest + "/")
        head, _ = _head(whole)
        copy_line = f"{head}{manifests} {dest}"
        lines = _lines(d.text)
        whole_lines = lines[whole.line - 1 : whole.end_line]
        edits = [
            (whole.line - 1, whole.end_line, []),
            (install.line - 1, install.line - 1, [copy_line]),
            (install.end_line, install.end_line, whole_lines),
        ]
        return _splice(d.text, edits)
    return None


def _requirement_files(ins: Instruction) -> list[str]:
    out = []
    for c in parse_script(ins.shell_script).commands:
        words = list(c.unwrapped().words)
        for i, word in enumerate(words):
            if word in ("-r", "--requirement", "-c", "--constraint") and i + 1 < len(words):
                out.append(words[i + 1])
            elif re.fullmatch(r"-r\S+", word):
                out.append(word[2:])
    return out


def _fix_shell_form(w: _Work) -> str | None:
    def edit(d: Dockerfile, ins: Instruction, f: Finding) -> list[str] | None:
        words = split_words(ins.arguments) if ins.exec_form is None else []
        return [f"{_indent(ins)}{ins.keyword} {json.dumps(words)}"] if words else None

    return _edit_each(w, "shell-form-entrypoint", edit)


def _fix_user_order(w: _Work) -> str | None:
    """Move every USER that precedes the stage's last root-only command to just after it, in order."""
    d = w.parsed()
    findings = _by_rule(w.findings(), "root-command-after-user")
    for stage in d.stages:
        lines_hit = {f.evidence["line"] for f in findings}
        roots = [ins for ins in stage.instructions if ins.line in lines_hit]
        if not roots:
            continue
        last_root = roots[-1]
        users = [ins for ins in stage.instructions if ins.keyword == "USER" and ins.line < last_root.line]
        text_lines = _lines(d.text)
        moved = [line for u in users for line in text_lines[u.line - 1 : u.end_line]]
        edits: list[tuple[int, int, list[str]]] = [(u.line - 1, u.end_line, []) for u in users]
        edits.append((last_root.end_line, last_root.end_line, moved))
        w.notes.append(
            f"root-command-after-user: USER moved after line {last_root.line}; the RUNs in between now run as root"
        )
        return _splice(d.text, edits)
    return None


_METADATA = frozenset({"CMD", "ENTRYPOINT", "HEALTHCHECK", "EXPOSE", "STOPSIGNAL", "VOLUME"})


def _fix_runs_as_root(w: _Work) -> str | None:
    d = w.parsed()
    for f in _by_rule(w.findings(), "runs-as-root"):
        if f.evidence.get("reason") != "no-user":
            continue
        stage: Stage = d.final_stage
        items = list(stage.instructions)
        pos = 1
        for i, ins in enumerate(items):
            if ins.keyword == "RUN":
                pos = i + 1
        while pos < len(items) and items[pos].keyword not in _METADATA:
            pos += 1
        if pos < len(items):
            at = items[pos].line - 1
            # keep a comment block that belongs to the metadata instruction above it
            lines = _lines(d.text)
            while at > 0 and lines[at - 1].strip().startswith("#"):
                at -= 1
        else:
            at = items[-1].end_line
        indent = _indent(items[0])
        w.notes.append(
            f"runs-as-root: the container now runs as uid {NON_ROOT_USER.split(':')[0]}; make sure the app can "
            "write where it needs to (COPY --chown, a writable volume) and binds a port above 1023"
        )
        return _splice(d.text, [(at, at, [f"{indent}USER {NON_ROOT_USER}"])])
    return None


def _fix_user_numeric(w: _Work) -> str | None:
    from bot.dockerfile.rules import _known_uid, _State  # the uid lookup is the rule's own

    def edit(d: Dockerfile, ins: Instruction, f: Finding) -> list[str] | None:
        uid = _known_uid(_State(d, None, False), d.stages[ins.stage_index], f.evidence["user"])
        if uid is None:
            return None
        lines = ins.original.split("\n")
        lines[0] = re.sub(r"(USER\s+)" + re.escape(f.evidence["user"]) + r"\b", r"\g<1>" + uid, lines[0], count=1, flags=re.I)
        return lines

    return _edit_each(w, "user-not-numeric", edit)


def _fix_copy_link(w: _Work) -> str | None:
    return _edit_each(w, "copy-without-link",
                      lambda d, ins, f: _add_flag(ins, "--link") if ins.flag("link") is None else None)


def pin_from_image(ref: str, *, digest: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """The exact pin for `ref` from facts about the image itself, or None when they do not give one.

    A digest pins exactly (`python:3.11@sha256:…`). Otherwise the official images' version variable
    (`PYTHON_VERSION=3.11.9`) turns `python:3.11` into `python:3.11.9`, keeping the variant suffix.
    """
    parsed = parse_ref(ref)
    if digest:
        base = ref.split("@", 1)[0]
        return f"{base}@{digest}"
    env = env or {}
    var = {"python": "PYTHON_VERSION", "node": "NODE_VERSION", "golang": "GOLANG_VERSION", "ruby": "RUBY_VERSION",
           "php": "PHP_VERSION", "perl": "PERL_VERSION"}.get(parsed.name)
    version = env.get(var) if var else None
    if not version or not re.fullmatch(r"[0-9][0-9A-Za-z.\-]*", version):
        return None
    tag = parsed.tag or "latest"
    suffix = ""
    m = re.match(r"^[0-9][0-9.]*(?P<suffix>-.+)?$", tag)
    if m:
        suffix = m.group("suffix") or ""
    elif tag != "latest":
        suffix = "-" + tag  # `python:slim` -> `python:3.11.9-slim`
    if tag != "latest" and m and not version.startswith(tag.split("-", 1)[0]):
        return None  # the image's version does not belong to this tag: something is off, don't guess
    return parsed.with_tag(version + suffix)


def _fix_base_pin(w: _Work) -> str | None:
    if not w.pins:
        return None
    d = w.parsed()
    edits = []
    for stage in d.stages:
        pin = w.pins.get(stage.base_image) or w.pins.get(stage.base_image_raw)
        if not pin or pin == stage.base_image:
            continue
        ins = stage.from_instruction
        lines = ins.original.split("\n")
        new = lines[0].replace(stage.base_image_raw, pin, 1)
        if new != lines[0]:
            lines[0] = new
            edits.append((*_span(ins), lines))
    return _splice(d.text, edits) if edits else None


_FIXERS: tuple[Callable[[_Work], str | None], ...] = (
    _fix_base_pin,
    _fix_multistage,
    _fix_go_multistage,
    _fix_npm_multistage,
    _fix_apt_update_alone,
    _fix_regex("apt-no-install-recommends", _APT_INSTALL, "--no-install-recommends", "--no-install-recommends"),
    _fix_apt_lists,
    _fix_regex("pip-cache", _PIP_INSTALL, "--no-cache-dir", "--no-cache-dir"),
    _fix_package_cache,
    _fix_cache_mount,
    _fix_add,
    _fix_copy_order,
    _fix_shell_form,
    _fix_user_order,
    _fix_user_numeric,
    _fix_runs_as_root,
    _fix_copy_link,
)


# --- notes and .dockerignore ---------------------------------------------------------------------

_WHY_LEFT = {
    "base-image-unpinned": "the exact version is not known here, and coroner never invents one; pin it by tag and digest",
    "base-image-heavy": "a slim base can lack libraries the app needs at run time; switch after a test build",
    "apt-upgrade": "removing the upgrade changes which package versions ship; rebuild on a fresher base instead",
    "cleanup-in-later-layer": "moving the cleanup into the layer that added the files needs a human look at the RUN order",
    "consecutive-run": "merging RUNs trades cache granularity; left as written",
    "user-not-numeric": "the numeric id of this user is not known from the Dockerfile",
    "secret-in-env": "a secret must be rotated and passed with RUN --mount=type=secret; the value is not printed",
    "no-init": "adding tini or dumb-init would need a package version; add one, or make the script exec its child",
    "no-healthcheck": "the health endpoint is not known; on Kubernetes use liveness/readiness probes",
    "workdir-relative": "the base image's working directory is not known here",
    "sudo": "removing sudo can change which user runs the command",
    "curl-pipe-shell": "the checksum of the downloaded script is not known here",
    "docker-socket": "removing the socket changes what the container can do; needs a human decision",
    "cgroup-unaware-runtime": "moving to a newer runtime means choosing a version; coroner never invents one",
    "build-tools-in-final-stage": "no multi-stage pattern was recognised (pip wheels)",
    "runs-as-root": "the Dockerfile sets USER root on purpose; drop privileges in the entrypoint or add a non-root USER",
}


def _notes(after: list[Finding]) -> list[str]:
    notes = []
    for f in after:
        if f.rule in ("copy-without-link", "no-cache-mount") or f.rule.startswith("dockerignore-"):
            continue
        why = _WHY_LEFT.get(f.rule, "no safe automatic rewrite")
        if f.evidence.get("fixable"):
            why = "could not be rewritten automatically"
        notes.append(f"{f.rule} (line {f.evidence.get('line')}): left alone, {why}")
    return notes


def _keep_copied(lines: list[str], copied: list[str]) -> list[str]:
    """Drop the patterns that would exclude a path the Dockerfile COPYs by name: the build would fail."""
    out = []
    for line in lines:
        if line.startswith(("#", "!")):
            out.append(line)
            continue
        m = ctxmod.Matcher(ctxmod.parse_dockerignore(line))
        if any(m.excluded(src) for src in copied):
            continue
        out.append(line)
    return out


def _named_sources(d: Dockerfile) -> list[str]:
    out = []
    for ins in d.instructions:
        if ins.keyword in ("COPY", "ADD") and ins.flag("from") is None and not ins.heredocs:
            words = list(ins.exec_form) if ins.exec_form else ins.arguments.split()
            for src in words[:-1]:
                src = src.strip("./") if src.startswith("./") else src
                if src and src not in (".", "*") and "$" not in src and not src.startswith(("http://", "https://")):
                    out.append(src.rstrip("/"))
    return out


def _dockerignore(
    before: list[Finding], context: Path | None, path: str, measure: bool, copied: list[str] | None = None
) -> tuple[str | None, str | None, tuple[Finding, ...]]:
    copied = copied or []
    if context is None:
        return None, None, ()
    missing = [f for f in before if f.rule == "dockerignore-missing"]
    incomplete = [f for f in before if f.rule == "dockerignore-incomplete"]
    if not missing and not incomplete:
        return None, None, ()
    audit = ctxmod.audit(context, dockerfile=path) if measure else None
    if missing:
        lines = _keep_copied(ctxmod.recommended_dockerignore(audit), copied)
        return "\n".join(lines) + "\n", str(context / ".dockerignore"), tuple(missing)
    existing_path = ctxmod.find_dockerignore(context, path)
    if existing_path is None:
        return None, None, ()
    existing = ctxmod.read_dockerignore(existing_path)
    add = list(incomplete[0].evidence.get("missing", []))
    lines = _keep_copied([m.rstrip("/") for m in add], copied)
    if not lines:
        return None, None, ()
    body = existing if existing.endswith("\n") or not existing else existing + "\n"
    body += "# Added by `coroner fix`\n" + "\n".join(lines) + "\n"
    return body, str(existing_path), tuple(incomplete)
