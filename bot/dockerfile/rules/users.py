"""Who the container runs as: root-only commands after USER, root at run time, names instead of ids."""

from __future__ import annotations

import re

from bot.dockerfile.images import parse_ref, runs_non_root, windows_image
from bot.dockerfile.parser import Dockerfile, Instruction, Stage, expand
from bot.dockerfile.rules.edits import Fixer, Work, by_rule, edit_each, indent_of, lines_of, splice
from bot.dockerfile.rules.state import Check, State, is_root, user_of
from bot.domain import Finding


_ROOT_ONLY = {"apt": {"install", "update", "upgrade", "remove", "purge", "dist-upgrade", "autoremove"},
              "apk": {"add", "del", "update", "upgrade"},
              "yum": {"install", "update", "remove", "upgrade"}, "dnf": {"install", "update", "remove", "upgrade"}}


def _check_users(st: State) -> None:
    d = st.dockerfile
    global_defaults = {k: v for ins in d.global_args for k, v in ins.pairs}
    # runAsNonRoot reads the image config, which holds only the final stage's last USER: a builder stage's user,
    # or one switched away from later, never reaches it
    chain_users = [ins for s in d.chain(d.final_stage) for ins in s.instructions if ins.keyword == "USER"]
    configured = {chain_users[-1].line} if chain_users else set()
    resolved: dict[int, str] = {}  # USER line -> the user with the stage's ARG/ENV values substituted
    for stage in d.stages:
        user: Instruction | None = None
        variables: dict[str, str | None] = {}
        for ins in stage.instructions:
            if ins.keyword == "ARG":
                for k, v in ins.pairs:
                    variables[k] = v if v is not None else global_defaults.get(k)
            elif ins.keyword == "ENV":
                variables.update(ins.pairs)
            if ins.keyword == "USER":
                # `ARG U=app` + `USER ${U}` is a name; a value only known at build time stays `$U` and is skipped.
                name = user_of(expand(ins.arguments, variables, keep_unknown=True))
                resolved[ins.line] = name
                user = None if is_root(name) else ins
                if not re.fullmatch(r"\d+", name) and "$" not in name and not is_root(name) and ins.line in configured:
                    st.add("user-not-numeric", ins, f"USER {name} is not numeric: runAsNonRoot cannot verify it",
                           # the fixer rewrites a literal name only; `USER ${U}` is left to the author
                           fixable="$" not in ins.arguments and _known_uid(st, stage, name) is not None, user=name,
                           remediation="Use the numeric id: USER 10001:10001.")
            elif ins.keyword == "RUN" and user is not None:
                for call in st.calls(ins):
                    if call.manager in _ROOT_ONLY and call.action in _ROOT_ONLY[call.manager] and call.command.name != "sudo":
                        st.add("root-command-after-user", ins,
                               f"{call.command.unwrapped().name} {call.action} after USER {user.arguments}: the build fails",
                               user_line=user.line, remediation="Move USER after the root-only commands.")
                        break
    final = d.final_stage
    chain = d.chain(final)
    last_user: Instruction | None = None
    for s in chain:
        for ins in s.instructions:
            if ins.keyword == "USER":
                last_user = ins
    root_ref = parse_ref(chain[0].base_image)
    if windows_image(root_ref):
        return  # no root and no uids on Windows: ContainerAdministrator/ContainerUser is another question
    if last_user is None:
        if runs_non_root(root_ref):
            return
        # ONBUILD triggers run in every child build as this image's USER: a `USER 10001` here makes the
        # child's `ONBUILD RUN pip install` fail, so the USER belongs in the child Dockerfile.
        onbuild = next((ins for s in chain for ins in s.instructions if ins.keyword == "ONBUILD"), None)
        st.add("runs-as-root", final.from_instruction, "No USER in the final stage: the container runs as root",
               hadolint=None, reason="no-user", remediation="Add a numeric non-root USER, e.g. USER 10001:10001.",
               fixable=onbuild is None,
               **({} if onbuild is None else {"why_left": f"the ONBUILD triggers (line {onbuild.line}) run as this "
                                              "image's USER in every child build; set USER in the child Dockerfile"}))
    elif is_root(resolved.get(last_user.line, user_of(last_user.arguments))):
        st.add("runs-as-root", last_user, f"The last USER is {last_user.arguments}: the container runs as root",
               hadolint="DL3002", fixable=False, reason="last-user-root",
               remediation="Drop privileges with a numeric non-root USER at the end of the final stage.")


def _known_uid(st: State, stage: Stage, name: str) -> str | None:
    """The uid a `useradd -u N name` / `adduser -u N name` in this stage gave `name`."""
    for ins in stage.shell_runs():
        for c in st.script(ins).commands:
            u = c.unwrapped()
            if u.name not in ("useradd", "adduser"):
                continue
            uid = None
            words = list(u.words[1:])
            for i, w in enumerate(words):
                if w in ("-u", "--uid") and i + 1 < len(words):
                    uid = words[i + 1]
                elif w.startswith("--uid="):
                    uid = w.split("=", 1)[1]
            positional = [w for i, w in enumerate(words) if not w.startswith("-") and (i == 0 or not words[i - 1].startswith("-") or words[i - 1] in ("-D", "-S", "--system", "--disabled-password", "-r", "-m", "-M"))]
            if uid and uid.isdigit() and positional and positional[-1] == name:
                return uid
    return None


NON_ROOT_USER = "10001:10001"  # above the range distributions hand out, so it never collides with a real user


def _fix_user_order(w: Work) -> str | None:
    """Move every USER that precedes the stage's last root-only command to just after it, in order."""
    d = w.parsed()
    findings = by_rule(w.findings(), "root-command-after-user")
    for stage in d.stages:
        lines_hit = {f.evidence["line"] for f in findings}
        roots = [ins for ins in stage.instructions if ins.line in lines_hit]
        if not roots:
            continue
        last_root = roots[-1]
        users = [ins for ins in stage.instructions if ins.keyword == "USER" and ins.line < last_root.line]
        text_lines = lines_of(d.text)
        moved = [line for u in users for line in text_lines[u.line - 1 : u.end_line]]
        edits: list[tuple[int, int, list[str]]] = [(u.line - 1, u.end_line, []) for u in users]
        edits.append((last_root.end_line, last_root.end_line, moved))
        w.notes.append(
            f"root-command-after-user: USER moved after line {last_root.line}; the RUNs in between now run as root"
        )
        return splice(d.text, edits)
    return None


_METADATA = frozenset({"CMD", "ENTRYPOINT", "HEALTHCHECK", "EXPOSE", "STOPSIGNAL", "VOLUME"})


def _fix_runs_as_root(w: Work) -> str | None:
    d = w.parsed()
    for f in by_rule(w.findings(), "runs-as-root"):
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
            lines = lines_of(d.text)
            while at > 0 and lines[at - 1].strip().startswith("#"):
                at -= 1
        else:
            at = items[-1].end_line
        indent = indent_of(items[0])
        w.notes.append(
            f"runs-as-root: the container now runs as uid {NON_ROOT_USER.split(':')[0]}; make sure the app can "
            "write where it needs to (COPY --chown, a writable volume) and binds a port above 1023"
        )
        return splice(d.text, [(at, at, [f"{indent}USER {NON_ROOT_USER}"])])
    return None


def _fix_user_numeric(w: Work) -> str | None:

    def edit(d: Dockerfile, ins: Instruction, f: Finding) -> list[str] | None:
        uid = _known_uid(State(d, None, False), d.stages[ins.stage_index], f.evidence["user"])
        if uid is None:
            return None
        lines = ins.original.split("\n")
        lines[0] = re.sub(r"(USER\s+)" + re.escape(f.evidence["user"]) + r"\b", r"\g<1>" + uid, lines[0], count=1, flags=re.I)
        return lines

    return edit_each(w, "user-not-numeric", edit)


CHECKS: tuple[Check, ...] = (_check_users,)
FIXERS: tuple[Fixer, ...] = (_fix_user_order, _fix_user_numeric, _fix_runs_as_root)
# Why `coroner fix` leaves a finding of these rules alone (said in its notes).
WHY_LEFT: dict[str, str] = {
    "user-not-numeric": "the numeric id of this user is not known from the Dockerfile",
    "runs-as-root": "the Dockerfile sets USER root on purpose; drop privileges in the entrypoint or add a non-root USER",
}
