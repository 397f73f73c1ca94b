"""The multi-stage split for Python: wheels are built in a builder stage, the final stage installs them
and only the runtime packages, on any base.

The base may be a `python:*` image or a distribution (`ubuntu:22.04`, `debian`, `nvidia/cuda`) whose
Python comes from apt, apk or dnf. The builder is the final stage's own prefix up to its last `pip
install`, so whatever the build needs (the toolchain, the venv, the copied requirements) is there; its pip
installs become `pip wheel`. The final stage keeps its instructions, minus the build tools in its package
installs, and installs the wheels with `--no-index --find-links` from a bind mount of the builder's
`/wheels` (the wheels themselves never become a layer).

`plan` decides, for the rule and the fixer alike, whether the split is safe; when it is not, it says why
in words that end up in `coroner fix`'s notes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.dockerfile.images import cuda_runtime_variant, parse_ref, slim_variant
from bot.dockerfile.packages import PackageCall, classify, is_build_tool
from bot.dockerfile.parser import Dockerfile, Instruction, Stage
from bot.dockerfile.shell import parse_script

WHEEL_DIR = "/wheels"
# Commands that the dropped packages provide: a final-stage RUN that calls one needs them at build time.
TOOL_COMMANDS = frozenset({
    "gcc", "g++", "cc", "c++", "cpp", "make", "cmake", "ninja", "git", "vim", "vi", "nano", "nvcc", "clang",
    "clang++", "autoconf", "automake", "autoreconf", "libtool", "libtoolize", "pkg-config", "pkgconf", "configure",
    "go", "rustc", "cargo", "mvn", "gradle", "javac", "ld", "meson",
})
# Instructions that describe the running container: they mean nothing in a builder stage.
FINAL_ONLY = frozenset({"CMD", "ENTRYPOINT", "EXPOSE", "HEALTHCHECK", "USER", "VOLUME", "STOPSIGNAL", "LABEL",
                         "ONBUILD", "MAINTAINER"})
_SYSTEM_MANAGERS = frozenset({"apt", "apk", "dnf", "yum", "zypper"})
# pip install options `pip wheel` does not accept: dropped from the builder's command.
_INSTALL_ONLY = frozenset({
    "--user", "--upgrade", "-U", "--force-reinstall", "--ignore-installed", "-I", "--compile", "--no-compile",
    "--no-warn-script-location", "--no-warn-conflicts", "--break-system-packages", "--root-user-action",
    "--target", "-t", "--prefix", "--root", "--upgrade-strategy", "--dry-run", "--report",
})
# A -dev package's runtime library, where the name is the same on every Debian and Ubuntu release.
RUNTIME_LIBRARY = {
    "libpq-dev": "libpq5",
    "zlib1g-dev": "zlib1g",
    "libxml2-dev": "libxml2",
    "libxslt1-dev": "libxslt1.1",
    "libyaml-dev": "libyaml-0-2",
    "libgomp1-dev": "libgomp1",
    "libsqlite3-dev": "libsqlite3-0",
    "libbz2-dev": "libbz2-1.0",
    "liblzma-dev": "liblzma5",
    "libgeos-dev": "libgeos-c1v5",
}


@dataclass(frozen=True)
class ToolInstall:
    """A final-stage RUN that installs build tools: the package words to drop and those to add instead."""

    instruction: Instruction
    dropped: tuple[str, ...]  # as written (`gcc=4:12.2.0-3`)
    added: tuple[str, ...]  # runtime libraries of dropped -dev packages
    virtuals: tuple[str, ...] = ()  # `apk add --virtual .build-deps …`: the name a later `apk del` removes
    manager: str = "apt"  # the system package manager that installs them


@dataclass(frozen=True)
class WheelSplit:
    stage: Stage
    pip_runs: tuple[Instruction, ...]
    tool_installs: tuple[ToolInstall, ...]
    final_base: str  # as written in the new final FROM
    builder_name: str

    @property
    def dropped(self) -> list[str]:
        return sorted({package_name(p) for t in self.tool_installs for p in t.dropped})


def package_name(package: str) -> str:
    """`gcc=4:12.2.0-3` -> `gcc`."""
    return re.split(r"[=<>~]", package, maxsplit=1)[0]


def _calls(ins: Instruction) -> list[tuple[str, PackageCall | None]]:
    return [(c.unwrapped().name, classify(c)) for c in parse_script(ins.shell_script).commands]


def _pip_installs(calls: list[tuple[str, PackageCall | None]]) -> list[PackageCall]:
    return [c for _, c in calls if c is not None and c.manager == "pip" and c.action == "install"]


def _local_packages(call: PackageCall) -> bool:
    """`pip install .`, `-e .`, `./pkg`, `/src/x`: the project itself, which needs its source and backend."""
    if call.has_option("-e", "--editable"):
        return True
    return any(p == "." or p.startswith(("./", "../", "/")) or p.endswith(("/", ".whl", ".tar.gz"))
               for p in call.packages)


def tool_installs(stage: Stage, *, skip: Instruction | None = None) -> list[ToolInstall]:
    """The stage's shell RUNs (but `skip`) that install build tools with a system package manager."""
    found = (_tool_install(ins, _calls(ins)) for ins in stage.shell_runs() if ins is not skip and not ins.heredocs)
    return [t for t in found if t is not None]


def _tool_install(ins: Instruction, calls: list[tuple[str, PackageCall | None]]) -> ToolInstall | None:
    tools = [p for _, call in calls if call is not None and call.manager in _SYSTEM_MANAGERS
             and call.action in ("install", "add") for p in call.packages if is_build_tool(package_name(p))]
    if not tools:
        return None
    virtuals = []
    for _, call in calls:
        if call is not None and call.manager == "apk":
            words = list(call.command.unwrapped().words)
            for i, word in enumerate(words):
                if word in ("--virtual", "-t") and i + 1 < len(words):
                    virtuals.append(words[i + 1])
                elif word.startswith("--virtual="):
                    virtuals.append(word.split("=", 1)[1])
    manager = next(call.manager for _, call in calls if call is not None and call.manager in _SYSTEM_MANAGERS)
    return ToolInstall(ins, tuple(tools), tuple(RUNTIME_LIBRARY[package_name(p)] for p in tools if package_name(p) in RUNTIME_LIBRARY),
                       tuple(virtuals), manager)


def _removes_only(ins: Instruction, names: set[str]) -> bool:
    """Whether the RUN only removes packages (`apk del .build-deps`, `apt-get purge gcc`) among `names`:
    once the split takes their install out of the final stage, it removes nothing there (and `apk del`
    of a name it does not know fails the build)."""
    calls = _calls(ins)
    return bool(calls) and all(
        call is not None and call.manager in _SYSTEM_MANAGERS and call.action in ("del", "remove", "purge")
        and call.packages and all(package_name(p) in names for p in call.packages)
        for _, call in calls)


def plan(d: Dockerfile) -> WheelSplit | str:
    """The split of the final stage, or why it cannot be done safely."""
    stage = d.final_stage
    if stage.base_stage(d.stages) is not None:
        return "the final stage builds on another stage"
    pip_runs: list[Instruction] = []
    tool_installs: list[ToolInstall] = []
    others: list[Instruction] = []
    for ins in stage.instructions[1:]:
        if ins.keyword != "RUN":
            continue
        if ins.exec_form is not None or ins.heredocs:
            others.append(ins)
            continue
        calls = _calls(ins)
        pips = _pip_installs(calls)
        if pips:
            if len(pips) != len(calls):
                return f"line {ins.line} mixes pip with other commands"
            if any(_local_packages(c) for c in pips):
                return f"line {ins.line} installs the project itself"
            pip_runs.append(ins)
            continue
        tools = _tool_install(ins, calls)
        if tools is not None:
            tool_installs.append(tools)
        others.append(ins)
    if not pip_runs:
        return "no `pip install`, `npm ci` or `go build` RUN to move into a builder stage"
    ref = parse_ref(stage.base_image)
    runtime_base = cuda_runtime_variant(ref)  # a CUDA devel base is the toolkit itself: the final stage drops it
    if not tool_installs and runtime_base is None:
        return "the build tools are not installed by a package manager in this stage"
    for ins in others:
        for name, _ in _calls(ins):
            if name in TOOL_COMMANDS:
                return f"line {ins.line} runs `{name}`, which needs the build tools"
    names = {s.name for s in d.stages if s.name}
    builder = next(n for n in ("builder", "wheels", "wheel-builder", "python-builder") if n not in names)
    final_base = runtime_base or (slim_variant(ref) if ref.name == "python" else None) or stage.base_image_raw
    return WheelSplit(stage, tuple(pip_runs), tuple(tool_installs), final_base, builder)


def rewrite(d: Dockerfile, split: WheelSplit) -> str:
    """The Dockerfile with the builder stage inserted before the final stage's FROM."""
    lines = d.text.split("\n")
    stage = split.stage
    from_ins = stage.from_instruction
    head = re.match(r"^\s*FROM\s+(?:--\S+\s+)*", from_ins.original.split("\n")[0], re.I)
    from_head = head.group(0) if head else "FROM "
    builder = [f"{from_head}{stage.base_image_raw} AS {split.builder_name}"]
    last_pip = split.pip_runs[-1]
    for ins in stage.instructions[1:]:
        if ins.keyword not in FINAL_ONLY:
            body = ins.original.split("\n")
            builder += _to_wheel(body) if ins in split.pip_runs else body
        if ins is last_pip:
            break
    final_from = lines[from_ins.line - 1 : from_ins.end_line]
    final_from[0] = final_from[0].replace(stage.base_image_raw, split.final_base, 1)
    out = lines[: from_ins.line - 1] + builder + [""] + final_from
    tools = {t.instruction.line: t for t in split.tool_installs}
    gone = {package_name(p) for t in split.tool_installs for p in t.dropped} | {
        v for t in split.tool_installs for v in t.virtuals}
    prev_end = from_ins.end_line
    for ins in stage.instructions[1:]:
        out += lines[prev_end : ins.line - 1]  # comments and blank lines between instructions stay
        prev_end = ins.end_line
        body = ins.original.split("\n")
        if ins.keyword == "RUN" and ins.exec_form is None and not ins.heredocs and _removes_only(ins, gone):
            continue
        if ins.line in tools:
            out += without_tools(body, tools[ins.line])
        elif ins in split.pip_runs:
            out += _from_wheels(body, split.builder_name)
        else:
            out += body
    out += lines[prev_end:]
    return "\n".join(out)


_PIP_INSTALL = re.compile(r"\b(pip[0-9.]*|python[0-9.]*\s+-m\s+pip)(\s+)install\b")


def _to_wheel(body: list[str]) -> list[str]:
    """`pip install ARGS` -> `pip wheel --wheel-dir /wheels ARGS` without the options only install has."""
    text = "\n".join(body)
    for call in _pip_installs(_calls_of(text)):
        for option in call.args.options:
            if option.known and option.name in _INSTALL_ONLY and option.written:
                text = _remove_words(text, option.written)
    text = _PIP_INSTALL.sub(rf"\1\2wheel --wheel-dir {WHEEL_DIR}", text)
    return text.split("\n")


def _from_wheels(body: list[str], builder: str) -> list[str]:
    text = _PIP_INSTALL.sub(rf"\1\2install --no-index --find-links={WHEEL_DIR}", "\n".join(body))
    first, _, rest = text.partition("\n")
    m = re.match(r"^(\s*RUN)(\s+)", first, re.I)
    if m:
        mount = f"--mount=type=bind,from={builder},source={WHEEL_DIR},target={WHEEL_DIR}"
        first = f"{m.group(1)} {mount}{first[m.end(1):]}"
    return (first + ("\n" + rest if rest else "")).split("\n")


def _calls_of(text: str) -> list[tuple[str, PackageCall | None]]:
    return [(c.unwrapped().name, classify(c)) for c in parse_script(_shell_text(text)).commands]


def _shell_text(original: str) -> str:
    """The shell part of a RUN's source: keyword and flags dropped, continuations joined."""
    text = re.sub(r"\\\n", " ", original)
    return re.sub(r"^\s*RUN\s+(?:--\S+\s+)*", "", text, flags=re.I)


def without_tools(body: list[str], tools: ToolInstall, *, runtime: Mapping[str, str] = RUNTIME_LIBRARY) -> list[str]:
    """The RUN with the build-tool packages taken out of its install commands (and the runtime half of
    each put in: a -dev package's library, `runtime`). Lines left holding only a continuation go; a RUN
    left installing nothing but apt/apk/dnf bookkeeping goes."""
    text = "\n".join(body)
    for package in tools.dropped:
        text = _remove_words(text, (package,), replacement=runtime.get(package_name(package), ""))
    lines = [line for line in text.split("\n") if not re.fullmatch(r"\s*\\\s*", line)]
    if lines and lines[-1].rstrip().endswith("\\"):
        lines[-1] = lines[-1].rstrip()[:-1].rstrip()
    calls = _calls_of("\n".join(lines))
    installs = [c for _, c in calls if c is not None and c.action in ("install", "add")]
    bookkeeping = all(c is not None and c.manager in _SYSTEM_MANAGERS for _, c in calls) or all(
        name == "rm" or (c is not None and c.manager in _SYSTEM_MANAGERS) for name, c in calls
    )
    if bookkeeping and all(not c.packages for c in installs):
        return []
    return lines


def _remove_words(text: str, words: tuple[str, ...], *, replacement: str = "") -> str:
    """Remove the first whitespace-delimited occurrence of `words` (consecutive, as written) from `text`."""
    pattern = r"([ \t]*)(?<![^\s])" + r"(?:\s|\\\n)+".join(re.escape(w) for w in words) + r"(?![^\s\\])"
    return re.sub(pattern, lambda m: m.group(1) + replacement if replacement else "", text, count=1)


_COMPILERS = re.compile(r"^(build-essential|build-base|gcc.*|g\+\+.*|clang.*|llvm.*|make|cmake|autoconf|automake|"
                        r"libtool|pkg-?conf(ig)?|musl-dev|linux-headers)$")
_CUDA = re.compile(r"^(cuda-toolkit|cuda-nvcc|cuda-compiler|nvidia-cuda-toolkit)(-(?P<version>\d+-\d+))?")


# How each package manager names what a package depends on (a -dev package's runtime library among them).
_DEPENDS = {"apt": "apt-cache depends", "apk": "apk info -R", "dnf": "dnf repoquery --requires",
            "yum": "repoquery --requires", "zypper": "zypper info --requires"}


def notes(split: WheelSplit) -> list[str]:
    """What the split did, and for each dropped toolkit the runtime package to install if it is needed."""
    dropped = split.dropped
    out = [f"build-tools-in-final-stage: split into a `{split.builder_name}` stage that builds the wheels and a "
           f"final stage on {split.final_base} that installs them"
           + (f"; {', '.join(dropped)} no longer " + ("ships" if len(dropped) == 1 else "ship") if dropped else "")]
    if cuda_runtime_variant(parse_ref(split.stage.base_image)) == split.final_base:
        out.append(f"build-tools-in-final-stage: the final stage runs on {split.final_base}, the CUDA runtime "
                   f"libraries without nvcc and the headers; if the app compiles CUDA code at run time (JIT "
                   f"extensions), keep {split.stage.base_image} there")
    managers = {package_name(p): t.manager for t in split.tool_installs for p in t.dropped}
    compilers = [p for p in dropped if _COMPILERS.match(p)]
    if compilers:
        out.append(f"build-tools-in-final-stage: {', '.join(compilers)} only run in the builder now: the wheels "
                   "arrive compiled")
    for package in dropped:
        cuda = _CUDA.match(package)
        if cuda:
            version = cuda.group("version")
            runtime = f"cuda-libraries-{version}" if version else "cuda-libraries-<version>"
            image = f"an nvidia/cuda {version.replace('-', '.')}.x `-runtime` image" if version else \
                "an nvidia/cuda `-runtime` image"
            out.append(f"build-tools-in-final-stage: {package} (compiler, headers, profilers) no longer ships; if "
                       f"the code needs CUDA at run time, install only `{runtime}` (the runtime libraries) in the "
                       f"final stage, or build it FROM {image}")
        elif package == "git":
            out.append("build-tools-in-final-stage: git no longer ships (pip fetched any VCS requirement in the "
                       "builder); if the app runs git itself, install `git` in the final stage")
        elif package in ("vim", "vim-tiny", "nano"):
            out.append(f"build-tools-in-final-stage: {package} no longer ships; to inspect a running pod use "
                       "`kubectl debug` with an ephemeral container")
        elif package in RUNTIME_LIBRARY:
            out.append(f"build-tools-in-final-stage: {package} is replaced by its runtime library "
                       f"{RUNTIME_LIBRARY[package]} in the final stage")
        elif package.endswith(("-dev", "-devel")) and not re.match(r"^python[0-9.]*-dev", package) and not _COMPILERS.match(package):
            out.append(f"build-tools-in-final-stage: {package} no longer ships; if a wheel links against it, install "
                       f"its runtime library in the final stage (the package `{_DEPENDS[managers.get(package, 'apt')]} "
                       f"{package}` names)")
    return out
