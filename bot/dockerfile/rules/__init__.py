"""The Dockerfile rules: one module per family, each holding its checks and its fixers.

`lint` is the one entry point of the checks; `FIXERS` are what `coroner fix` runs, in this order. A
finding is a `bot.domain.Finding` with `rule` = the catalog id and evidence holding `file`, `line`,
`end_line`, `hadolint` (the shared code or None) and `fixable`. A secret's value never enters a finding.

Adding a fixable rule: its catalog entry (`bot/dockerfile/catalog.py`), then its check and fixer in its
family's module, listed in that module's CHECKS and FIXERS (and WHY_LEFT, if `coroner fix` may leave a
finding alone). A new family is one more module in `FAMILIES`.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from bot.dockerfile.parser import Dockerfile
from bot.dockerfile.rules import (
    apt,
    base_image,
    build_tools,
    caches,
    copies,
    dockerignore,
    hygiene,
    layers,
    lockfile,
    pins,
    pipes,
    process,
    remote,
    secrets,
    users,
)
from bot.dockerfile.rules.edits import Fixer
from bot.dockerfile.rules.secrets import is_secret_name
from bot.dockerfile.rules.state import Check, State
from bot.dockerfile.shell import Script
from bot.domain import Finding, sort_findings

if TYPE_CHECKING:
    from bot.dockerfile import context as ctxmod

# The fixers run in this order, each round; a split into stages comes first so the later fixes see it.
FAMILIES: tuple[ModuleType, ...] = (
    base_image, build_tools, apt, caches, lockfile, layers, users, secrets, process, dockerignore, copies, hygiene,
    pipes, remote, pins,
)
CHECKS: tuple[Check, ...] = tuple(check for family in FAMILIES for check in family.CHECKS)
FIXERS: tuple[Fixer, ...] = tuple(fixer for family in FAMILIES for fixer in family.FIXERS)
WHY_LEFT: dict[str, str] = {rule: why for family in FAMILIES for rule, why in family.WHY_LEFT.items()}


def lint(
    dockerfile: Dockerfile,
    *,
    context: Path | None = None,
    measure_context: bool = True,
    ignore: tuple[str, ...] | list[str] = (),
    script_cache: dict[str, Script] | None = None,
) -> list[Finding]:
    """All findings for a parsed Dockerfile, inline ignores applied, most severe first.

    `context` is the build context directory: it enables dockerignore-missing, and with
    `measure_context` the walk behind dockerignore-incomplete. `ignore` takes rule ids or hadolint codes.
    `script_cache` (RUN script text -> parsed script) is filled and reused: pass the same dict to lint
    successive versions of one file.
    """
    st = State(dockerfile, context, measure_context, scripts=script_cache if script_cache is not None else {})
    st.shipped = dockerfile.shipped_indexes()
    for check in CHECKS:
        check(st)
    return sort_findings(_apply_ignores(dockerfile, st.findings, ignore))


def lint_with_audit(
    dockerfile: Dockerfile, *, context: Path, ignore: tuple[str, ...] | list[str] = ()
) -> tuple[list[Finding], ctxmod.ContextAudit]:
    st = State(dockerfile, context, True)
    st.shipped = dockerfile.shipped_indexes()
    for check in CHECKS:
        check(st)
    assert st.audit is not None
    return sort_findings(_apply_ignores(dockerfile, st.findings, ignore)), st.audit


# --- ignores -------------------------------------------------------------------------------------


_IGNORE = re.compile(r"#\s*coroner:?\s*ignore\s*=\s*([\w\-, ]+)", re.I)


_HADOLINT_IGNORE = re.compile(r"#\s*hadolint\s+ignore\s*=\s*([\w, ]+)", re.I)


_GLOBAL_IGNORE = re.compile(r"#\s*(coroner:?|hadolint)\s+global\s+ignore\s*=\s*([\w\-, ]+)", re.I)


def _ignored_ids(tokens: str) -> set[str]:
    out: set[str] = set()
    for t in re.split(r"[,\s]+", tokens.strip()):
        if not t:
            continue
        if t.upper().startswith(("DL", "SC")):
            out.add(t.upper())  # matches findings that carry this hadolint code
        else:
            out.add(t.lower())
    return out


def _apply_ignores(d: Dockerfile, findings: list[Finding], extra: tuple[str, ...] | list[str]) -> list[Finding]:
    global_ids = _ignored_ids(",".join(extra))
    for line in d.lines:
        m = _GLOBAL_IGNORE.search(line)
        if m and line.lstrip().startswith("#"):
            global_ids |= _ignored_ids(m.group(2))
    by_line: dict[int, set[str]] = {}
    for ins in d.instructions:
        ids: set[str] = set()
        for comment in ins.leading_comments:
            if _GLOBAL_IGNORE.search(comment):
                continue
            m = _IGNORE.search(comment) or _HADOLINT_IGNORE.search(comment)
            if m:
                ids |= _ignored_ids(m.group(1))
        if ids:
            by_line[ins.line] = ids
    kept = []
    for f in findings:
        at_line = int(f.evidence.get("line", 0))
        code = f.evidence.get("hadolint")
        ids = global_ids | by_line.get(at_line, set())
        if f.rule in ids or (code and code in ids):
            continue
        kept.append(f)
    return kept


__all__ = ["CHECKS", "FAMILIES", "FIXERS", "WHY_LEFT", "is_secret_name", "lint", "lint_with_audit"]
