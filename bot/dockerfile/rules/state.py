"""What every rule family shares: the lint state (the parsed file, the context, the findings being
collected) and the small readings of instructions that several families make."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.dockerfile.catalog import BY_ID
from bot.dockerfile.packages import PackageCall, classify
from bot.dockerfile.parser import Dockerfile, Instruction, Stage
from bot.dockerfile.shell import Script, parse_script
from bot.domain import Finding

if TYPE_CHECKING:  # the context walk is imported only when a context is given: `coroner lint` starts fast
    from bot.dockerfile import context as ctxmod


@dataclass
class State:
    dockerfile: Dockerfile
    context: Path | None
    measure: bool
    audit: ctxmod.ContextAudit | None = None
    shipped: set[int] = field(default_factory=set)
    # Parsed RUN scripts by their text. `coroner fix` passes one dict to every lint of its rewrites, so
    # a RUN that a rewrite did not touch is tokenized once, not once per lint.
    scripts: dict[str, Script] = field(default_factory=dict)
    package_calls: dict[int, list[PackageCall]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def script(self, ins: Instruction) -> Script:
        text = shlex.join(ins.exec_form) if ins.exec_form is not None else ins.shell_script
        script = self.scripts.get(text)
        if script is None:
            script = self.scripts[text] = parse_script(text)
        return script

    def calls(self, ins: Instruction) -> list[PackageCall]:
        if ins.line not in self.package_calls:  # several checks ask: classify each command once
            self.package_calls[ins.line] = [call for c in self.script(ins).commands if (call := classify(c)) is not None]
        return self.package_calls[ins.line]

    def add(
        self,
        rule: str,
        ins: Instruction | None,
        title: str | None = None,
        *,
        fixable: bool | None = None,
        hadolint: Any = ...,
        remediation: str | None = None,
        **evidence: Any,
    ) -> None:
        spec = BY_ID[rule]
        ev: dict[str, Any] = {
            "file": self.dockerfile.path,
            "line": ins.line if ins else 1,
            "end_line": ins.end_line if ins else 1,
            # `...` means "the rule's own code"; None or "" means this finding has no hadolint twin
            "hadolint": (spec.hadolint[0] if len(spec.hadolint) == 1 else None) if hadolint is ... else (hadolint or None),
            "fixable": spec.fixable if fixable is None else fixable,
        }
        if ins is not None:
            ev["stage"] = ins.stage_index
            ev["instruction"] = ins.keyword
        ev.update(evidence)
        self.findings.append(
            Finding(rule=rule, severity=spec.severity, title=title or spec.message, evidence=ev,
                    remediation=remediation, check="dockerfile")
        )


def mount_options(ins: Instruction) -> list[dict[str, str]]:
    """Each `--mount=` of a RUN as its options (`type` defaults to bind, as in BuildKit)."""
    return [dict(p.partition("=")[::2] for p in m.split(",")) for m in ins.flag_values("mount")]


def _target(opts: dict[str, str]) -> str:
    return opts.get("target") or opts.get("dst") or opts.get("destination") or ""


def cache_mount_targets(ins: Instruction) -> list[str]:
    return [_target(m) for m in mount_options(ins) if m.get("type") == "cache"]


def mount_targets(ins: Instruction) -> list[str]:
    """Where the RUN's cache, tmpfs and bind mounts sit: what is written under them is in no layer (a bind
    mount's writes are discarded). Secret and ssh mounts are single files, not directories a tool writes to."""
    return [_target(m) for m in mount_options(ins) if m.get("type", "bind") in ("cache", "tmpfs", "bind") and _target(m)]


def under_mount(path: str, targets: list[str]) -> bool:
    """Whether `path` is at or below one of the mount targets. A path starting with `~/` stands for the same
    path under any home directory (the user's home is not known from the Dockerfile)."""
    for target in targets:
        t = target.rstrip("/") or "/"
        if path.startswith("~/"):
            rel = path[2:]
            parts = rel.split("/")
            # a mount at the cache itself or at one of its parents under a home: ~/.cache/pip or ~/.cache
            if any(t.endswith("/" + "/".join(parts[:n])) for n in range(1, len(parts) + 1)):
                return True
            if t in ("/root", "/home") or path.replace("~", "/root", 1).startswith(t + "/"):
                return True
        elif path == t or path.startswith(t.rstrip("/") + "/"):
            return True
    return False


def user_of(value: str) -> str:
    return value.split(":", 1)[0].strip()


def is_root(user: str) -> bool:
    return user in ("root", "0")


def root_user_at(stage: Stage) -> dict[int, bool]:
    """Per instruction line of the stage: whether it runs as root (no USER yet, or USER root)."""
    out: dict[int, bool] = {}
    user = None
    for cur in stage.instructions:
        out[cur.line] = user is None or is_root(user)
        if cur.keyword == "USER":
            user = user_of(cur.arguments)
    return out


def removes_apt_lists(st: State, ins: Instruction) -> bool:
    if under_mount("/var/lib/apt/lists", mount_targets(ins)):
        return True
    for c in st.script(ins).commands:
        u = c.unwrapped()
        if u.name == "rm" and any(w.startswith("/var/lib/apt/lists") for w in u.words[1:]):
            return True
        if u.name == "find" and any("/var/lib/apt/lists" in w for w in u.words) and "-delete" in u.words:
            return True
    return False


def _whole_context(source: str) -> bool:
    return source.rstrip("/") in (".", "", "*", "./*") or source == "./"


def whole_context_uses(d: Dockerfile) -> list[Instruction]:
    """The COPY/ADD of the whole build context (`COPY . .`), and the RUNs that bind-mount all of it
    (`--mount=type=bind,target=.`): with either, every file of the context is sent, and a change to any of
    them (`.git` included) busts the cache there. Otherwise BuildKit sends only the paths the build names."""
    out = []
    for ins in d.instructions:
        if ins.keyword in ("COPY", "ADD") and ins.flag("from") is None and not ins.heredocs:
            if any(_whole_context(s) for s in copy_sources(ins)):
                out.append(ins)
        elif ins.keyword == "RUN":
            for m in mount_options(ins):
                if m.get("type", "bind") == "bind" and "from" not in m and _whole_context(m.get("source") or m.get("src") or ""):
                    out.append(ins)
                    break
    return out


def copy_sources(ins: Instruction) -> list[str]:
    words = list(ins.exec_form) if ins.exec_form is not None else ins.arguments.split()
    return words[:-1]


Check = Callable[[State], None]
