"""COPY and ADD: source before dependencies, no --link, ADD for local files; their fixes."""

from __future__ import annotations

import posixpath
import re
from fnmatch import fnmatch
from pathlib import Path

from bot.dockerfile.packages import PackageCall, classify
from bot.dockerfile.parser import Dockerfile, Instruction, Stage
from bot.dockerfile.rules.edits import Fixer, Work, add_flag, by_rule, edit_each, lines_of, splice, split_head
from bot.dockerfile.rules.state import Check, State, copy_sources
from bot.dockerfile.shell import parse_script
from bot.domain import Finding


_MANIFESTS = {
    "pip": ("requirements*.txt", "pyproject.toml", "poetry.lock", "Pipfile*", "setup.py", "setup.cfg", "uv.lock"),
    "poetry": ("pyproject.toml", "poetry.lock"),
    "uv": ("pyproject.toml", "uv.lock"),
    "pipenv": ("Pipfile", "Pipfile.lock"),
    "npm": ("package.json", "package-lock.json", "npm-shrinkwrap.json"),
    "pnpm": ("package.json", "pnpm-lock.yaml"),
    "yarn": ("package.json", "yarn.lock"),
    "go": ("go.mod", "go.sum"),
    "bundle": ("Gemfile", "Gemfile.lock"),
    "composer": ("composer.json", "composer.lock"),
    "cargo": ("Cargo.toml", "Cargo.lock"),
    "mvn": ("pom.xml",),
    "gradle": ("build.gradle", "build.gradle.kts", "settings.gradle", "gradle.properties"),
}


_ARCHIVE = re.compile(r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tb2|tar\.xz|txz|tar\.lz|tlz|tar\.z|tz|tar\.zst|gz|bz2|xz)$", re.I)


def _dependency_install(call: PackageCall) -> bool:
    """Whether the call installs a project's dependencies from its manifests (`pip install -r`, `npm ci`)."""
    manager = call.manager
    return (
        (manager == "pip" and call.action == "install" and call.has_option("-r", "--requirement"))
        or (manager in ("npm", "pnpm") and call.action in ("install", "ci") and not call.packages)
        or (manager == "yarn" and call.action == "install")
        or (manager == "go" and call.action == "download")
        or (manager in ("bundle", "composer", "poetry", "pipenv") and call.action == "install")
        or (manager == "uv" and call.action == "sync")
    )


# Managers whose install also installs the project itself unless told not to: that run needs the source,
# and the dependencies-first form is one more run with this option before the source COPY.
_DEPS_ONLY = {"uv": ("--no-install-project", "--no-install-workspace"), "poetry": ("--no-root",)}


# Per tool, the options that point it at manifests in another directory than the one the fix copies them
# to (pip's manifests are its -r files, placed by `_requirement_copies`).
_ELSEWHERE = {
    "npm": ("--prefix",), "pnpm": ("-C", "--dir"), "yarn": ("--cwd",), "composer": ("-d", "--working-dir"),
    "bundle": ("--gemfile",), "poetry": ("-C", "--directory", "-P", "--project"), "uv": ("--directory", "--project"),
    "go": ("-C",), "cargo": ("--manifest-path",),
}


def _elsewhere_option(call: PackageCall) -> str | None:
    options = _ELSEWHERE.get(call.manager, ())
    for word in call.command.unwrapped().words[1:]:
        if word.split("=", 1)[0] in options:
            return word
    return None


def _installs_project(call: PackageCall) -> bool:
    words = call.command.unwrapped().words
    return call.manager in _DEPS_ONLY and not any(w in words for w in _DEPS_ONLY[call.manager])


def _check_copy_order(st: State) -> None:
    for stage in st.dockerfile.stages:
        whole: Instruction | None = None
        manifests_copied: set[str] = set()
        # managers whose dependencies were installed before the source COPY (`uv sync --no-install-project`
        # with bind-mounted manifests): a later run of theirs installs only the project, which needs the source
        installed_before: set[str] = set()
        for ins in stage.instructions:
            if ins.keyword in ("COPY", "ADD") and ins.flag("from") is None:
                srcs = copy_sources(ins)
                if whole is None and any(s.rstrip("/") in (".", "", "*") or s == "./" for s in srcs):
                    whole = ins
                elif whole is None:
                    manifests_copied.update(Path(s).name for s in srcs)
            if ins.keyword != "RUN":
                continue
            if whole is None:
                installed_before.update(call.manager for call in st.calls(ins) if _dependency_install(call))
                continue
            for call in st.calls(ins):
                manager = call.manager
                if not _dependency_install(call) or manager in installed_before:
                    continue
                wanted = _MANIFESTS.get(manager, ())
                if any(_fn_any(name, wanted) for name in manifests_copied):
                    continue
                items = list(stage.instructions)
                blocker = copy_order_blocker(items[items.index(whole) + 1 : items.index(ins) + 1])
                elsewhere = _elsewhere_option(call)
                if blocker is None and elsewhere:
                    blocker = f"line {ins.line} installs from another directory (`{elsewhere}`)"
                if blocker is None and _installs_project(call) and len(st.script(ins).commands) > 1:
                    blocker = (f"line {ins.line} installs the project itself along with other commands; install "
                               f"the dependencies first with `{manager} {call.action} {_DEPS_ONLY[manager][0]}`")
                st.add("copy-before-deps", whole,
                       f"COPY {whole.arguments} comes before `{' '.join(call.command.unwrapped().words[:4])}` (line {ins.line}): every source change reinstalls dependencies",
                       install_line=ins.line, manager=manager, fixable=blocker is None and manager in _MANIFEST_MOVE,
                       blocker=blocker, installs_project=_installs_project(call), action=call.action,
                       remediation="COPY the dependency manifests and install them first, then COPY the source.")
                break
            else:
                continue
            break


_MOVABLE_BETWEEN = frozenset({"RUN", "ENV", "ARG", "LABEL", "EXPOSE", "USER"})


# Managers whose manifests `coroner fix` knows how to copy ahead of the source.
_MANIFEST_MOVE = frozenset({"pip", "npm", "pnpm", "yarn", "go", "bundle", "composer", "poetry", "uv", "pipenv"})


_SAFE_CLEANUP = re.compile(r"^(/var/|/tmp/|/root/\.cache|/root/\.npm|/usr/local/share/\.cache)")


def copy_order_blocker(instructions: list[Instruction]) -> str | None:
    """Why the source COPY cannot move after these instructions (they may need the source), or None."""
    for ins in instructions:
        if ins.keyword not in _MOVABLE_BETWEEN:
            return f"line {ins.line} ({ins.keyword}) sits between the source COPY and the install"
        if ins.keyword != "RUN":
            continue
        for c in parse_script(ins.shell_script).commands:
            u = c.unwrapped()
            if u.name == "rm" and all(_SAFE_CLEANUP.match(w) for w in u.words[1:] if not w.startswith("-")):
                continue
            call = classify(c)
            if call is None:
                return f"line {ins.line} runs `{u.name}`, which may need the source"
            if call.manager == "pip" and (
                "-e" in c.words or any(p in (".", "-e") or p.startswith(("./", "/")) for p in call.packages)
            ):
                return f"line {ins.line} installs the project itself"
            if call.manager in ("npm", "pnpm", "yarn") and call.action not in ("install", "ci", "", "cache"):
                return f"line {ins.line} runs `{u.name} {call.action}`, which may need the source"
            if call.manager == "go" and call.action != "download":
                return f"line {ins.line} runs `go {call.action}`, which needs the source"
    return None


def _fn_any(name: str, patterns: tuple[str, ...]) -> bool:

    return any(fnmatch(name, p) for p in patterns)


def _check_copy_link(st: State) -> None:
    if st.dockerfile.legacy_builder:
        return  # `--link` is BuildKit's: the legacy builder that builds Windows images refuses it
    final = st.dockerfile.final_stage
    for ins in final.instructions:
        if ins.keyword == "COPY" and ins.flag("link") is None:
            st.add("copy-without-link", ins, remediation="COPY --link … (BuildKit): the layer survives a base change.")


def _check_add(st: State) -> None:
    for ins in st.dockerfile.instructions:
        if ins.keyword != "ADD" or ins.heredocs:
            continue
        srcs = copy_sources(ins)
        if not srcs:
            continue
        if any(re.match(r"^(https?|git|ssh)://|^git@", s) or _ARCHIVE.search(s) or "$" in s for s in srcs):
            continue
        st.add("add-instead-of-copy", ins, remediation="COPY copies local files without ADD's archive and URL magic.")


def _fix_add(w: Work) -> str | None:
    def edit(d: Dockerfile, ins: Instruction, f: Finding) -> list[str] | None:
        if any(fl.name in ("checksum", "keep-git-dir", "unpack") for fl in ins.flags):
            return None
        lines = ins.original.split("\n")
        lines[0] = re.sub(r"^(\s*)ADD\b", r"\1COPY", lines[0], count=1, flags=re.I)
        return lines

    return edit_each(w, "add-instead-of-copy", edit)


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


def _fix_copy_order(w: Work) -> str | None:
    d = w.parsed()
    for f in by_rule(w.findings(), "copy-before-deps"):
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
        srcs_dest = whole.exec_form[-1] if whole.exec_form else whole.arguments.split()[-1]
        dest = srcs_dest if srcs_dest.endswith("/") else ("./" if srcs_dest in (".", "./") else srcs_dest + "/")
        head, _ = split_head(whole)
        if manager == "pip":
            copies = _requirement_copies(_requirement_files(install), dest, _workdir_at(stage, install))
            if isinstance(copies, str):
                w.notes.append(f"copy-before-deps (line {whole.line}): left alone, {copies}")
                continue
            copy_lines = [f"{head}{sources} {target}" for sources, target in copies]
        else:
            manifests = _MANIFEST_COPY.get(manager, "")
            copy_lines = [f"{head}{manifests} {dest}"] if manifests else []
        if not copy_lines:
            continue
        lines = lines_of(d.text)
        whole_lines = lines[whole.line - 1 : whole.end_line]
        if f.evidence.get("installs_project"):
            # `uv sync` / `poetry install` also installs the project, which needs the source: the
            # dependencies install first with the deps-only option, the original run stays after the source
            option = _DEPS_ONLY[manager][0]
            deps_only, found = re.subn(rf"\b({manager}\s+{re.escape(str(f.evidence.get('action')))})\b",
                                       rf"\1 {option}", install.original, count=1)
            if not found:  # options between the tool and its subcommand: not a rewrite to guess at
                w.notes.append(f"copy-before-deps (line {whole.line}): left alone, add `{option}` to a "
                               "dependencies-only install before the source COPY")
                continue
            return splice(d.text, [
                (whole.line - 1, whole.end_line, []),
                (install.line - 1, install.line - 1, [*copy_lines, *deps_only.split("\n"), *whole_lines]),
            ])
        edits = [
            (whole.line - 1, whole.end_line, []),
            (install.line - 1, install.line - 1, copy_lines),
            (install.end_line, install.end_line, whole_lines),
        ]
        return splice(d.text, edits)
    return None


def _workdir_at(stage: Stage, ins: Instruction) -> str | None:
    """The absolute WORKDIR `ins` runs in, or None when a variable or a relative start hides it."""
    workdir: str | None = "/"
    for item in stage.instructions:
        if item is ins:
            break
        if item.keyword == "WORKDIR":
            path = item.arguments.strip()
            if "$" in path:
                workdir = None
            elif path.startswith("/"):
                workdir = path
            elif workdir is not None:
                workdir = posixpath.join(workdir, path)
    return posixpath.normpath(workdir) if workdir else None


def _requirement_copies(files: list[str], dest: str, workdir: str | None) -> list[tuple[str, str]] | str:
    """(sources, destination) COPY lines that put each requirement file where `pip install -r` reads it,
    given that the source COPY put the context at `dest`. A file in a subdirectory brings its whole
    directory (`requirements/prod.txt` commonly says `-r base.txt`); a file outside the copied context
    cannot be placed, and the reason is returned instead."""
    flat: list[str] = []
    dirs: list[tuple[str, str]] = []
    root = dest if dest.startswith("/") else (posixpath.join(workdir, dest) if workdir else None)
    for name in files:
        if "/" not in name.rstrip("/") and "$" not in name:
            flat.append(name)  # next to the install, where the source COPY put it too
            continue
        read_at = name if name.startswith("/") else (posixpath.join(workdir, name) if workdir else None)
        if read_at is None or root is None or "$" in name:
            return f"where `{name}` sits in the build context is not known here"
        read_at, root_dir = posixpath.normpath(read_at), posixpath.normpath(root)
        if not (read_at + "/").startswith(root_dir.rstrip("/") + "/"):
            return f"`{name}` is not in the copied context"
        in_context = posixpath.relpath(posixpath.dirname(read_at), root_dir)
        if in_context == ".":
            flat.append(posixpath.basename(read_at))
        else:
            target = posixpath.dirname(read_at)
            if workdir is not None and (target + "/").startswith(workdir.rstrip("/") + "/"):
                target = "./" + posixpath.relpath(target, workdir)  # as the install names it
            if (in_context + "/", target + "/") not in dirs:
                dirs.append((in_context + "/", target + "/"))
    return ([(" ".join(flat), dest)] if flat else []) + dirs


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


def _fix_copy_link(w: Work) -> str | None:
    return edit_each(w, "copy-without-link",
                      lambda d, ins, f: add_flag(ins, "--link") if ins.flag("link") is None else None)


CHECKS: tuple[Check, ...] = (_check_copy_order, _check_copy_link, _check_add)
FIXERS: tuple[Fixer, ...] = (_fix_add, _fix_copy_order, _fix_copy_link)
# Why `coroner fix` leaves a finding of these rules alone (said in its notes).
WHY_LEFT: dict[str, str] = {
}
