"""apt-get in RUN: update alone, recommends, lists left behind, upgrades; and their fixes."""

from __future__ import annotations

import re
import shlex
from typing import Any

from bot.dockerfile.options import APT, is_false
from bot.dockerfile.packages import PackageCall
from bot.dockerfile.parser import Dockerfile, Instruction, Stage
from bot.dockerfile.rules.edits import (
    Fixer,
    Work,
    append_command,
    by_rule,
    edit_each,
    insert_in_command,
    indent_of,
    lines_of,
    splice,
    split_head,
)
from bot.dockerfile.rules.state import Check, State, removes_apt_lists
from bot.domain import Finding


def _check_apt(st: State) -> None:
    d = st.dockerfile
    for stage in d.stages:
        following = {a.line: b for a, b in zip(stage.instructions, stage.instructions[1:])}
        for ins in stage.shell_runs():
            calls = st.calls(ins)
            apt = [c for c in calls if c.manager == "apt"]
            actions = {c.action for c in apt}
            if "update" in actions and not actions & {"install", "upgrade", "dist-upgrade", "full-upgrade"}:
                nxt = following.get(ins.line)
                joinable = nxt is not None and nxt.keyword == "RUN" and not nxt.heredocs and not ins.heredocs and any(
                    c.manager == "apt" and c.action == "install" for c in st.calls(nxt)
                )
                st.add("apt-update-alone", ins, fixable=joinable,
                       remediation="Run `apt-get update && apt-get install …` in the same RUN.")
            for call in apt:
                if call.action == "install" and not _no_recommends(call):
                    extra: dict[str, Any] = {"with_package": _GPG_AGENT} if _needs_gpg_agent(st, stage, ins, call) else {}
                    st.add("apt-no-install-recommends", ins, packages=list(call.packages)[:20],
                           remediation="apt-get install -y --no-install-recommends …", **extra)
                if call.action in ("upgrade", "dist-upgrade", "full-upgrade"):
                    st.add("apt-upgrade", ins, f"apt-get {call.action} in the image: unpinned and unreproducible",
                           remediation="Rebuild on a fresher base image instead of upgrading inside it.")
            if stage.index in st.shipped and "update" in actions and not removes_apt_lists(st, ins):
                st.add("apt-lists-not-removed", ins, remediation="End the RUN with `&& rm -rf /var/lib/apt/lists/*`.")
            for call in calls:
                if call.manager in ("apk", "dnf", "yum") and call.action == "upgrade":
                    st.add("apt-upgrade", ins, f"{call.command.unwrapped().name} upgrade in the image: unpinned",
                           remediation="Rebuild on a fresher base image instead of upgrading inside it.")


# add-apt-repository imports the PPA's key with gpg, which needs gpg-agent: software-properties-common only
# recommends it, so without recommends the build fails ("gpg: failed to start agent"). gnupg depends on it.
_GPG_AGENT = "gpg-agent"
_ADD_REPOSITORY = frozenset({"add-apt-repository", "apt-add-repository"})
_SPC = re.compile(r"(?<![\w.+-])software-properties-common(=\S+)?(?![\w.+=-])")


def _needs_gpg_agent(st: State, stage: Stage, ins: Instruction, call: PackageCall) -> bool:
    names = {p.split("=", 1)[0] for p in call.packages}
    if "software-properties-common" not in names or names & {_GPG_AGENT, "gnupg", "gnupg2"}:
        return False
    return any(c.unwrapped().name in _ADD_REPOSITORY
               for later in stage.shell_runs() if later.line >= ins.line for c in st.script(later).commands)


def _fix_no_recommends(w: Work) -> str | None:
    # the RUNs (one finding per install command) where an install also needs gpg-agent named
    with_agent = {f.evidence["line"] for f in by_rule(w.findings(), "apt-no-install-recommends") if f.evidence.get("with_package")}

    def edit(d: Dockerfile, ins: Instruction, f: Finding) -> list[str] | None:
        lines = insert_in_command(ins, _APT_INSTALL, "--no-install-recommends", APT)
        if lines is None or ins.line not in with_agent:
            return lines
        text, found = _SPC.subn(lambda m: f"{m.group(0)} {_GPG_AGENT}", "\n".join(lines), count=1)
        return text.split("\n") if found else None

    return edit_each(w, "apt-no-install-recommends", edit, once_per_line=True)


def _no_recommends(call: PackageCall) -> bool:
    """apt-get's own reading: `--no-install-recommends`, `--install-recommends=no`, or
    `-o APT::Install-Recommends=false`; the last one given wins."""
    recommends = True
    for option in call.args.options:
        if option.name in ("-o", "--option") and option.value:
            key, _, value = option.value.partition("=")
            if key.lower() == "apt::install-recommends":
                recommends = not is_false(value)
        elif option.name == "--install-recommends":
            recommends = option.value is None or not is_false(option.value)
        elif option.name == "--no-install-recommends":
            recommends = False
    return not recommends


_APT_INSTALL = re.compile(r"\bapt(?:-get)?\b(?:\s+(?:-o\s+\S+|-{1,2}[\w:=.-]+))*\s+install\b")


def _fix_apt_update_alone(w: Work) -> str | None:
    d = w.parsed()
    for f in by_rule(w.findings(), "apt-update-alone"):
        ins = w.instruction_at(f.evidence["line"])
        if ins is None:
            continue
        stage = d.stages[ins.stage_index]
        idx = stage.instructions.index(ins)
        nxt = stage.instructions[idx + 1] if idx + 1 < len(stage.instructions) else None
        if nxt is None or nxt.keyword != "RUN" or nxt.heredocs or ins.heredocs:
            continue
        head, _ = split_head(ins)
        flags = [fl for fl in split_head(nxt)[0].split()[1:] if fl not in head.split()]
        # an exec-form RUN joins as the same words in shell form: a JSON array is no command to chain
        first = [head + shlex.join(ins.exec_form)] if ins.exec_form is not None else ins.original.split("\n")
        if flags:
            first[0] = re.sub(r"^(\s*\S+)", lambda m: m.group(1) + " " + " ".join(flags), first[0], count=1)  # noqa: B023 - called at once
        first[-1] = first[-1].rstrip() + f" {d.escape}"
        nxt_lines = [""] if nxt.exec_form is not None else nxt.original.split("\n")
        nxt_args = shlex.join(nxt.exec_form) if nxt.exec_form is not None else split_head(nxt)[1]
        nxt_lines[0] = f"{indent_of(ins)}    && {nxt_args}"
        # drop the blank/comment lines between the two RUNs only when there are none; otherwise keep them above
        between = lines_of(d.text)[ins.end_line : nxt.line - 1]
        return splice(d.text, [(ins.line - 1, nxt.end_line, between + first + nxt_lines)])
    return None


def _fix_apt_lists(w: Work) -> str | None:
    return edit_each(w, "apt-lists-not-removed",
                      lambda d, ins, f: append_command(d, ins, "rm -rf /var/lib/apt/lists/*"))


CHECKS: tuple[Check, ...] = (_check_apt,)
FIXERS: tuple[Fixer, ...] = (_fix_apt_update_alone, _fix_no_recommends, _fix_apt_lists)
# Why `coroner fix` leaves a finding of these rules alone (said in its notes).
WHY_LEFT: dict[str, str] = {
    "apt-upgrade": "removing the upgrade changes which package versions ship; rebuild on a fresher base instead",
}
