"""PID 1: shell-form CMD/ENTRYPOINT, no init, no HEALTHCHECK; the exec-form fix."""

from __future__ import annotations

import json
import re

from bot.dockerfile.parser import POSIX_SHELLS, Dockerfile, Instruction, split_words
from bot.dockerfile.rules.edits import Fixer, Work, edit_each, indent_of
from bot.dockerfile.rules.state import Check, State
from bot.dockerfile.shell import has_shell_features
from bot.domain import Finding


_INITS = frozenset({"tini", "tini-static", "dumb-init", "catatonit", "s6-svscan", "init", "docker-init", "runsvdir"})


def _effective_process(d: Dockerfile) -> tuple[Instruction | None, Instruction | None]:
    entry: Instruction | None = None
    cmd: Instruction | None = None
    for s in d.chain(d.final_stage):
        for ins in s.instructions:
            if ins.keyword == "ENTRYPOINT":
                entry, cmd = ins, None  # ENTRYPOINT resets an inherited CMD
            elif ins.keyword == "CMD":
                cmd = ins
    return entry, cmd


def _check_process(st: State) -> None:
    d = st.dockerfile
    for ins in d.instructions:
        if ins.keyword in ("CMD", "ENTRYPOINT") and ins.exec_form is None and ins.arguments.strip():
            st.add("shell-form-entrypoint", ins, f"{ins.keyword} in shell form: /bin/sh is PID 1 and SIGTERM is lost",
                   fixable=not has_shell_features(ins.arguments) and not ins.arguments.strip().startswith("["),
                   remediation=f'{ins.keyword} ["executable", "arg"]')
    entry, cmd = _effective_process(d)
    pid1 = entry or cmd
    if pid1 is None:
        return
    argv = list(pid1.exec_form) if pid1.exec_form is not None else None
    if argv is not None and argv and argv[0].rsplit("/", 1)[-1] in _INITS:
        return
    if argv is None:
        convertible = not has_shell_features(pid1.arguments)
        st.add("no-init", pid1, f"{pid1.keyword} in shell form makes /bin/sh PID 1: SIGTERM is not forwarded",
               fixable=convertible, remediation='Use exec form, or an init: ENTRYPOINT ["tini", "--"].')
        return
    if not argv:
        return
    head = argv[0].rsplit("/", 1)[-1]
    if head in POSIX_SHELLS:
        st.add("no-init", pid1, f"{pid1.keyword} runs {head} as PID 1: SIGTERM is not forwarded", fixable=False,
               remediation='Exec the server directly, or add an init: ENTRYPOINT ["tini", "--"].')
    elif head.endswith(".sh"):
        script = _script_from_context(st, argv[0])
        if script is not None and re.search(r"^\s*exec\s", script, re.M):
            return  # the script replaces itself with the server: signals reach it
        unless = "" if script is not None else " (unless it execs its child)"
        st.add("no-init", pid1, f"{pid1.keyword} runs the script {head} as PID 1 with no init{unless}", fixable=False,
               remediation='Make the script end with `exec "$@"`, or add an init: ENTRYPOINT ["tini", "--", …].')


def _script_from_context(st: State, target: str) -> str | None:
    """The text of the entrypoint script when a COPY put it there from the build context we can read."""
    if st.context is None:
        return None
    name = target.rsplit("/", 1)[-1]
    for ins in st.dockerfile.instructions:
        if ins.keyword not in ("COPY", "ADD") or ins.flag("from") is not None or ins.heredocs:
            continue
        words = list(ins.exec_form) if ins.exec_form is not None else ins.arguments.split()
        if len(words) < 2:
            continue
        dest = words[-1]
        for src in words[:-1]:
            if dest.rstrip("/").rsplit("/", 1)[-1] == name or (dest.endswith("/") and src.rsplit("/", 1)[-1] == name):
                candidate = st.context / src
                try:
                    if candidate.is_file() and candidate.stat().st_size < 1_000_000:
                        return candidate.read_text(errors="replace")
                except OSError:
                    return None
    return None


def _check_healthcheck(st: State) -> None:
    d = st.dockerfile
    entry, cmd = _effective_process(d)
    if entry is None and cmd is None:
        return
    for s in d.chain(d.final_stage):
        for ins in s.instructions:
            if ins.keyword == "HEALTHCHECK":
                return
    st.add("no-healthcheck", d.final_stage.from_instruction,
           remediation="Add HEALTHCHECK CMD … for plain Docker; on Kubernetes define liveness/readiness probes.")


def _fix_shell_form(w: Work) -> str | None:
    def edit(d: Dockerfile, ins: Instruction, f: Finding) -> list[str] | None:
        words = split_words(ins.arguments) if ins.exec_form is None else []
        return [f"{indent_of(ins)}{ins.keyword} {json.dumps(words)}"] if words else None

    return edit_each(w, "shell-form-entrypoint", edit)


CHECKS: tuple[Check, ...] = (_check_process, _check_healthcheck)
FIXERS: tuple[Fixer, ...] = (_fix_shell_form,)
# Why `coroner fix` leaves a finding of these rules alone (said in its notes).
WHY_LEFT: dict[str, str] = {
    "no-init": "adding tini or dumb-init would need a package version; add one, or make the script exec its child",
    "no-healthcheck": "the health endpoint is not known; on Kubernetes use liveness/readiness probes",
}
