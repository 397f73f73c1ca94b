"""The Dockerfile rules. `lint` is the one entry point; each `_check_*` reads the parsed file and yields findings.

Findings are `bot.domain.Finding` with `rule` = the catalog id and evidence holding `file`, `line`,
`end_line`, `hadolint` (the shared code or None) and `fixable`. A secret's value never enters a finding.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.dockerfile.catalog import BY_ID
from bot.dockerfile.images import (
    cgroup_unaware,
    jdk_heavy,
    parse_ref,
    runs_non_root,
    slim_variant,
    toolchain_image,
)
from bot.dockerfile.packages import PackageCall, classify, is_build_tool
from bot.dockerfile.parser import Dockerfile, Instruction, Stage, expand
from bot.dockerfile.shell import Command, Script, parse_script
from bot.domain import Finding, sort_findings
from bot.units import human_bytes

if TYPE_CHECKING:  # the context walk is imported only when a context is given: `coroner lint` starts fast
    from bot.dockerfile import context as ctxmod

_IGNORE = re.compile(r"#\s*coroner:?\s*ignore\s*=\s*([\w\-, ]+)", re.I)
_HADOLINT_IGNORE = re.compile(r"#\s*hadolint\s+ignore\s*=\s*([\w, ]+)", re.I)
_GLOBAL_IGNORE = re.compile(r"#\s*(coroner:?|hadolint)\s+global\s+ignore\s*=\s*([\w\-, ]+)", re.I)
_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "busybox"})
_INITS = frozenset({"tini", "tini-static", "dumb-init", "catatonit", "s6-svscan", "init", "docker-init", "runsvdir"})
_SECRET_WORDS = re.compile(
    r"(^|_)(PASSWORD|PASSWD|PASS|SECRET|TOKEN|APIKEY|API_KEY|ACCESS_KEY|SECRET_KEY|PRIVATE_KEY|AUTH_KEY|"
    r"CREDENTIALS?|AUTH)($|_)",
    re.I,
)
_NOT_SECRET_SUFFIX = re.compile(r"_(FILE|PATH|DIR|URL|ENABLED|HOST|PORT|USER|USERNAME|NAME|TYPE|ID)$", re.I)


def is_secret_name(name: str) -> bool:
    """A variable named for a secret (`DB_PASSWORD`, `GITHUB_TOKEN`), not for where one lives (`TOKEN_FILE`).
    The image autopsy's secret-in-history uses the same words, so both features agree."""
    return bool(_SECRET_WORDS.search(name)) and not _NOT_SECRET_SUFFIX.search(name)

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


@dataclass
class _State:
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
    st = _State(dockerfile, context, measure_context, scripts=script_cache if script_cache is not None else {})
    st.shipped = _shipped_stages(dockerfile)
    for check in _CHECKS:
        check(st)
    return sort_findings(_apply_ignores(dockerfile, st.findings, ignore))


def lint_with_audit(
    dockerfile: Dockerfile, *, context: Path, ignore: tuple[str, ...] | list[str] = ()
) -> tuple[list[Finding], ctxmod.ContextAudit]:
    st = _State(dockerfile, context, True)
    st.shipped = _shipped_stages(dockerfile)
    for check in _CHECKS:
        check(st)
    assert st.audit is not None
    return sort_findings(_apply_ignores(dockerfile, st.findings, ignore)), st.audit


# --- helpers -------------------------------------------------------------------------------------


def _shipped_stages(d: Dockerfile) -> set[int]:
    """The final stage and the stages it is built FROM: their layers are in the image that ships."""
    return {s.index for s in d.chain(d.final_stage)}


def _runs(stage: Stage) -> Iterator[Instruction]:
    posix = True
    for ins in stage.instructions:
        if ins.keyword == "SHELL" and ins.exec_form:
            posix = ins.exec_form[0].rsplit("/", 1)[-1].lower() in _SHELLS
        if ins.keyword == "RUN" and posix:
            yield ins


def _all_runs(d: Dockerfile) -> Iterator[Instruction]:
    for stage in d.stages:
        yield from _runs(stage)


def _cache_mount_targets(ins: Instruction) -> list[str]:
    out = []
    for m in ins.flag_values("mount"):
        opts = dict(p.partition("=")[::2] for p in m.split(","))
        if opts.get("type") == "cache":
            out.append(opts.get("target") or opts.get("dst") or opts.get("destination") or "")
    return out


def _user_of(value: str) -> str:
    return value.split(":", 1)[0].strip()


def _is_root(user: str) -> bool:
    return user in ("root", "0")


# --- checks --------------------------------------------------------------------------------------


def _check_base_images(st: _State) -> None:
    d = st.dockerfile
    for stage in d.stages:
        ins = stage.from_instruction
        if stage.base_stage(d.stages) is not None or stage.base_image.lower() == "scratch":
            continue
        if "$" in stage.base_image:
            continue  # an ARG with no default: the pin is decided at build time
        ref = parse_ref(stage.base_image)
        if ref.digest is None and ref.tag is None:
            st.add("base-image-unpinned", ins, f"Base image {stage.base_image} has no tag: it floats with 'latest'",
                   hadolint="DL3006", image=stage.base_image,
                   remediation="Pin a version tag (and ideally a digest): FROM image:1.2.3@sha256:…")
        elif ref.digest is None and ref.tag == "latest":
            st.add("base-image-unpinned", ins, f"Base image {stage.base_image} uses 'latest'", hadolint="DL3007",
                   image=stage.base_image, remediation="Pin a version tag (and ideally a digest).")
        if stage.index in st.shipped:
            slim = slim_variant(ref)
            if slim:
                st.add("base-image-heavy", ins, f"{stage.base_image} is the full image; {slim} is the same version, slim",
                       fixable=False, image=stage.base_image, suggestion=slim,
                       remediation=f"Use {slim} in the stage that ships (build in a full-image builder stage).")
            elif jdk_heavy(ref):
                st.add("base-image-heavy", ins, f"{stage.base_image} ships a JDK; the app only needs a JRE",
                       fixable=False, image=stage.base_image, remediation="Use the -jre variant of the same version.")
            why = cgroup_unaware(ref)
            if why:
                st.add("cgroup-unaware-runtime", ins, f"{stage.base_image}: {why}", image=stage.base_image,
                       remediation="Move to a runtime that reads cgroup v2 limits, or set heap/threads explicitly.")


def _check_apt(st: _State) -> None:
    d = st.dockerfile
    for stage in d.stages:
        following = {a.line: b for a, b in zip(stage.instructions, stage.instructions[1:])}
        for ins in _runs(stage):
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
                if call.action == "install" and not _no_recommends(call.command):
                    st.add("apt-no-install-recommends", ins, packages=list(call.packages)[:20],
                           remediation="apt-get install -y --no-install-recommends …")
                if call.action in ("upgrade", "dist-upgrade", "full-upgrade"):
                    st.add("apt-upgrade", ins, f"apt-get {call.action} in the image: unpinned and unreproducible",
                           remediation="Rebuild on a fresher base image instead of upgrading inside it.")
            if stage.index in st.shipped and "update" in actions and not _removes_apt_lists(st, ins):
                st.add("apt-lists-not-removed", ins, remediation="End the RUN with `&& rm -rf /var/lib/apt/lists/*`.")
            for call in calls:
                if call.manager in ("apk", "dnf", "yum") and call.action == "upgrade":
                    st.add("apt-upgrade", ins, f"{call.command.unwrapped().name} upgrade in the image: unpinned",
                           remediation="Rebuild on a fresher base image instead of upgrading inside it.")


def _no_recommends(cmd: Command) -> bool:
    words = cmd.unwrapped().words
    if "--no-install-recommends" in words:
        return True
    joined = " ".join(words)
    return bool(re.search(r"APT::Install-Recommends=(false|0|no)", joined, re.I))


def _removes_apt_lists(st: _State, ins: Instruction) -> bool:
    if any(t.startswith("/var/lib/apt") for t in _cache_mount_targets(ins)):
        return True
    for c in st.script(ins).commands:
        u = c.unwrapped()
        if u.name == "rm" and any(w.startswith("/var/lib/apt/lists") for w in u.words[1:]):
            return True
        if u.name == "find" and any("/var/lib/apt/lists" in w for w in u.words) and "-delete" in u.words:
            return True
    return False


def _inherited_env(d: Dockerfile, name: str) -> list[str | None]:
    """Per stage, the value of ENV `name` at its end, inherited from the stages it builds on.

    One pass in stage order: a base stage always comes earlier, so its value is known by then.
    """
    values: list[str | None] = []
    for stage in d.stages:
        value = values[stage.base_index] if stage.base_index is not None else None
        for ins in stage.instructions:
            if ins.keyword == "ENV":
                for k, v in ins.pairs:
                    if k == name:
                        value = v
        values.append(value)
    return values


def _check_caches(st: _State) -> None:
    d = st.dockerfile
    pip_no_cache = _inherited_env(d, "PIP_NO_CACHE_DIR")
    for stage in d.stages:
        pip_env = (pip_no_cache[stage.index] or "").lower()
        pip_env_off = pip_env in ("1", "true", "yes", "on", "off", "0", "false") and pip_env != ""
        shipped = stage.index in st.shipped
        root_at = _root_user_at(stage)
        for ins in _runs(stage):
            mounts = _cache_mount_targets(ins)
            calls = st.calls(ins)
            for call in calls:
                u = call.command.unwrapped()
                if call.manager == "pip" and call.action in ("install", "wheel", "download"):
                    cached = bool(mounts) or pip_env_off
                    if call.action == "install" and shipped and not cached and "--no-cache-dir" not in u.words:
                        st.add("pip-cache", ins, remediation="pip install --no-cache-dir … (or a cache mount).")
                    if not shipped and not mounts and not cached and "--no-cache-dir" not in u.words:
                        st.add("no-cache-mount", ins, "pip in a builder stage without a cache mount: every rebuild downloads again",
                               fixable=root_at[ins.line], target="/root/.cache/pip",
                               remediation="RUN --mount=type=cache,target=/root/.cache/pip pip …")
                if call.manager in ("npm", "yarn", "go") and call.action in ("install", "ci", "download", "build", ""):
                    target = {"npm": "/root/.npm", "yarn": "/usr/local/share/.cache/yarn", "go": "/root/go/pkg/mod"}[call.manager]
                    if call.manager == "go" and call.action in ("build", "install"):
                        target = "/root/.cache/go-build"
                    if not shipped and not mounts:
                        st.add("no-cache-mount", ins, f"{call.manager} in a builder stage without a cache mount",
                               fixable=root_at[ins.line], target=target,
                               remediation=f"RUN --mount=type=cache,target={target} …")
                if not shipped or mounts:
                    continue
                if call.manager == "apk" and call.action == "add" and not {"--no-cache", "--no-network"} & set(u.words) and not _script_has(st, ins, "rm", "/var/cache/apk"):
                    st.add("package-cache", ins, "apk add without --no-cache", hadolint="DL3019", manager="apk",
                           remediation="apk add --no-cache …")
                if call.manager in ("yum", "dnf") and call.action == "install" and not _cleans(st, ins, call.manager):
                    name = u.name
                    st.add("package-cache", ins, f"{name} install without `{name} clean all`",
                           hadolint="DL3032" if call.manager == "yum" else "DL3040", manager=name,
                           remediation=f"End the RUN with `&& {name} clean all`.")
                if call.manager == "yarn" and call.action in ("install", "") and not _cleans(st, ins, "yarn"):
                    st.add("package-cache", ins, "yarn install without `yarn cache clean`", hadolint="DL3060",
                           manager="yarn", remediation="End the RUN with `&& yarn cache clean`.")
                if call.manager == "npm" and call.action in ("install", "ci") and not _cleans(st, ins, "npm"):
                    st.add("package-cache", ins, f"npm {call.action} leaves its cache in ~/.npm", hadolint="",
                           manager="npm", remediation="End the RUN with `&& npm cache clean --force`.")


def _root_user_at(stage: Stage) -> dict[int, bool]:
    """Per instruction line of the stage: whether it runs as root (no USER yet, or USER root)."""
    out: dict[int, bool] = {}
    user = None
    for cur in stage.instructions:
        out[cur.line] = user is None or _is_root(user)
        if cur.keyword == "USER":
            user = _user_of(cur.arguments)
    return out


def _script_has(st: _State, ins: Instruction, name: str, arg_prefix: str) -> bool:
    for c in st.script(ins).commands:
        u = c.unwrapped()
        if u.name == name and any(w.startswith(arg_prefix) for w in u.words[1:]):
            return True
    return False


def _cleans(st: _State, ins: Instruction, manager: str) -> bool:
    for c in st.script(ins).commands:
        u = c.unwrapped()
        if manager in ("yum", "dnf") and u.name in ("yum", "dnf", "microdnf") and "clean" in u.words:
            return True
        if manager in ("yum", "dnf") and u.name == "rm" and any(w.startswith(("/var/cache/yum", "/var/cache/dnf")) for w in u.words):
            return True
        if manager == "yarn" and u.name == "yarn" and "cache" in u.words and "clean" in u.words:
            return True
        if manager == "npm" and u.name == "npm" and "cache" in u.words and ("clean" in u.words or "clear" in u.words):
            return True
        if manager == "npm" and u.name == "rm" and any(".npm" in w for w in u.words):
            return True
    return False


def _check_consecutive_runs(st: _State) -> None:
    for stage in st.dockerfile.stages:
        prev: Instruction | None = None
        for ins in stage.instructions:
            if ins.keyword != "RUN":
                prev = None
                continue
            if (
                prev is not None
                and prev.flags == ins.flags
                and len(st.script(prev).commands) == 1
                and len(st.script(ins).commands) == 1
            ):
                st.add("consecutive-run", ins, previous_line=prev.line,
                       remediation="Join related commands with && in one RUN.")
            prev = ins


def _check_build_tools(st: _State) -> None:
    d = st.dockerfile
    for idx in sorted(st.shipped):
        stage = d.stages[idx]
        splittable: bool | None = None  # whether `coroner fix` can split the stage: decided once, if asked
        if stage.base_stage(d.stages) is None:
            ref = parse_ref(stage.base_image)
            if toolchain_image(ref):
                st.add("build-tools-in-final-stage", stage.from_instruction,
                       f"{stage.base_image} is a toolchain image, and it ships",
                       fixable=go_build_output(d) is not None, image=stage.base_image,
                       remediation="Build in this image, then COPY --from the artifact into a runtime image.")
        for ins in _runs(stage):
            calls = st.calls(ins)
            removed = {p for c in calls if c.action in ("purge", "remove", "del", "autoremove") for p in c.packages}
            virtual = _apk_virtual_removed(st, ins)
            auto_removed = any(c.action in ("purge", "autoremove") and "--auto-remove" in c.command.words for c in calls)
            tools: list[str] = []
            for call in calls:
                if call.action not in ("install", "add"):
                    continue
                if call.manager == "apk" and virtual:
                    continue
                for pkg in call.packages:
                    name = pkg.split("=", 1)[0]
                    if is_build_tool(name) and name not in removed and not (auto_removed and call.manager == "apt"):
                        tools.append(name)
            if tools:
                if splittable is None:
                    splittable = _wheel_pattern(st, stage) or go_build_output(d) is not None or npm_pattern(d) is not None
                st.add("build-tools-in-final-stage", ins,
                       f"Build tools ship in the final image: {', '.join(tools[:6])}{' …' if len(tools) > 6 else ''}",
                       fixable=splittable,
                       packages=tools,
                       remediation="Install them in a builder stage and copy only the artifacts into the final stage.")


GO_RUNTIME_IMAGE = "gcr.io/distroless/base-debian12:nonroot"  # glibc, CA certificates, tzdata; no shell
_FINAL_ONLY = frozenset({"CMD", "ENTRYPOINT", "EXPOSE", "HEALTHCHECK", "USER", "VOLUME", "STOPSIGNAL", "LABEL"})


def go_build_output(dockerfile: Dockerfile) -> str | None:
    """The absolute `go build -o` path of a single-stage Go image that `coroner fix` can split, else None.

    Recognised: one stage on a golang image, one RUN with `go build -o PATH` and no layer after it, no
    HEALTHCHECK (the runtime image has no shell), and a CMD/ENTRYPOINT that is (or can become) exec form.
    """
    if len(dockerfile.stages) != 1:
        return None
    stage = dockerfile.stages[0]
    if parse_ref(stage.base_image).name != "golang":
        return None
    workdir: str | None = None
    output: str | None = None
    build_index = -1
    for i, ins in enumerate(stage.instructions):
        if ins.keyword == "WORKDIR":
            path = ins.arguments.strip()
            workdir = path if path.startswith("/") else (f"{workdir.rstrip('/')}/{path}" if workdir else None)
        if ins.keyword == "HEALTHCHECK" and ins.arguments.strip().upper() != "NONE":
            return None
        if ins.keyword in ("CMD", "ENTRYPOINT") and ins.exec_form is None and _has_shell_features(ins.arguments):
            return None
        if ins.keyword == "RUN" and ins.exec_form is None:
            for c in parse_script(ins.shell_script).commands:
                u = c.unwrapped()
                if u.name == "go" and len(u.words) > 1 and u.words[1] == "build" and "-o" in u.words:
                    j = u.words.index("-o")
                    if j + 1 >= len(u.words) or output is not None:
                        return None
                    out = u.words[j + 1]
                    if not out.startswith("/"):
                        if workdir is None or "$" in workdir:
                            return None
                        out = f"{workdir.rstrip('/')}/{out.removeprefix('./')}"
                    output, build_index = out, i
    if output is None or "$" in output or output.endswith("/"):
        return None
    if any(ins.keyword in ("RUN", "COPY", "ADD") for ins in stage.instructions[build_index + 1 :]):
        return None
    return output


def npm_pattern(dockerfile: Dockerfile) -> tuple[Instruction, str] | None:
    """(the `npm ci`/`npm install` RUN, its absolute WORKDIR) of a single-stage Node image `coroner fix`
    can split into a builder that compiles node_modules and a slim runtime, else None."""
    if len(dockerfile.stages) != 1:
        return None
    stage = dockerfile.stages[0]
    if parse_ref(stage.base_image).name != "node":
        return None
    workdir: str | None = None
    found: tuple[Instruction, str] | None = None
    for ins in stage.instructions:
        if ins.keyword == "WORKDIR":
            path = ins.arguments.strip()
            workdir = path if path.startswith("/") and "$" not in path else None
        if ins.keyword != "RUN" or ins.exec_form is not None:
            continue
        commands = parse_script(ins.shell_script).commands
        calls = [classify(c) for c in commands]
        npm = [c for c in calls if c is not None and c.manager == "npm"]
        if not npm:
            continue
        if found is not None or len(commands) != 1 or npm[0].action not in ("ci", "install") or npm[0].packages:
            return None
        if workdir is None:
            return None
        found = (ins, workdir)
    return found


def _wheel_pattern(st: _State, stage: Stage) -> bool:
    """The single-stage pip pattern `coroner fix` rewrites into a wheel-building builder stage."""
    if len(st.dockerfile.stages) != 1 or parse_ref(stage.base_image).name != "python":
        return False
    pip_runs = [
        ins for ins in _runs(stage)
        if any(c.manager == "pip" and c.action == "install" and ("-r" in c.command.words or "--requirement" in c.command.words)
               for c in st.calls(ins))
    ]
    return len(pip_runs) == 1 and len(st.script(pip_runs[0]).commands) == 1


def _apk_virtual_removed(st: _State, ins: Instruction) -> bool:
    words = [w for c in st.script(ins).commands for w in c.unwrapped().words]
    if "--virtual" not in words and not any(w.startswith("--virtual=") or w == "-t" for w in words):
        return False
    return any(c.unwrapped().name == "apk" and "del" in c.unwrapped().words for c in st.script(ins).commands)


_ROOT_ONLY = {"apt": {"install", "update", "upgrade", "remove", "purge", "dist-upgrade", "autoremove"},
              "apk": {"add", "del", "update", "upgrade"},
              "yum": {"install", "update", "remove", "upgrade"}, "dnf": {"install", "update", "remove", "upgrade"}}


def _check_users(st: _State) -> None:
    d = st.dockerfile
    global_defaults = {k: v for ins in d.global_args for k, v in ins.pairs}
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
                name = _user_of(expand(ins.arguments, variables, keep_unknown=True))
                resolved[ins.line] = name
                user = None if _is_root(name) else ins
                if not re.fullmatch(r"\d+", name) and "$" not in name:
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
    if last_user is None:
        if runs_non_root(root_ref):
            return
        st.add("runs-as-root", final.from_instruction, "No USER in the final stage: the container runs as root",
               hadolint=None, reason="no-user", remediation="Add a numeric non-root USER, e.g. USER 10001:10001.")
    elif _is_root(resolved.get(last_user.line, _user_of(last_user.arguments))):
        st.add("runs-as-root", last_user, f"The last USER is {last_user.arguments}: the container runs as root",
               hadolint="DL3002", fixable=False, reason="last-user-root",
               remediation="Drop privileges with a numeric non-root USER at the end of the final stage.")


_USERADD_UID = re.compile(r"^(?:-u|--uid)(?:=)?(\d*)$")


def _known_uid(st: _State, stage: Stage, name: str) -> str | None:
    """The uid a `useradd -u N name` / `adduser -u N name` in this stage gave `name`."""
    for ins in _runs(stage):
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


def _check_secrets(st: _State) -> None:
    for ins in st.dockerfile.instructions:
        if ins.keyword not in ("ENV", "ARG"):
            continue
        for key, value in ins.pairs:
            if not is_secret_name(key):
                continue
            literal = value is not None and value != "" and not value.startswith("$")
            if ins.keyword == "ENV" and not literal:
                continue
            what = "with a literal value" if literal else "(build-arg values are recorded in the image history)"
            st.add("secret-in-env", ins, f"{ins.keyword} {key} looks like a secret {what}", name=key,
                   remediation="Pass secrets with RUN --mount=type=secret, or at run time from a secret store.")


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


def _has_shell_features(text: str) -> bool:
    """Whether turning shell form into exec form would change what runs (expansion, operators, globs)."""
    return bool(re.search(r"[$`|&;<>*?~(){}\[\]\\]", text))


def _check_process(st: _State) -> None:
    d = st.dockerfile
    for ins in d.instructions:
        if ins.keyword in ("CMD", "ENTRYPOINT") and ins.exec_form is None and ins.arguments.strip():
            st.add("shell-form-entrypoint", ins, f"{ins.keyword} in shell form: /bin/sh is PID 1 and SIGTERM is lost",
                   fixable=not _has_shell_features(ins.arguments) and not ins.arguments.strip().startswith("["),
                   remediation=f'{ins.keyword} ["executable", "arg"]')
    entry, cmd = _effective_process(d)
    pid1 = entry or cmd
    if pid1 is None:
        return
    argv = list(pid1.exec_form) if pid1.exec_form is not None else None
    if argv is not None and argv and argv[0].rsplit("/", 1)[-1] in _INITS:
        return
    if argv is None:
        convertible = not _has_shell_features(pid1.arguments)
        st.add("no-init", pid1, f"{pid1.keyword} in shell form makes /bin/sh PID 1: SIGTERM is not forwarded",
               fixable=convertible, remediation='Use exec form, or an init: ENTRYPOINT ["tini", "--"].')
        return
    if not argv:
        return
    head = argv[0].rsplit("/", 1)[-1]
    if head in _SHELLS:
        st.add("no-init", pid1, f"{pid1.keyword} runs {head} as PID 1: SIGTERM is not forwarded", fixable=False,
               remediation='Exec the server directly, or add an init: ENTRYPOINT ["tini", "--"].')
    elif head.endswith(".sh"):
        script = _script_from_context(st, argv[0])
        if script is not None and re.search(r"^\s*exec\s", script, re.M):
            return  # the script replaces itself with the server: signals reach it
        unless = "" if script is not None else " (unless it execs its child)"
        st.add("no-init", pid1, f"{pid1.keyword} runs the script {head} as PID 1 with no init{unless}", fixable=False,
               remediation='Make the script end with `exec "$@"`, or add an init: ENTRYPOINT ["tini", "--", …].')


def _script_from_context(st: _State, target: str) -> str | None:
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


def _check_healthcheck(st: _State) -> None:
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


def _whole_context_copies(d: Dockerfile) -> list[Instruction]:
    out = []
    for ins in d.instructions:
        if ins.keyword in ("COPY", "ADD") and ins.flag("from") is None and not ins.heredocs:
            srcs = _sources(ins)
            if any(s.rstrip("/") in (".", "", "*", "./*") or s == "./" for s in srcs):
                out.append(ins)
    return out


def _sources(ins: Instruction) -> list[str]:
    words = list(ins.exec_form) if ins.exec_form is not None else ins.arguments.split()
    return words[:-1]


def _check_dockerignore(st: _State) -> None:
    d = st.dockerfile
    if st.context is None:
        return
    copies = _whole_context_copies(d)
    if not copies and not st.measure:
        return  # nothing copies the whole context, and no walk was asked for
    from bot.dockerfile import context as ctxmod

    ignore_file = ctxmod.find_dockerignore(st.context, d.path)
    audit_result = ctxmod.audit(st.context, dockerfile=d.path) if st.measure else None
    st.audit = audit_result
    if ignore_file is None:
        if copies or (audit_result is not None and audit_result.junk):
            extra: dict[str, Any] = {}
            title = None
            if audit_result is not None:
                extra = {"context_bytes": audit_result.total_bytes,
                         "largest": [e.path for e in audit_result.largest[:5]]}
                junk = ", ".join(f"{e.path} ({human_bytes(e.sent_bytes)})" for e in audit_result.junk[:4])
                title = f"No .dockerignore: the build sends {human_bytes(audit_result.total_bytes)}" + (f", including {junk}" if junk else "")
            st.add("dockerignore-missing", copies[0] if copies else None, title, fixable=True,
                   remediation="Write a .dockerignore (coroner fix --write does).", **extra)
        return
    patterns = ctxmod.parse_dockerignore(ctxmod.read_dockerignore(ignore_file), source=str(ignore_file))
    missing = ctxmod.missing_standard_entries(patterns)
    extra_missing: list[str] = []
    if audit_result is not None:
        extra_missing += [e.path for e in audit_result.junk]
        extra_missing += list(audit_result.data_patterns)
        extra_missing += list(audit_result.secrets)
    if (missing or extra_missing) and (copies or extra_missing):
        shown = missing + [m for m in extra_missing if m not in missing]
        st.add("dockerignore-incomplete", copies[0] if copies else None,
               f".dockerignore misses: {', '.join(shown[:8])}", fixable=True, missing=shown,
               dockerignore=str(ignore_file),
               remediation="Add the missing patterns (coroner fix --write does).")


def _check_copy_order(st: _State) -> None:
    for stage in st.dockerfile.stages:
        whole: Instruction | None = None
        manifests_copied: set[str] = set()
        for ins in stage.instructions:
            if ins.keyword in ("COPY", "ADD") and ins.flag("from") is None:
                srcs = _sources(ins)
                if whole is None and any(s.rstrip("/") in (".", "", "*") or s == "./" for s in srcs):
                    whole = ins
                elif whole is None:
                    manifests_copied.update(Path(s).name for s in srcs)
            if ins.keyword != "RUN" or whole is None:
                continue
            for call in st.calls(ins):
                manager = call.manager
                install = (
                    (manager == "pip" and call.action == "install" and ("-r" in call.command.words or "--requirement" in call.command.words or any(w.startswith("-r") and w.endswith(".txt") for w in call.command.words)))
                    or (manager in ("npm", "pnpm") and call.action in ("install", "ci") and not call.packages)
                    or (manager == "yarn" and call.action == "install")
                    or (manager == "go" and call.action == "download")
                    or (manager in ("bundle", "composer", "poetry", "pipenv") and call.action == "install")
                    or (manager == "uv" and call.action == "sync")
                )
                if not install:
                    continue
                wanted = _MANIFESTS.get(manager, ())
                if any(_fn_any(name, wanted) for name in manifests_copied):
                    continue
                items = list(stage.instructions)
                blocker = copy_order_blocker(items[items.index(whole) + 1 : items.index(ins) + 1])
                st.add("copy-before-deps", whole,
                       f"COPY {whole.arguments} comes before `{' '.join(call.command.unwrapped().words[:4])}` (line {ins.line}): every source change reinstalls dependencies",
                       install_line=ins.line, manager=manager, fixable=blocker is None and manager in _MANIFEST_MOVE,
                       blocker=blocker,
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
    from fnmatch import fnmatch

    return any(fnmatch(name, p) for p in patterns)


def _check_copy_link(st: _State) -> None:
    final = st.dockerfile.final_stage
    for ins in final.instructions:
        if ins.keyword == "COPY" and ins.flag("link") is None:
            st.add("copy-without-link", ins, remediation="COPY --link … (BuildKit): the layer survives a base change.")


def _check_add(st: _State) -> None:
    for ins in st.dockerfile.instructions:
        if ins.keyword != "ADD" or ins.heredocs:
            continue
        srcs = _sources(ins)
        if not srcs:
            continue
        if any(re.match(r"^(https?|git|ssh)://|^git@", s) or _ARCHIVE.search(s) or "$" in s for s in srcs):
            continue
        st.add("add-instead-of-copy", ins, remediation="COPY copies local files without ADD's archive and URL magic.")


def _check_workdir(st: _State) -> None:
    for ins in st.dockerfile.instructions:
        if ins.keyword != "WORKDIR":
            continue
        path = ins.arguments.strip().strip("\"'")
        if path.startswith(("/", "$")) or re.match(r"^[A-Za-z]:[\\/]", path):
            continue
        st.add("workdir-relative", ins, f"WORKDIR {path} is relative to whatever the base image set",
               remediation="Use an absolute path.")


def _check_run_hygiene(st: _State) -> None:
    for ins in _all_runs(st.dockerfile):
        script = st.script(ins)
        commands = script.commands
        if any(c.name == "sudo" for c in commands):
            st.add("sudo", ins, remediation="Drop sudo (RUN is root until USER); use gosu/su-exec at run time.")
        for i, c in enumerate(commands):
            u = c.unwrapped()
            nxt = commands[i + 1] if i + 1 < len(commands) else None
            downloads = u.name in ("curl", "wget")
            if downloads and nxt is not None and nxt.joined_by == "|" and nxt.unwrapped().name in _SHELLS | {"python", "python3", "perl", "ruby", "node"}:
                st.add("curl-pipe-shell", ins, f"{u.name} … | {nxt.unwrapped().name}: an unverified script runs as root",
                       remediation="Download to a file, verify its checksum or signature, then run it.")
                break
            if u.name in _SHELLS and any(re.search(r"\$\((curl|wget)\b", w) for w in u.words):
                st.add("curl-pipe-shell", ins, f"{u.name} runs a script fetched inline: an unverified script runs as root",
                       remediation="Download to a file, verify its checksum or signature, then run it.")
                break


def _check_docker_socket(st: _State) -> None:
    for ins in st.dockerfile.instructions:
        if "docker.sock" in ins.arguments or any("docker.sock" in (f.value or "") for f in ins.flags):
            st.add("docker-socket", ins, f"{ins.keyword} references the Docker socket: whoever holds it is root on the node",
                   remediation="Use a rootless builder or the registry API; never mount /var/run/docker.sock.")


def _check_cleanup_later(st: _State) -> None:
    d = st.dockerfile
    for idx in sorted(st.shipped):
        stage = d.stages[idx]
        added: list[tuple[str, Instruction]] = []  # (path or "pkg:name", instruction that added it)
        for ins in stage.instructions:
            if ins.keyword in ("COPY", "ADD") and ins.flag("from") is None:
                srcs, dest = _sources(ins), (ins.exec_form[-1] if ins.exec_form else (ins.arguments.split() or [""])[-1])
                for s in srcs:
                    target = dest.rstrip("/") + "/" + Path(s).name if dest.endswith("/") else dest
                    added.append((target, ins))
            if ins.keyword != "RUN":
                continue
            calls = st.calls(ins)
            removals: list[str] = []
            for c in st.script(ins).commands:
                u = c.unwrapped()
                if u.name == "rm":
                    removals += [w for w in u.words[1:] if not w.startswith("-")]
            for call in calls:
                if call.manager == "apt" and call.action in ("purge", "remove"):
                    removals += [f"pkg:{p}" for p in call.packages]
                if call.manager == "apk" and call.action == "del":
                    removals += [f"pkg:{p}" for p in call.packages]
            hits: list[tuple[str, Instruction]] = []
            for r in removals:
                for path, origin in added:
                    if origin is ins:
                        continue
                    if _covers(r, path):
                        hits.append((r, origin))
                        break
            if hits:
                r, origin = hits[0]
                what = r[4:] if r.startswith("pkg:") else r
                st.add("cleanup-in-later-layer", ins,
                       f"RUN removes {what}, added by line {origin.line}: the bytes stay in that earlier layer",
                       removed=[h[0].removeprefix("pkg:") for h in hits][:10], added_line=origin.line,
                       remediation="Remove it in the same RUN that created it, or build it in another stage.")
            for call in calls:
                if call.action in ("install", "add"):
                    # not /var/cache/apt: Debian and Ubuntu images ship a docker-clean hook that empties it
                    added += [(f"pkg:{p.split('=', 1)[0]}", ins) for p in call.packages]
                if call.manager == "apt" and call.action == "update" and not _removes_apt_lists(st, ins):
                    added.append(("/var/lib/apt/lists", ins))
                if call.manager == "pip" and call.action == "install" and "--no-cache-dir" not in call.command.words:
                    added.append(("/root/.cache/pip", ins))
            for c in st.script(ins).commands:
                u = c.unwrapped()
                if u.name in ("curl", "wget"):
                    for i, w in enumerate(u.words):
                        if w in ("-o", "-O", "--output", "--output-document") and i + 1 < len(u.words):
                            added.append((u.words[i + 1], ins))
                if u.name == "git" and len(u.words) > 3 and u.words[1] == "clone":
                    added.append((u.words[-1], ins))


def _covers(removed: str, added: str) -> bool:
    """Does `rm removed` delete (part of) what `added` put there?"""
    from fnmatch import fnmatch

    if removed.startswith("pkg:") or added.startswith("pkg:"):
        return removed == added
    r = removed.rstrip("/")
    a = added.rstrip("/")
    if not r or r in ("/", "/*"):
        return False
    if fnmatch(a, r) or a == r or a.startswith(r + "/"):
        return True
    base = r[:-2] if r.endswith("/*") else None
    return base is not None and (a == base or a.startswith(base + "/"))


_CHECKS = (
    _check_base_images,
    _check_apt,
    _check_caches,
    _check_consecutive_runs,
    _check_build_tools,
    _check_users,
    _check_secrets,
    _check_process,
    _check_healthcheck,
    _check_dockerignore,
    _check_copy_order,
    _check_copy_link,
    _check_add,
    _check_workdir,
    _check_run_hygiene,
    _check_docker_socket,
    _check_cleanup_later,
)


# --- ignores -------------------------------------------------------------------------------------


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
