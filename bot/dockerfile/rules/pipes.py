"""pipefail: a RUN pipeline whose failure a POSIX shell hides, and its fix.

`/bin/sh -c "curl -fsSL $URL | tar -xz"` exits with tar's status: when curl fails, the step can still
succeed and the image ships without what it was meant to hold. `set -o pipefail` (in the RUN, or in a
`SHELL ["/bin/bash", "-o", "pipefail", "-c"]` in effect) makes the pipeline fail with the failing command.

Which fix is safe depends on the base image's `/bin/sh`:
- Debian and Ubuntu: `/bin/sh` is dash, which has no pipefail before Debian 13 (dash 0.5.12), so a
  `set -o pipefail` prefix would break the build. bash is Essential there, so the fix inserts
  `SHELL ["/bin/bash", "-o", "pipefail", "-c"]` before the first such RUN. bash's builtin `echo` does not
  expand backslash escapes as dash's does, so when a RUN that would move to bash runs `echo` with a
  backslash, the fix leaves the file alone and says why.
- RHEL family (fedora, centos, ubi, rocky, alma, amazonlinux): `/bin/sh` is bash already; same SHELL line.
- Alpine and busybox: `/bin/sh` is busybox ash, which supports `set -o pipefail`; the fix prefixes the
  RUN with `set -o pipefail &&` (a line of its own in a heredoc), so nothing else of the build changes.
- Anything else: the shell is not known here; reported, not rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.dockerfile.images import parse_ref
from bot.dockerfile.parser import POSIX_SHELLS, Dockerfile, Instruction, Stage, is_posix_shell
from bot.dockerfile.rules.edits import Fixer, Work, by_rule, indent_of, span_of, splice, split_head
from bot.dockerfile.rules.state import Check, State
from bot.dockerfile.shell import Script, parse_script, substitutions

BASH_PIPEFAIL = '["/bin/bash", "-o", "pipefail", "-c"]'
_DEBIAN_NAMES = frozenset({"debian", "ubuntu", "buildpack-deps"})
_DEBIAN_TAGS = re.compile(r"(^|[-_.])(bookworm|bullseye|buster|stretch|trixie|sid|jammy|noble|focal|bionic|"
                          r"xenial|oracular|plucky|questing)($|[-_.])")
_RHEL_NAMES = frozenset({"fedora", "centos", "rockylinux", "almalinux", "amazonlinux", "oraclelinux", "ubi",
                         "ubi-minimal", "ubi8", "ubi9", "ubi10", "ubi8-minimal", "ubi9-minimal", "stream9", "stream10"})
_ASH_NAMES = frozenset({"alpine", "busybox"})


@dataclass(frozen=True)
class Pipe:
    """The first pipeline of a RUN that runs without pipefail: `left | right`."""

    left: str
    right: str


def sets_pipefail(words: tuple[str, ...] | list[str]) -> bool:
    """Whether shell words turn pipefail on: `-o pipefail`, `-eo pipefail`, `-euxo pipefail`."""
    return any(w == "pipefail" and i > 0 and re.fullmatch(r"-[a-zA-Z]*o", words[i - 1])
               for i, w in enumerate(words))


def unguarded_pipe(script: Script) -> Pipe | None:
    """The first pipe of the script's own shell that no earlier `set -o pipefail` covers: between two
    commands, or in the command substitution of a bare assignment (`n=$(ls | wc -l) && …`). A pipe in the
    substitution of an argument (`echo $(a | b)`) decides nothing: the command's own status counts.

    A nested `sh -c '…'` is another shell that the RUN's SHELL does not reach: its commands are skipped."""
    commands = script.commands
    skip = 0
    for i, c in enumerate(commands):
        if skip:
            skip -= 1
            continue
        u = c.unwrapped()
        if u.name in POSIX_SHELLS and "-c" in u.words:
            idx = u.words.index("-c")
            if idx + 1 < len(u.words):
                skip = len(parse_script(u.words[idx + 1]).commands)
        if u.name == "set" and sets_pipefail(u.words[1:]):
            return None
        if c.joined_by == "|" and i > 0:
            return Pipe(commands[i - 1].unwrapped().name or "…", u.name or "…")
        if not c.words:  # `x=$(a | b)`: a bare assignment's status is its substitution's, which `&&` and set -e read
            for sub in (s for a in c.assignments for s in substitutions(a)):
                inner = unguarded_pipe(parse_script(sub))
                if inner is not None:
                    return inner
    return None


def _shebang(ins: Instruction) -> list[str] | None:
    """The interpreter words of a `RUN <<EOF` whose body starts with `#!` (BuildKit runs it as a file)."""
    if not ins.heredocs or ins.shell_script == ins.arguments:
        return None
    first = ins.shell_script.split("\n", 1)[0]
    if not first.startswith("#!"):
        return None
    words = first[2:].split()
    if words and words[0].rsplit("/", 1)[-1] == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
    return words


def shell_family(d: Dockerfile, stage: Stage) -> str | None:
    """`debian`, `rhel` or `ash` for the root image of the stage's chain, from its name and tag, then from
    the package manager its RUNs call; None when neither tells."""
    chain = d.chain(stage)
    ref = parse_ref(chain[0].base_image)
    tag = (ref.tag or "").lower()
    name = ref.name.lower()
    if "alpine" in tag or name in _ASH_NAMES:
        return "ash"
    if name in _DEBIAN_NAMES or _DEBIAN_TAGS.search(tag):
        return "debian"
    if name in _RHEL_NAMES or name.startswith("ubi"):
        return "rhel"
    for s in chain:
        for ins in s.shell_runs():
            text = ins.shell_script
            if re.search(r"(^|[\s;&|(])apt(-get)?\s", text):
                return "debian"
            if re.search(r"(^|[\s;&|(])apk\s", text):
                return "ash"
            if re.search(r"(^|[\s;&|(])(yum|dnf|microdnf)\s", text):
                return "rhel"
    return None


def _check_pipefail(st: State) -> None:
    d = st.dockerfile
    for stage in d.stages:
        family: str | None = None
        family_known = False
        for ins, shell in stage.runs_with_shell():
            if ins.exec_form is not None:
                continue  # an argv, no shell: nothing pipes
            if not ((not stage.windows) if shell is None else is_posix_shell(shell)):
                continue
            shebang = _shebang(ins)
            if shebang is not None:
                if not shebang or shebang[0].rsplit("/", 1)[-1] not in POSIX_SHELLS or sets_pipefail(shebang):
                    continue  # python, node…: not a shell; or `#!/bin/bash -o pipefail`
            elif shell is not None and sets_pipefail(shell):
                continue
            pipe = unguarded_pipe(st.script(ins))
            if pipe is None:
                continue
            if not family_known:
                family, family_known = shell_family(d, stage), True
            why_left = _why_left(st, stage, ins, family, shell, shebang is not None)
            evidence = {"why_left": why_left} if why_left else {}
            st.add(
                "pipefail", ins,
                f"RUN pipes {pipe.left} into {pipe.right} without pipefail: when {pipe.left} fails, the step still succeeds",
                fixable=why_left is None and shebang is None and _fix_shape(family, shell) is not None,
                remediation=_remedy(family, shebang is not None),
                pipe=f"{pipe.left} | {pipe.right}",
                base_shell=family,
                **evidence,
            )


def _why_left(st: State, stage: Stage, ins: Instruction, family: str | None, shell: tuple[str, ...] | None,
              shebang: bool) -> str | None:
    """Why `coroner fix` cannot add pipefail to this RUN, or None when it can."""
    if shebang:
        return "the heredoc runs as a #! script, which no SHELL reaches; add `set -o pipefail` to it"
    shape = _fix_shape(family, shell)
    if shape is None:
        return None if family is None else f"the SHELL in effect ({shell[0] if shell else '?'}) is not one the fix knows"
    if shape == "shell" and family == "debian" and any(
            _echo_escapes(st.script(r)) for r in _affected_by_shell(st.dockerfile, stage, ins.line)):
        return ("a RUN that SHELL bash would move off dash runs `echo` with a backslash, which bash's echo "
                "does not expand")
    return None


def _remedy(family: str | None, shebang: bool) -> str:
    if shebang:
        return "Add `set -o pipefail` at the top of the heredoc script (after its #! line)."
    if family == "ash":
        return "Prefix the RUN with `set -o pipefail &&` (busybox ash supports it)."
    if family in ("debian", "rhel"):
        return f"Add `SHELL {BASH_PIPEFAIL}` before this RUN (dash, Debian's /bin/sh, has no pipefail)."
    return (f"With bash in the image, add `SHELL {BASH_PIPEFAIL}` before this RUN; on busybox ash, prefix the "
            "RUN with `set -o pipefail &&`. Not `set -o pipefail` on dash (Debian/Ubuntu's /bin/sh): it fails.")


def _fix_shape(family: str | None, shell: tuple[str, ...] | None) -> str | None:
    """`shell` (insert a SHELL line) or `prefix` (`set -o pipefail &&` in the RUN), or None."""
    program = shell[0].rsplit("/", 1)[-1] if shell else None
    if family in ("debian", "rhel") and program in (None, "sh", "bash", "dash"):
        return "shell"
    if family == "ash" and program in (None, "sh", "ash", "busybox"):
        return "prefix"
    return None


# --- fix -----------------------------------------------------------------------------------------


def _echo_escapes(st_script: Script) -> bool:
    """Whether a script runs `echo` with a backslash: dash's echo expands `\\n`, bash's does not."""
    return any(c.unwrapped().name == "echo" and any("\\" in w for w in c.unwrapped().words[1:])
               for c in st_script.commands)


def _affected_by_shell(d: Dockerfile, stage: Stage, from_line: int) -> list[Instruction]:
    """The RUNs a SHELL inserted before `from_line` in `stage` reaches: the stage's later RUNs under the
    default shell, and those of every stage built on it that keeps the inherited shell."""
    out = [ins for ins, shell in stage.runs_with_shell() if ins.line >= from_line and shell is None]
    for s in d.stages:
        if s.index != stage.index and stage in d.chain(s)[:-1]:
            out += [ins for ins, shell in s.runs_with_shell() if shell is None]
    return out


def _prefixed(ins: Instruction) -> list[str]:
    lines = ins.original.split("\n")
    if ins.heredocs and ins.shell_script != ins.arguments:
        doc = ins.heredocs[0]
        lines.insert(doc.line - ins.line, ("\t" if doc.strip_tabs else "") + "set -o pipefail")
        return lines
    head, rest = split_head(ins)
    lines[0] = f"{head}set -o pipefail && {rest}"
    return lines


def _fix_pipefail(w: Work) -> str | None:
    d = w.parsed()
    edits: list[tuple[int, int, list[str]]] = []
    shelled: set[int] = set()  # stages that get a SHELL line this round: the stages built on them inherit it
    # by line: the SHELL goes before the stage's first such RUN, and covers the later ones
    for f in sorted(by_rule(w.findings(), "pipefail"), key=lambda f: int(f.evidence["line"])):
        ins = w.instruction_at(f.evidence["line"])
        if ins is None or ins.stage_index < 0:
            continue
        stage = d.stages[ins.stage_index]
        shell = next((sh for i, sh in stage.runs_with_shell() if i.line == ins.line), None)
        shape = _fix_shape(f.evidence.get("base_shell"), shell)
        if shape == "prefix":
            edits.append((*span_of(ins), _prefixed(ins)))
            continue
        if shape != "shell" or any(s.index in shelled for s in d.chain(stage)):
            continue
        shelled.add(stage.index)
        start, _ = span_of(ins)
        edits.append((start, start, [f"{indent_of(ins)}SHELL {BASH_PIPEFAIL}"]))
    return splice(d.text, edits) if edits else None


CHECKS: tuple[Check, ...] = (_check_pipefail,)
FIXERS: tuple[Fixer, ...] = (_fix_pipefail,)
WHY_LEFT: dict[str, str] = {
    "pipefail": "the base image's /bin/sh is not known here (dash has no pipefail; SHELL bash needs bash)",
}
