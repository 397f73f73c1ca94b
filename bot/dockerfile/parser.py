"""A faithful Dockerfile parser following BuildKit's syntax.

It keeps exact line numbers and the original text of every instruction, so rules can point at a line and
the fixer can rewrite one instruction while leaving every other byte alone. Anything that BuildKit would
reject raises `DockerfileParseError` (`path:line: reason`, exit code 2); nothing else ever escapes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.dockerfile.images import parse_ref, windows_image
from bot.dockerfile.source import MAX_DOCKERFILE_BYTES
from bot.ports import CoronerError
from bot.printable import printable

KEYWORDS = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
        "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
    }
)
# Instructions whose leading `--name[=value]` words are flags, not arguments.
# Shells whose RUN scripts the rules read (a `SHELL ["pwsh", "-c"]` RUN is not one of them).
POSIX_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "busybox"})
_FLAGGED = frozenset({"ADD", "COPY", "FROM", "HEALTHCHECK", "RUN"})
# Instructions whose exec form is a JSON array (BuildKit falls back to shell form when the JSON is invalid).
_EXEC_CAPABLE = frozenset({"CMD", "ENTRYPOINT", "RUN", "SHELL", "ADD", "COPY", "VOLUME"})
_HEREDOC_CAPABLE = frozenset({"RUN", "COPY", "ADD"})

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"(?<!<)<<(?!<)(-?)(\s*)([\"']?)([A-Za-z0-9_.\-/]+)\3")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


class DockerfileParseError(CoronerError):
    """The Dockerfile does not parse. The message is `path:line: reason`, one printable line (the reason
    quotes the file, which may hold terminal escapes); the CLI exits 2."""

    exit_code = 2

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(printable(f"{path}:{line}: {reason}", escape_backslash=False))
        self.path = path
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Flag:
    name: str
    value: str | None  # None for a bare `--link`


@dataclass(frozen=True)
class Heredoc:
    """One `<<WORD` body. `line`/`end_line` are the body's first line and the terminator's line."""

    name: str
    content: str
    strip_tabs: bool
    quoted: bool  # a quoted delimiter turns off expansion inside the body
    line: int
    end_line: int


@dataclass(frozen=True)
class Instruction:
    """One instruction as written.

    `arguments` is the text after the keyword and the flags, continuation lines joined with a space and
    comment lines inside the continuation dropped (as BuildKit does). `exec_form` is the JSON array when
    the instruction uses exec form, else None. `original` is the exact source, heredoc bodies included.
    """

    keyword: str
    line: int
    end_line: int
    original: str
    arguments: str
    flags: tuple[Flag, ...] = ()
    exec_form: tuple[str, ...] | None = None
    heredocs: tuple[Heredoc, ...] = ()
    leading_comments: tuple[str, ...] = ()  # the comment lines directly above, for inline ignores
    stage_index: int = -1  # -1: before the first FROM (global ARGs)
    onbuild: Instruction | None = None  # the trigger of an ONBUILD

    def flag(self, name: str) -> str | None:
        """The value of the last `--name=value` flag ("" for a bare `--name`), or None when absent."""
        found: str | None = None
        for f in self.flags:
            if f.name == name:
                found = f.value if f.value is not None else ""
        return found

    def flag_values(self, name: str) -> list[str]:
        return [f.value or "" for f in self.flags if f.name == name]

    @property
    def shell_script(self) -> str:
        """The shell text a RUN executes: the heredoc body for `RUN <<EOF`, else the shell-form arguments."""
        if self.exec_form is not None:
            return ""
        if self.heredocs and _HEREDOC.match(self.arguments.strip()):
            return "\n".join(h.content for h in self.heredocs)
        return self.arguments

    @property
    def pairs(self) -> tuple[tuple[str, str | None], ...]:
        """`key=value` pairs of ENV, LABEL and ARG (legacy `ENV key value` included); quotes removed."""
        if self.keyword not in ("ENV", "LABEL", "ARG"):
            return ()
        return parse_pairs(self.arguments, legacy=self.keyword == "ENV")


@dataclass(frozen=True)
class Stage:
    index: int
    name: str | None  # lower-cased, as BuildKit compares stage names
    base_image: str  # after ARG substitution
    base_image_raw: str  # as written
    from_instruction: Instruction
    instructions: tuple[Instruction, ...]  # FROM first
    platform: str | None = None
    # The earlier stage this one builds on (`FROM builder`), resolved once by the parser: a lookup per
    # question made long stage chains cubic.
    base_index: int | None = None
    # Built on a Windows image (through the stages it builds on): its RUNs go to `cmd /S /C` unless a SHELL
    # names a POSIX shell, and the legacy builder (no BuildKit) builds it.
    windows: bool = False
    # The SHELL in effect at FROM: a stage built on an earlier stage starts with that stage's last SHELL
    # (BuildKit carries it in the image config), None for the platform default (`/bin/sh -c`, or cmd).
    inherited_shell: tuple[str, ...] | None = None

    def base_stage(self, stages: tuple[Stage, ...]) -> Stage | None:
        """The earlier stage this one builds on (`FROM builder`), or None for an image."""
        return stages[self.base_index] if self.base_index is not None else None

    def shell_runs(self) -> Iterator[Instruction]:
        """The stage's RUN instructions that a POSIX shell executes: after `SHELL ["pwsh", ...]`, or on a
        Windows image (cmd), a RUN is no shell script the rules can read, until a SHELL puts a POSIX shell back."""
        for ins, shell in self.runs_with_shell():
            if (not self.windows) if shell is None else is_posix_shell(shell):
                yield ins

    def runs_with_shell(self) -> Iterator[tuple[Instruction, tuple[str, ...] | None]]:
        """Every RUN of the stage with the SHELL in effect there (None: the platform default)."""
        shell = self.inherited_shell
        for ins in self.instructions:
            if ins.keyword == "SHELL" and ins.exec_form:
                shell = ins.exec_form
            elif ins.keyword == "RUN":
                yield ins, shell

    @property
    def final_shell(self) -> tuple[str, ...] | None:
        """The SHELL in effect at the end of the stage: what a stage built FROM this one starts with."""
        shell = self.inherited_shell
        for ins in self.instructions:
            if ins.keyword == "SHELL" and ins.exec_form:
                shell = ins.exec_form
        return shell


def is_posix_shell(shell: tuple[str, ...]) -> bool:
    """Whether a SHELL's program is a POSIX shell (`/bin/bash`, `ash`), not pwsh or cmd."""
    return bool(shell) and shell[0].rsplit("/", 1)[-1].lower() in POSIX_SHELLS


@dataclass(frozen=True)
class Dockerfile:
    path: str
    text: str
    lines: tuple[str, ...]
    instructions: tuple[Instruction, ...]
    stages: tuple[Stage, ...]
    global_args: tuple[Instruction, ...]
    directives: dict[str, str] = field(default_factory=dict)
    escape: str = "\\"

    @property
    def final_stage(self) -> Stage:
        return self.stages[-1]

    @property
    def legacy_builder(self) -> bool:
        """Built by Docker's legacy builder, not BuildKit: Windows images are (Docker's docs), so BuildKit-only
        flags (`COPY --link`, `RUN --mount`) fail there, and the whole context is sent whatever the COPYs name."""
        return any(s.windows for s in self.stages)

    def stage_by_name(self, name: str) -> Stage | None:
        for s in self.stages:
            if s.name == name.lower():
                return s
        return None

    def shipped_indexes(self) -> set[int]:
        """The final stage and the stages it is built FROM: their layers are in the image that ships."""
        return {s.index for s in self.chain(self.final_stage)}

    def shell_runs(self) -> Iterator[Instruction]:
        """Every stage's shell RUNs (`Stage.shell_runs`), in file order."""
        for stage in self.stages:
            yield from stage.shell_runs()

    def chain(self, stage: Stage) -> list[Stage]:
        """The stage and the stages it builds on, oldest first."""
        out = [stage]
        cur = stage.base_stage(self.stages)
        while cur is not None:  # base_index always points back, so this ends
            out.append(cur)
            cur = cur.base_stage(self.stages)
        out.reverse()
        return out


def parse(text: str, *, path: str = "Dockerfile") -> Dockerfile:
    if len(text) > MAX_DOCKERFILE_BYTES:  # characters, not bytes: close enough to refuse what is no Dockerfile
        raise DockerfileParseError(path, 1, f"larger than {MAX_DOCKERFILE_BYTES // (1024 * 1024)} MB; a Dockerfile is a few KB")
    try:
        return _Parser(text, path).run()
    except DockerfileParseError:
        raise
    except (ValueError, IndexError, KeyError, TypeError, RecursionError) as exc:  # a bug here must not be a traceback
        raise DockerfileParseError(path, 1, f"cannot parse: {exc}") from exc


def expand(text: str, variables: dict[str, str | None], *, keep_unknown: bool = False) -> str:
    """Substitute `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`.

    With `keep_unknown`, a reference with no value and no default is left as written: for a linter the
    value is decided at build time (`--build-arg`, or BuildKit's automatic TARGETARCH and friends).
    """

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        op, word = m.group(2), m.group(3) or ""
        present = name in variables
        value = variables.get(name)
        if keep_unknown and value is None and op in (None, "+", ":+"):
            return m.group(0)
        if op is None:
            return value or ""
        if op == ":-":
            return value if value else word
        if op == "-":
            return (value or "") if present else word
        if op == ":+":
            return word if value else ""
        return word if present else ""  # "+"

    return _VAR.sub(sub, text)


def parse_pairs(text: str, *, legacy: bool = False) -> tuple[tuple[str, str | None], ...]:
    words = split_words(text)
    if legacy and words and "=" not in words[0]:
        # `ENV key value with spaces`: the first word is the key, the rest of the line the value.
        key, _, rest = text.strip().partition(" ")
        return ((key, " ".join(split_words(rest.strip())) if rest.strip() else ""),)
    out: list[tuple[str, str | None]] = []
    for w in words:
        if "=" in w:
            k, _, v = w.partition("=")
            out.append((k, v))
        else:
            out.append((w, None))
    return tuple(out)


def split_words(text: str) -> list[str]:
    """Whitespace-separated words with quotes removed and backslash escapes honoured (Docker's word rules)."""
    words: list[str] = []
    cur: list[str] = []
    in_word = False
    quote: str | None = None
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                quote = None
            elif c == "\\" and quote == '"' and i + 1 < len(text) and text[i + 1] in '"\\$':
                i += 1
                cur.append(text[i])
            else:
                cur.append(c)
        elif c in "\"'":
            quote = c
            in_word = True
        elif c == "\\" and i + 1 < len(text):
            i += 1
            cur.append(text[i])
            in_word = True
        elif c.isspace():
            if in_word:
                words.append("".join(cur))
                cur, in_word = [], False
        else:
            cur.append(c)
            in_word = True
        i += 1
    if in_word:
        words.append("".join(cur))
    return words


class _Parser:
    def __init__(self, text: str, path: str) -> None:
        self.path = path
        if text.startswith("\ufeff"):
            text = text[1:]
        self.text = text
        self.lines = tuple(line.rstrip("\r") for line in text.split("\n"))
        self.escape = "\\"
        self.directives: dict[str, str] = {}

    def fail(self, line: int, reason: str) -> DockerfileParseError:
        return DockerfileParseError(self.path, line, reason)

    def run(self) -> Dockerfile:
        start = self._directives()
        raw = self._logical_instructions(start)
        instructions: list[Instruction] = []
        stages: list[Stage] = []
        global_args: list[Instruction] = []
        arg_values: dict[str, str | None] = {}
        current: list[Instruction] = []
        current_from: tuple[Instruction, str, str, str | None, str | None] | None = None
        stage_index: dict[str, int] = {}  # stage name -> the first stage of that name

        def close_stage() -> None:
            if current_from is not None:
                ins, image, image_raw, name, platform = current_from
                base_index = stage_index.get(image.lower())
                base = stages[base_index] if base_index is not None else None
                windows = base.windows if base is not None else windows_image(parse_ref(image))
                stages.append(
                    Stage(
                        index=len(stages),
                        name=name,
                        base_image=image,
                        base_image_raw=image_raw,
                        from_instruction=ins,
                        instructions=tuple(current),
                        platform=platform,
                        base_index=base_index,
                        windows=windows,
                        inherited_shell=base.final_shell if base is not None else None,
                    )
                )
                if name is not None:
                    stage_index.setdefault(name, len(stages) - 1)

        for ins in raw:
            if ins.keyword == "FROM":
                close_stage()
                current = []
                image_raw, name = self._from_target(ins)
                if "${" in _VAR.sub("", image_raw):  # BuildKit: failed to process "...": missing '}'
                    raise self.fail(ins.line, f"failed to process {image_raw!r}: unterminated ${{...}} substitution")
                image = expand(image_raw, arg_values, keep_unknown=True)
                if not image.strip():
                    raise self.fail(ins.line, f"base name ({image_raw}) should not be blank")
                platform = ins.flag("platform")
                current_from = (ins, image, image_raw, name, platform)
                current.append(ins)
            elif current_from is None:
                if ins.keyword != "ARG":
                    raise self.fail(ins.line, f"{ins.keyword} before the first FROM: only ARG may come before FROM")
                for k, v in ins.pairs:
                    arg_values[k] = v
                global_args.append(ins)
            else:
                current.append(ins)
            instructions.append(ins)
        close_stage()
        if not stages:
            line = instructions[-1].line if instructions else 1
            raise self.fail(line, "no FROM instruction: the file has no build stage")
        return Dockerfile(
            path=self.path,
            text=self.text,
            lines=self.lines,
            instructions=tuple(instructions),
            stages=tuple(stages),
            global_args=tuple(global_args),
            directives=dict(self.directives),
            escape=self.escape,
        )

    def _directives(self) -> int:
        """Read `# syntax=` / `# escape=` at the top; return the index of the first line after them."""
        i = 0
        while i < len(self.lines):
            m = _DIRECTIVE.match(self.lines[i].strip())
            if not m:
                break
            name, value = m.group(1).lower(), m.group(2)
            if name in self.directives:
                raise self.fail(i + 1, f"only one {name} parser directive can be used")
            self.directives[name] = value
            if name == "escape":
                if value not in ("\\", "`"):
                    raise self.fail(i + 1, f"invalid escape token '{value}': it must be ` or \\")
                self.escape = value
            i += 1
        return i

    def _is_continued(self, line: str) -> bool:
        return line.rstrip(" \t").endswith(self.escape)

    def _logical_instructions(self, start: int) -> list[Instruction]:
        out: list[Instruction] = []
        comments: list[str] = []
        stage_index = -1  # each FROM starts the next stage; what comes before the first is global
        i = start
        n = len(self.lines)
        while i < n:
            line = self.lines[i]
            stripped = line.strip()
            if not stripped:
                comments = []
                i += 1
                continue
            if stripped.startswith("#"):
                comments.append(stripped)
                i += 1
                continue
            first = i
            parts: list[str] = []
            cur = line
            while True:
                if self._is_continued(cur):
                    parts.append(cur.rstrip()[: -len(self.escape)])
                    i += 1
                    # comment and blank lines inside a continuation are dropped, not ends of the instruction
                    while i < n and (not self.lines[i].strip() or self.lines[i].strip().startswith("#")):
                        i += 1
                    if i >= n:
                        break
                    cur = self.lines[i]
                else:
                    parts.append(cur)
                    break
            last = min(i, n - 1)
            logical = " ".join(p.strip() for p in parts).strip()
            if logical[:4].upper() == "FROM" and logical[4:5].isspace():
                stage_index += 1
            ins, end = self._instruction(logical, first, last, tuple(comments), stage_index=stage_index)
            out.append(ins)
            comments = []
            i = end + 1
        return out

    def _instruction(
        self, logical: str, first: int, last: int, comments: tuple[str, ...], *, stage_index: int = -1
    ) -> tuple[Instruction, int]:
        lineno = first + 1
        keyword, rest = re.match(r"(\S*)(.*)", logical, re.S).groups()  # type: ignore[union-attr]
        keyword_u = keyword.upper()
        if keyword_u not in KEYWORDS:
            raise self.fail(lineno, f"unknown instruction: {keyword[:40]}")
        rest = rest.strip()
        if keyword_u == "ONBUILD":
            if not rest:
                raise self.fail(lineno, "ONBUILD requires at least one argument")
            trigger, end = self._instruction(rest, first, last, ())
            if trigger.keyword in ("ONBUILD", "FROM", "MAINTAINER"):
                raise self.fail(lineno, f"{trigger.keyword} isn't allowed as an ONBUILD trigger")
            original = "\n".join(self.lines[first : end + 1])
            return (
                Instruction(
                    keyword="ONBUILD",
                    line=lineno,
                    end_line=end + 1,
                    original=original,
                    arguments=rest,
                    leading_comments=comments,
                    stage_index=stage_index,
                    onbuild=trigger,
                ),
                end,
            )
        flags: list[Flag] = []
        if keyword_u in _FLAGGED:
            while rest.startswith("--"):
                word, _, remainder = rest.partition(" ")
                name, eq, value = word[2:].partition("=")
                if not name:
                    raise self.fail(lineno, f"{keyword_u}: malformed flag '{word}'")
                flags.append(Flag(name.lower(), value if eq else None))
                rest = remainder.strip()
        exec_form: tuple[str, ...] | None = None
        if keyword_u in _EXEC_CAPABLE and rest.startswith("["):
            exec_form = _json_array(rest)
        if keyword_u == "SHELL" and exec_form is None:
            raise self.fail(lineno, "SHELL requires the arguments to be in JSON form")
        if not rest and keyword_u not in ("CMD", "ENTRYPOINT"):
            raise self.fail(lineno, f"{keyword_u} requires at least one argument")
        heredocs: list[Heredoc] = []
        end = last
        if keyword_u in _HEREDOC_CAPABLE and exec_form is None:
            for m in _HEREDOC.finditer(rest):
                doc, end = self._heredoc(m, end + 1, lineno)
                heredocs.append(doc)
        if keyword_u == "HEALTHCHECK":
            head = rest.split(None, 1)[0].upper()
            if head not in ("NONE", "CMD"):
                raise self.fail(lineno, "HEALTHCHECK must be followed by NONE or CMD")
            if head == "NONE" and (flags or len(rest.split()) > 1):
                raise self.fail(lineno, "HEALTHCHECK NONE takes no other arguments")
            if head == "CMD":
                cmd = rest[3:].strip()
                if not cmd:
                    raise self.fail(lineno, "HEALTHCHECK CMD requires a command")
                if cmd.startswith("["):
                    exec_form = _json_array(cmd)
        if keyword_u == "ENV":
            for k, v in parse_pairs(rest, legacy=True):
                if v is None or not k:
                    raise self.fail(lineno, f"ENV names can not be blank and need a value: {k[:40]!r}")
        original = "\n".join(self.lines[first : end + 1])
        return (
            Instruction(
                keyword=keyword_u,
                line=lineno,
                end_line=end + 1,
                original=original,
                arguments=rest,
                flags=tuple(flags),
                exec_form=exec_form,
                heredocs=tuple(heredocs),
                leading_comments=comments,
                stage_index=stage_index,
            ),
            end,
        )

    def _heredoc(self, m: re.Match[str], body_start: int, lineno: int) -> tuple[Heredoc, int]:
        strip_tabs = m.group(1) == "-"
        name = m.group(4)
        body: list[str] = []
        i = body_start
        while i < len(self.lines):
            line = self.lines[i]
            check = line.lstrip("\t") if strip_tabs else line
            if check == name:
                return (
                    Heredoc(
                        name=name,
                        content="\n".join(body) + ("\n" if body else ""),
                        strip_tabs=strip_tabs,
                        quoted=bool(m.group(3)),
                        line=body_start + 1,
                        end_line=i + 1,
                    ),
                    i,
                )
            body.append(line.lstrip("\t") if strip_tabs else line)
            i += 1
        raise self.fail(lineno, f"unterminated heredoc: no line '{name}' closes <<{name}")

    def _from_target(self, ins: Instruction) -> tuple[str, str | None]:
        words = ins.arguments.split()
        if len(words) == 1:
            return words[0], None
        if len(words) == 3 and words[1].lower() == "as":
            name = words[2].lower()
            if not re.fullmatch(r"[a-z][a-z0-9\-_.]*", name):
                raise self.fail(ins.line, f"invalid name for build stage: {words[2][:40]!r}")
            return words[0], name
        raise self.fail(ins.line, "FROM requires either one or three arguments: IMAGE [AS NAME]")


def _json_array(text: str) -> tuple[str, ...] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None

