"""Installs that ignore the lockfile the stage copied in: `npm install` where `npm ci` installs exactly the lock."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatch
from pathlib import PurePosixPath

from bot.dockerfile.options import NPM, parse_args
from bot.dockerfile.parser import Dockerfile, Instruction, Stage
from bot.dockerfile.rules.edits import Fixer, Work, edit_each, split_head
from bot.dockerfile.rules.state import Check, State, copy_sources

_LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")


def _lock_copied(st: State, stage: Stage, before: Instruction) -> str | None:
    """The npm lockfile a COPY of the stage (or of the stages it builds on) brought in before `before`: named,
    or matched by a glob (`package*.json`) or a whole-context copy when the build context holds one."""
    for s in st.dockerfile.chain(stage):
        for ins in s.instructions:
            if ins is before:
                return None
            if ins.keyword not in ("COPY", "ADD") or ins.flag("from") is not None or ins.heredocs:
                continue
            for src in copy_sources(ins):
                path = PurePosixPath(src.lstrip("./") or ".")
                if path.name in _LOCKFILES:
                    return src
                for lock in _LOCKFILES:
                    whole = src.rstrip("/") in (".", "", "*", "./*")
                    candidate = lock if whole else str(path.parent / lock) if path.parent != PurePosixPath(".") else lock
                    if (whole or fnmatch(lock, path.name)) and st.context is not None and (st.context / candidate).is_file():
                        return lock
    return None


def _check_npm_install(st: State) -> None:
    for stage in st.dockerfile.stages:
        for ins in stage.shell_runs():
            for call in st.calls(ins):
                if call.manager != "npm" or call.action != "install" or call.packages:
                    continue
                if call.has_option("--global", "-g", "--no-package-lock", "--package-lock-only"):
                    continue
                lock = _lock_copied(st, stage, ins)
                if lock is not None:
                    st.add("npm-install-not-ci", ins, f"npm install with {lock} copied in: it may resolve other "
                           "versions than the lock and rewrite it", lockfile=lock,
                           remediation="npm ci (with --omit=dev for production): it installs exactly the lockfile.")
                    break


_NPM = re.compile(r"(?<![\w/.-])npm(?=[ \t]|\\\n)")
_INSTALL = frozenset({"install", "isntall", "instal", "insta", "inst", "ins", "in", "i", "add"})


def _to_ci(text: str) -> str | None:
    """`npm [OPTIONS] install ARGS` -> `npm [OPTIONS] ci ARGS` where the command installs no named package;
    the options are read as npm reads them (`--loglevel warn install`: `warn` is a value)."""
    out: list[str] = []
    pos = 0
    for m in _NPM.finditer(text):
        tail = re.split(r"&&|\|\||;|\|(?!\|)|\n\s*\n", text[m.end():], maxsplit=1)[0]
        args = parse_args(tail.replace("\\\n", " ").split(), NPM)
        if len(args.positional) != 1 or args.positional[0] not in _INSTALL or args.has("--global", "-g"):
            continue
        word = re.search(rf"(?<!\S){re.escape(args.positional[0])}(?![^\s\\])", tail)
        if word is None:
            continue
        out += [text[pos:m.end() + word.start()], "ci"]
        pos = m.end() + word.end()
    if not out:
        return None
    return "".join(out) + text[pos:]


def _fix_npm_install(w: Work) -> str | None:
    def edit(d: Dockerfile, ins: Instruction, _f: object) -> list[str] | None:
        if ins.exec_form is not None:  # `RUN ["npm", "install"]`: the same array, `ci` for the subcommand
            words = list(ins.exec_form)
            args = parse_args(words[1:], NPM)
            if words[:1] != ["npm"] or len(args.positional) != 1 or args.has("--global", "-g"):
                return None
            words[words.index(args.positional[0], 1)] = "ci"
            return [split_head(ins)[0] + json.dumps(words)]
        new = _to_ci(ins.original)
        return new.split("\n") if new is not None else None

    return edit_each(w, "npm-install-not-ci", edit)


CHECKS: tuple[Check, ...] = (_check_npm_install,)
FIXERS: tuple[Fixer, ...] = (_fix_npm_install,)
WHY_LEFT: dict[str, str] = {}
