"""Package-manager caches left in a layer, and builder stages without a cache mount; their fixes."""

from __future__ import annotations

import re

from bot.dockerfile.images import parse_ref
from bot.dockerfile.options import APK, CONDA_CLEAN, GEM, PIP, parse_args
from bot.dockerfile.packages import PackageCall
from bot.dockerfile.parser import Dockerfile, Instruction, Stage
from bot.dockerfile.rules.edits import (
    Fixer,
    Work,
    add_flag,
    append_command,
    by_rule,
    edit_each,
    fix_option,
    insert_in_command,
    span_of,
    splice,
)
from bot.dockerfile.rules.state import (
    Check,
    State,
    cache_mount_targets,
    copy_sources,
    mount_targets,
    root_user_at,
    under_mount,
)
from bot.domain import Finding


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


def _go_caches(d: Dockerfile) -> tuple[list[str], list[str]]:
    """Per stage, where Go keeps its module cache and its build cache, as `go env` would say: GOMODCACHE,
    else $GOPATH/pkg/mod (the golang images set GOPATH=/go; Go's default is $HOME/go), and GOCACHE, else
    $HOME/.cache/go-build. A mount anywhere else caches nothing."""
    # a value that refers to another variable is not resolved here: Go's default stands in for it
    modcache, gopath, gocache = ([v if v and "$" not in v else None for v in _inherited_env(d, name)]
                                 for name in ("GOMODCACHE", "GOPATH", "GOCACHE"))
    mods: list[str] = []
    builds: list[str] = []
    on_golang: list[bool] = []  # built on a golang image, through the stages it builds FROM (one pass: a chain walk per stage was quadratic)
    for stage in d.stages:
        on_golang.append(on_golang[stage.base_index] if stage.base_index is not None
                         else parse_ref(stage.base_image).name == "golang")
        path = gopath[stage.index] or ("/go" if on_golang[-1] else "/root/go")
        mods.append(modcache[stage.index] or f"{path.rstrip('/')}/pkg/mod")
        builds.append(gocache[stage.index] or "/root/.cache/go-build")
    return mods, builds


# Options only Yarn 2+ (Berry) knows; Yarn 1 calls them --frozen-lockfile and --prefer-offline.
_BERRY_OPTIONS = frozenset({"--immutable", "--immutable-cache", "--check-cache", "--mode", "--inline-builds"})


def _yarn_berry(stage: Stage, call: PackageCall) -> bool:
    """Yarn 2+ (a `.yarnrc.yml` copied in, or a Berry-only option): its cache is where Plug'n'Play loads the
    packages from at run time, so `yarn cache clean` would break the app, not slim it."""
    if any(w.split("=", 1)[0] in _BERRY_OPTIONS for w in call.command.unwrapped().words):
        return True
    return any(ins.keyword in ("COPY", "ADD") and any(src.rstrip("/").endswith(".yarnrc.yml") for src in copy_sources(ins))
               for ins in stage.instructions)


def _cache_dirs(d: Dockerfile) -> list[dict[str, list[str]]]:
    """Per stage, where each manager keeps its download cache: its variable when the Dockerfile sets one,
    else its default (`~/` for the home of whichever user runs it). A RUN whose mounts cover these paths
    leaves that manager's cache in no layer."""
    go_mod, go_build = _go_caches(d)
    env = {name: _inherited_env(d, name) for name in (
        "PIP_CACHE_DIR", "npm_config_cache", "NPM_CONFIG_CACHE", "YARN_CACHE_FOLDER", "POETRY_CACHE_DIR",
        "COMPOSER_CACHE_DIR", "COMPOSER_HOME", "CONDA_PKGS_DIRS")}
    out: list[dict[str, list[str]]] = []
    for stage in d.stages:
        def var(*names: str) -> list[str]:
            return [v for n in names if (v := env[n][stage.index]) and "$" not in v]  # noqa: B023 - called at once
        composer_home = var("COMPOSER_HOME")
        out.append({
            "pip": var("PIP_CACHE_DIR") or ["~/.cache/pip"],
            "npm": var("npm_config_cache", "NPM_CONFIG_CACHE") or ["~/.npm"],
            "yarn": var("YARN_CACHE_FOLDER") or ["/usr/local/share/.cache/yarn", "~/.cache/yarn"],
            "go": [go_mod[stage.index], go_build[stage.index]], "go-mod": [go_mod[stage.index]],
            "apk": ["/var/cache/apk"], "apk-index": ["/var/cache/apk"],
            "yum": ["/var/cache/yum"], "dnf": ["/var/cache/dnf", "/var/cache/libdnf5"], "microdnf": ["/var/cache/yum"],
            "poetry": var("POETRY_CACHE_DIR") or ["~/.cache/pypoetry"],
            "composer": var("COMPOSER_CACHE_DIR") or [f"{h.rstrip('/')}/cache" for h in composer_home] or ["~/.cache/composer"],
            "conda": var("CONDA_PKGS_DIRS") or ["/opt/conda/pkgs"], "mamba": var("CONDA_PKGS_DIRS") or ["/opt/conda/pkgs"],
            "micromamba": var("CONDA_PKGS_DIRS") or ["/opt/conda/pkgs"],
        })
    return out


def _mounted(kind: str, dirs: dict[str, list[str]], targets: list[str]) -> bool:
    """Whether every cache directory of `kind` is under one of the RUN's mounts."""
    paths = dirs.get(kind)
    return bool(paths) and all(under_mount(p, targets) for p in paths or ())


def _pip_downloads(call: PackageCall) -> bool:
    """Whether this pip call can download: not with `--no-index` and only local `--find-links` (a wheelhouse
    built in another stage), where nothing reaches pip's HTTP cache."""
    if not call.has_option("--no-index"):
        return True
    links = [o.value or "" for o in call.args.options if o.name in ("-f", "--find-links")]
    return any("://" in link for link in links)


def _check_caches(st: State) -> None:
    d = st.dockerfile
    pip_no_cache = _inherited_env(d, "PIP_NO_CACHE_DIR")
    go_mod, go_build = _go_caches(d)
    poetry_cache = _inherited_env(d, "POETRY_CACHE_DIR")
    gem_docs_off = _gem_docs_off(d)
    cache_dirs = _cache_dirs(d)
    for stage in d.stages:
        pip_env = (pip_no_cache[stage.index] or "").lower()
        pip_env_off = pip_env in ("1", "true", "yes", "on", "off", "0", "false") and pip_env != ""
        shipped = stage.index in st.shipped
        root_at = root_user_at(stage)
        dirs = cache_dirs[stage.index]
        for ins in stage.shell_runs():
            caches = cache_mount_targets(ins)  # what persists between builds
            mounts = mount_targets(ins)  # what is in no layer: caches, tmpfs, bind mounts
            calls = st.calls(ins)
            for call in calls:
                u = call.command.unwrapped()
                if call.manager == "pip" and call.action in ("install", "wheel", "download") and _pip_downloads(call):
                    off = pip_env_off or call.has_option("--no-cache-dir")
                    if call.action == "install" and shipped and not off and not _mounted("pip", dirs, mounts):
                        st.add("pip-cache", ins, remediation="pip install --no-cache-dir … (or a cache mount).")
                    if not shipped and not off and not _mounted("pip", dirs, caches):
                        st.add("no-cache-mount", ins, "pip in a builder stage without a cache mount: every rebuild downloads again",
                               fixable=root_at[ins.line], target="/root/.cache/pip",
                               remediation="RUN --mount=type=cache,target=/root/.cache/pip pip …")
                if call.manager in ("npm", "yarn", "go") and call.action in ("install", "ci", "download", "build", ""):
                    targets = [{"npm": "/root/.npm", "yarn": "/usr/local/share/.cache/yarn", "go": go_mod[stage.index]}[call.manager]]
                    if call.manager == "go" and call.action in ("build", "install"):
                        # the modules a cached `go mod download` fetched are in its cache, not in a layer:
                        # the build mounts that cache too, or it downloads them again
                        targets = [go_build[stage.index], go_mod[stage.index]]
                    # only the caches no mount covers yet: a go build with its module cache mounted wants the build cache
                    targets = [t for t in targets if not under_mount(t, caches)] if caches else targets
                    if call.manager != "go" and caches and _mounted(call.manager, dirs, caches):
                        targets = []
                    if not shipped and targets:
                        st.add("no-cache-mount", ins, f"{call.manager} in a builder stage without a cache mount",
                               fixable=root_at[ins.line], target=targets[0], targets=targets,
                               remediation=f"RUN --mount=type=cache,target={targets[0]} …")
                if not shipped or _mounted(call.manager, dirs, mounts):
                    continue
                if call.manager == "apk" and call.action == "add" and not call.has_option("--no-cache", "--no-network") and not _script_has(st, ins, "rm", "/var/cache/apk"):
                    st.add("package-cache", ins, "apk add without --no-cache", hadolint="DL3019", manager="apk",
                           remediation="apk add --no-cache …")
                if call.manager in ("yum", "dnf") and call.action == "install" and not _cleans(st, ins, call.manager):
                    name = u.name
                    st.add("package-cache", ins, f"{name} install without `{name} clean all`",
                           hadolint="DL3032" if call.manager == "yum" else "DL3040", manager=name,
                           remediation=f"End the RUN with `&& {name} clean all`.")
                if call.manager == "yarn" and call.action in ("install", "") and not _cleans(st, ins, "yarn") and not _yarn_berry(stage, call):
                    st.add("package-cache", ins, "yarn install without `yarn cache clean`", hadolint="DL3060",
                           manager="yarn", remediation="End the RUN with `&& yarn cache clean`.")
                if call.manager == "npm" and call.action in ("install", "ci") and not _cleans(st, ins, "npm"):
                    st.add("package-cache", ins, f"npm {call.action} leaves its cache in ~/.npm", hadolint="",
                           manager="npm", remediation="End the RUN with `&& npm cache clean --force`.")
            if shipped:
                _check_leftovers(st, stage, ins, calls, root_at[ins.line], poetry_cache[stage.index],
                                 gem_docs_off[stage.index], dirs, mounts)


# What each manager leaves behind, past the five above: checked per shipped RUN, unless its cache is mounted.
_CONDA_INSTALLS = frozenset({"install", "create", "update", "upgrade", "env create", "env update"})
_GO_FETCHES = frozenset({"build", "install", "download"})


def _check_leftovers(st: State, stage: Stage, ins: Instruction, calls: list[PackageCall], as_root: bool,
                     poetry_cache: str | None, gem_docs_off: bool, dirs: dict[str, list[str]], mounts: list[str]) -> None:
    reported: set[str] = set()  # one finding per manager and RUN: `go mod download && go build` leave one cache
    for call in calls:
        u = call.command.unwrapped()
        kind: str | None = None
        cache: str | None = None  # the cache directories that matter, when not those of `kind`
        clean: str | None = None  # the command that empties it, when not the manager's usual one
        left: list[tuple[str, str]] = []  # go: the `go clean` option and the name of each cache left
        if call.manager == "apk" and call.action == "update" and not _script_has(st, ins, "rm", "/var/cache/apk"):
            kind, title, fixable = "apk-index", "apk update leaves the package index in /var/cache/apk", True
            remediation = "apk add --no-cache fetches a fresh index and keeps none: drop `apk update`, or end the RUN with `&& rm -rf /var/cache/apk/*`."
        elif call.manager == "conda" and call.action in _CONDA_INSTALLS and not _conda_cleaned(st, ins):
            kind, title, fixable = u.name, f"{u.name} {call.action} keeps the package tarballs in pkgs/", True
            remediation = f"End the RUN with `&& {_conda_clean(u.name)}`."
        elif call.manager == "poetry" and call.action in ("install", "add", "update", "sync") and "--no-cache" not in u.words \
                and not _poetry_cleaned(st, ins, poetry_cache):
            kind, title = "poetry", "poetry keeps its download caches in POETRY_CACHE_DIR (~/.cache/pypoetry)"
            fixable = poetry_cache is not None or as_root
            remediation = "End the RUN with `&& rm -rf $POETRY_CACHE_DIR/cache $POETRY_CACHE_DIR/artifacts` (not virtualenvs/)."
        elif call.manager == "composer" and call.action in ("install", "update", "require", "create-project") \
                and "--no-cache" not in u.words and not _composer_cleaned(st, ins):
            kind, title, fixable = "composer", "composer keeps the downloaded archives in its cache", True
            remediation = "End the RUN with `&& composer clear-cache` (or composer --no-cache)."
        elif call.manager == "go" and call.action in _GO_FETCHES and not _go_vendored(u.words):
            builds = any(c.manager == "go" and c.action in ("build", "install") for c in calls)
            cache = "go" if builds else "go-mod"  # `go mod download` writes the module cache only
            # a cache the RUN mounts already is not in the layer, and cleaning it would empty the mount
            mod, build = dirs["go"]
            cleaned = _go_cleaned(st, ins)
            left = [(option, what) for option, path, what, written in (
                ("-cache", build, "build cache", builds), ("-modcache", mod, "module cache", True))
                if written and not under_mount(path, mounts) and option not in cleaned]
            clean = "go clean " + " ".join(option for option, _ in left)
            kind, title, fixable = "go", f"go keeps the {' and the '.join(what for _, what in left)} in the layer", builds
            remediation = f"Build in a builder stage and COPY --from the binary (or end the RUN with `&& {clean}`)."
        elif call.manager == "gem" and call.action in ("install", "update") and not gem_docs_off \
                and not parse_args(u.words[2:], GEM).has("--no-document", "-N"):
            st.add("gem-docs", ins, remediation="gem install --no-document … (or `gem: --no-document` in /etc/gemrc).")
            continue
        if kind == "go" and not left:
            continue  # each cache it writes is mounted or cleaned
        if kind is None or kind in reported or _mounted(cache or kind, dirs, mounts):
            continue
        reported.add(kind)
        st.add("package-cache", ins, title, hadolint="", manager=kind, fixable=fixable, remediation=remediation,
               **({"clean": clean} if clean else {}),
               **({} if fixable else {"why_not": "the modules of this layer are what a later RUN builds with; "
                                                 "build in a builder stage and COPY --from the binary"}))


def _conda_clean(tool: str) -> str:
    return "micromamba clean --all --yes" if tool == "micromamba" else f"{tool} clean -afy"


def _conda_cleaned(st: State, ins: Instruction) -> bool:
    """`conda clean -a` (or `-t`: the tarballs; the extracted packages are hard links into the env), or the
    pkgs directory removed."""
    for c in st.script(ins).commands:
        u = c.unwrapped()
        if u.name in ("conda", "mamba", "micromamba") and len(u.words) > 1 and u.words[1] == "clean" and parse_args(
                u.words[2:], CONDA_CLEAN).has("--all", "-a", "--tarballs", "-t"):
            return True
        if u.name == "rm" and any(w.rstrip("/*").endswith("/pkgs") for w in u.words[1:]):
            return True
    return False


def _poetry_cleaned(st: State, ins: Instruction, cache: str | None) -> bool:
    for c in st.script(ins).commands:
        u = c.unwrapped()
        if u.name == "poetry" and u.words[1:3] == ("cache", "clear"):
            return True
        if u.name == "rm" and any("pypoetry" in w or "POETRY_CACHE_DIR" in w or (cache and w.startswith(cache))
                                  or w.rstrip("/*") in ("/root/.cache", "~/.cache", "$HOME/.cache") for w in u.words[1:]):
            return True
    return False


def _composer_cleaned(st: State, ins: Instruction) -> bool:
    for c in st.script(ins).commands:
        u = c.unwrapped()
        if u.name == "composer" and any(w in ("clear-cache", "clearcache", "cc") for w in u.words[1:]):
            return True
        if u.name == "rm" and any("composer" in w.lower() and "cache" in w.lower() for w in u.words[1:]):
            return True
    return False


def _go_vendored(words: tuple[str, ...]) -> bool:
    return "-mod=vendor" in words


def _go_cleaned(st: State, ins: Instruction) -> set[str]:
    """The `go clean` options whose cache the RUN empties: `-cache` (the build cache), `-modcache`."""
    out: set[str] = set()
    for c in st.script(ins).commands:
        u = c.unwrapped()
        if u.name == "go" and len(u.words) > 1 and u.words[1] == "clean":
            out.update(w for w in u.words[2:] if w in ("-cache", "-modcache"))
        if u.name == "rm":
            if any("pkg/mod" in w or "GOMODCACHE" in w for w in u.words[1:]):
                out.add("-modcache")
            if any("go-build" in w or "GOCACHE" in w for w in u.words[1:]):
                out.add("-cache")
    return out


def _gem_docs_off(d: Dockerfile) -> list[bool]:
    """Per stage, whether RubyGems is told not to generate ri/rdoc: the official ruby images write
    `gem: --no-document` to their gemrc, and a RUN or COPY may write one."""
    out: list[bool] = []
    for stage in d.stages:
        off = out[stage.base_index] if stage.base_index is not None else parse_ref(stage.base_image).name == "ruby"
        for ins in stage.instructions:
            text = ins.original
            if "gemrc" in text and ("no-document" in text or ins.keyword in ("COPY", "ADD")):
                off = True
        out.append(off)
    return out


def _script_has(st: State, ins: Instruction, name: str, arg_prefix: str) -> bool:
    for c in st.script(ins).commands:
        u = c.unwrapped()
        if u.name == name and any(w.startswith(arg_prefix) for w in u.words[1:]):
            return True
    return False


def _cleans(st: State, ins: Instruction, manager: str) -> bool:
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


_PIP_INSTALL = re.compile(r"\b(?:pip[0-9.]*|python[0-9.]*\s+-m\s+pip)\s+install\b")


_APK_ADD = re.compile(r"\bapk\s+add\b")


_CACHE_CLEAN = {"yum": "yum clean all", "dnf": "dnf clean all", "microdnf": "microdnf clean all",
                "yarn": "yarn cache clean", "npm": "npm cache clean --force", "apk-index": "rm -rf /var/cache/apk/*",
                "conda": _conda_clean("conda"), "mamba": _conda_clean("mamba"), "micromamba": _conda_clean("micromamba"),
                "composer": "composer clear-cache", "go": "go clean -cache -modcache"}


def _fix_package_cache(w: Work) -> str | None:
    def edit(d: Dockerfile, ins: Instruction, f: Finding) -> list[str] | None:
        manager = f.evidence.get("manager")
        if manager == "apk":
            return insert_in_command(ins, _APK_ADD, "--no-cache", APK)
        if manager == "poetry":  # its virtualenvs/ may be under the same directory: only the caches go
            root = "$POETRY_CACHE_DIR" if _inherited_env(d, "POETRY_CACHE_DIR")[ins.stage_index] else "/root/.cache/pypoetry"
            return append_command(d, ins, f'rm -rf "{root}/cache" "{root}/artifacts"')
        command = f.evidence.get("clean") or _CACHE_CLEAN.get(str(manager))
        return append_command(d, ins, command) if command else None

    return edit_each(w, "package-cache", edit, once_per_line=True)  # one RUN, several managers: the next round


_GEM_INSTALL = re.compile(r"\bgem\s+(?:install|update)\b")


def _fix_cache_mount(w: Work) -> str | None:
    d = w.parsed()
    targets: dict[int, list[str]] = {}
    for f in by_rule(w.findings(), "no-cache-mount"):
        targets.setdefault(f.evidence["line"], [])
        for target in f.evidence.get("targets") or [f.evidence["target"]]:
            if target not in targets[f.evidence["line"]]:
                targets[f.evidence["line"]].append(target)
    edits = []
    for line, ts in targets.items():
        ins = w.instruction_at(line)
        if ins is None:
            continue
        lines = ins.original.split("\n")
        for t in reversed(ts):
            tmp = Instruction(ins.keyword, ins.line, ins.end_line, "\n".join(lines), ins.arguments)
            lines = add_flag(tmp, f"--mount=type=cache,target={t}")
        edits.append((*span_of(ins), lines))
    return splice(d.text, edits) if edits else None


CHECKS: tuple[Check, ...] = (_check_caches,)
FIXERS: tuple[Fixer, ...] = (fix_option("pip-cache", _PIP_INSTALL, "--no-cache-dir", PIP), _fix_package_cache,
                              fix_option("gem-docs", _GEM_INSTALL, "--no-document", GEM, ("-N",)), _fix_cache_mount)
# Why `coroner fix` leaves a finding of these rules alone (said in its notes).
WHY_LEFT: dict[str, str] = {
}
