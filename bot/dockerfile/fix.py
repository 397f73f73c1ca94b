"""`coroner fix`: rewrite a Dockerfile so every fixable finding is gone, and explain what was left alone.

Every fixer edits whole instructions by line range, so lines the rules did not ask about stay byte for
byte. Fixers run one at a time on a fresh parse, in rounds, until a round changes nothing. A version is
never invented: when a fix would need one, the line stays and a note says why.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from bot.dockerfile import context as ctxmod
from bot.dockerfile.estimate import LayerEvidence, SizeEstimate, copy_destination, estimate
from bot.dockerfile.parser import Dockerfile, DockerfileParseError, parse
from bot.dockerfile.rules import FIXERS, WHY_LEFT, lint
from bot.dockerfile.rules.dockerignore import keep_copied, named_sources, propose
from bot.dockerfile.rules.edits import Work
from bot.dockerfile.shell import Script
from bot.domain import Finding
from bot.redact import redact, redact_json


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
    dockerignore_before: str | None = None  # the existing .dockerignore it rewrites; None: a new file
    dropped_packages: tuple[str, ...] = ()  # build tools taken out of the final stage
    size_estimate: SizeEstimate | None = None  # set by the caller that has the image's layers

    @property
    def changed(self) -> bool:
        return self.text != self.original

    @property
    def patch(self) -> str:
        """The whole fix as one patch: the Dockerfile's diff, then the .dockerignore's (a new-file hunk
        from /dev/null, or a change to the existing file). `git apply` and `patch -p1` apply it."""
        if not self.dockerignore or not self.dockerignore_path:
            return self.diff
        ignore = unified_diff(self.dockerignore_before or "", self.dockerignore, path=self.dockerignore_path,
                              new_file=self.dockerignore_before is None)
        return self.diff + ignore

    @property
    def applied(self) -> tuple[str, ...]:
        """One line per finding the rewrite removed: `rule (line N)`."""
        return tuple(f"{f.rule} (line {f.evidence.get('line')})" for f in self.fixed)

    def to_json(self) -> dict[str, object]:
        """The result as JSON, credentials redacted (the diff is already)."""
        return redact_json({
            "file": self.path,
            "changed": self.changed,
            "diff": self.patch,
            "dockerfile_diff": self.diff,
            "fixed": [_brief(f) for f in self.fixed],
            "remaining": [_brief(f) for f in self.remaining],
            "notes": list(self.notes),
            "dockerignore": self.dockerignore,
            "dockerignore_path": self.dockerignore_path,
            "dropped_packages": list(self.dropped_packages),
            "size_estimate": self.size_estimate.to_json() if self.size_estimate else None,
        })


def _brief(f: Finding) -> dict[str, object]:
    return {"rule": f.rule, "line": f.evidence.get("line"), "message": f.title}


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
    work = Work(original_df, context, measure_context, lint, pins=dict(pins or {}), _findings=before, _scripts=scripts)
    for _ in range(_MAX_ROUNDS):
        start = work.text
        for fixer in FIXERS:
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
    copied = named_sources(original_df)
    seen = ctxmod.unshipped_paths(context_files) if context_files else []
    ignore_content, ignore_path, ignore_before, ignore_fixed = propose(
        before, context, path, measure_context, copied, seen)
    if ignore_content is None and context is None and dockerignore_missing:
        # what the image's `COPY .` layer held, named path by path (`seen`), not as a context walk would
        lines = keep_copied(ctxmod.recommended_dockerignore(None, seen), copied)
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
        dockerignore_before=ignore_before,
        dropped_packages=tuple(work.dropped),
    )


def with_size_estimate(
    result: FixResult,
    layers: Sequence[LayerEvidence],
    *,
    total_bytes: int | None = None,
    baseline: str | None = None,
    baseline_bytes: int | None = None,
) -> FixResult:
    """`result` with the estimated size of the image it would build, from the layers of the image the
    original Dockerfile built (see `bot.dockerfile.estimate`)."""
    size = estimate(
        layers,
        total_bytes=total_bytes,
        dropped_packages=result.dropped_packages,
        fixed_rules=sorted({f.rule for f in result.fixed}),
        dockerignore=result.dockerignore,
        dockerignore_rule="dockerignore-missing" if result.dockerignore_before is None else "dockerignore-incomplete",
        destination=copy_destination(parse(result.original.replace("\r\n", "\n").lstrip("\ufeff"), path=result.path)),
        baseline=baseline,
        baseline_bytes=baseline_bytes,
    )
    return replace(result, size_estimate=size)


def unified_diff(
    before: str, after: str, *, path: str = "Dockerfile", secrets: frozenset[str] = frozenset(), new_file: bool = False
) -> str:
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
    source = "/dev/null" if new_file else f"a/{rel}"
    for context in (3, 2, 1, 0):
        lines = list(difflib.unified_diff(a, b, fromfile=source, tofile=f"b/{rel}", n=context))
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


def _notes(after: list[Finding]) -> list[str]:
    notes = []
    for f in after:
        if f.rule in ("copy-without-link", "no-cache-mount") or f.rule.startswith("dockerignore-"):
            continue
        why = WHY_LEFT.get(f.rule, "no safe automatic rewrite")
        own = f.evidence.get("why_left") or f.evidence.get("blocker")
        if own:  # this finding's own reason, where the rule's usual one does not fit
            why = str(own)
        if f.evidence.get("why_not"):
            why = f"no safe multi-stage split: {f.evidence['why_not']}"
        if f.evidence.get("fixable"):
            why = "could not be rewritten automatically"
        notes.append(f"{f.rule} (line {f.evidence.get('line')}): left alone, {why}")
    return notes
