"""The artifact split: a final stage that builds one compiled artifact (cargo, maven, gradle, go) with a
toolchain it installs or inherits becomes a builder stage and a final stage on a runtime base that receives
only the artifact.

The builder is the original base with everything the build needs, up to the build. The final stage is the
same distribution without the toolchain packages (runtime packages such as ca-certificates stay), or, for a
toolchain image (`rust:*`, `maven:*`, `gradle:*`, `golang:*`, a JDK), the runtime image that matches it.
The artifact keeps its absolute path, so CMD, ENTRYPOINT and WORKDIR mean what they meant; it moves only
where the toolchain image put it on a PATH the runtime image lacks (`cargo install`'s `/usr/local/cargo/bin`).

`plan` decides for the rule and the fixer alike. It never guesses a path: where the Dockerfile does not
show what the build writes (a binary named only in Cargo.toml, an `-o` set by a build argument), it
returns why, in words that end up in the finding and in `coroner fix`'s notes.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
from dataclasses import dataclass
from enum import Enum

from bot.dockerfile.images import ImageRef, parse_ref
from bot.dockerfile.packages import classify, is_build_tool
from bot.dockerfile.parser import Dockerfile, Instruction, Stage
from bot.dockerfile.shell import Command, has_shell_features, parse_script, positional_words
from bot.dockerfile.split import RUNTIME_LIBRARY, TOOL_COMMANDS, ToolInstall, package_name, tool_installs, without_tools

# What each tool's build writes, when nothing names the artifact.
_TOOLS = ("cargo", "maven", "gradle", "go")
_TOOLCHAIN_COMMANDS = TOOL_COMMANDS | {"mvnw", "gradlew", "rustup", "javac", "jar"}
# Commands a RUN may hold and still run unchanged in the final stage: users, directories, small files.
_SETUP = frozenset({"useradd", "adduser", "groupadd", "addgroup", "usermod", "mkdir", "chown", "chmod", "ln", "echo",
                    "printf", "touch", "true", "set", "umask", "id"})
_USER_SETUP = frozenset({"useradd", "adduser", "groupadd", "addgroup", "usermod"})
# Commands that only move what the build wrote: they stay in the builder, and the artifact follows them.
_FILE_OPS = frozenset({"cp", "mv", "install", "strip", "chmod", "rm", "mkdir", "ln", "ls", "true"})
_SYSTEM_MANAGERS = frozenset({"apt", "apk", "dnf", "yum", "zypper"})
# Commands that belong with a package install in the same RUN.
_PACKAGE_COMPANIONS = frozenset({"rm", "update-ca-certificates", "ldconfig", "apt-mark"})
# What every distroless image already holds: an install of it has nothing to add there.
_DISTROLESS_HAS = frozenset({"ca-certificates", "tzdata"})
# Where a CMD's bare name is found: the PATH of debian, alpine and distroless images.
_STANDARD_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
# Commands every runtime base with a shell has (a HEALTHCHECK or CMD may call them on a new base).
_BASE_COMMANDS = frozenset({"sh", "exec", "echo", "cat", "test", "[", "true", "false", "sleep", "env", "ls", "kill",
                            "id", "printf"})
# -dev packages with nothing a binary loads at run time beyond libc.
_NO_RUNTIME_LIBRARY = frozenset({"libc6-dev", "libc-dev", "linux-libc-dev", "linux-headers", "musl-dev"})
# A -dev package's runtime library where its name changes with the release.
_RELEASE_LIBRARY = {
    "libssl-dev": {"buster": "libssl1.1", "bullseye": "libssl1.1", "bookworm": "libssl3", "trixie": "libssl3t64",
                   "focal": "libssl1.1", "jammy": "libssl3", "noble": "libssl3t64"},
}
_CODENAMES = {"10": "buster", "11": "bullseye", "12": "bookworm", "13": "trixie", "20.04": "focal",
              "22.04": "jammy", "24.04": "noble"}
_DISTROLESS_GLIBC = {"bullseye": "base-debian11", "bookworm": "base-debian12", "trixie": "base-debian13"}
_CGO_OFF = re.compile(r"\bCGO_ENABLED=[\"']?0\b")


class Place(Enum):
    BUILDER = "builder"  # build inputs and the build itself
    FINAL = "final"  # describes the running container, or comes after the build
    BOTH = "both"  # ARG, ENV, WORKDIR, USER, setup RUNs: both stages need them
    TOOLS = "tools"  # a package install: whole in the builder, without the toolchain in the final stage
    ARTIFACT = "artifact"  # the build (and its moves): in the builder; the final stage gets the COPY --from
    DROP = "drop"  # in the builder only, and nothing in the final stage (user setup a distroless base has)


@dataclass(frozen=True)
class Runtime:
    image: str  # the final FROM
    why: str  # the note that explains the choice
    shell: bool  # has /bin/sh and a package manager (distroless has neither)
    added: tuple[str, ...] = ()  # packages the toolchain image carried that a binary may load at run time


@dataclass(frozen=True)
class ArtifactSplit:
    stage: Stage
    tool: str  # cargo, maven, gradle, go
    artifacts: tuple[tuple[str, str], ...]  # (path in the builder, path in the final stage)
    runtime: Runtime
    placement: tuple[tuple[Instruction, Place], ...]
    tool_installs: tuple[ToolInstall, ...]
    replacements: tuple[tuple[str, str], ...]  # toolchain package -> its runtime package, in the final stage
    builder_name: str
    notes: tuple[str, ...]

    @property
    def dropped(self) -> list[str]:
        return sorted({package_name(p) for t in self.tool_installs for p in t.dropped})


@dataclass(frozen=True)
class _Build:
    tool: str
    line: int
    exact: str | None  # the artifact, when the command names it
    output: re.Pattern[str] | None  # a path under the build's output that a CMD or a copy may name
    unnamed: str  # why the artifact is not known when nothing names it
    bin_dir: str | None = None  # `cargo install`: where the binary a CMD names by its bare name is


def _join(cwd: str | None, path: str) -> str | None:
    if path.startswith("/"):
        return posixpath.normpath(path)
    return posixpath.normpath(posixpath.join(cwd, path)) if cwd is not None else None


def _option(words: tuple[str, ...] | list[str], *names: str) -> str | None:
    """The value of `-o X`, `-o=X`, `--bin X` or `--bin=X` (the last one given)."""
    found = None
    for i, w in enumerate(words):
        for n in names:
            if w == n and i + 1 < len(words):
                found = words[i + 1]
            elif w.startswith(n + "=") and n.startswith("-"):
                found = w.split("=", 1)[1]
    return found


_MVN_VALUES = frozenset({"-pl", "--projects", "-f", "--file", "-s", "--settings", "-gs", "--global-settings", "-P",
                         "--activate-profiles", "-T", "--threads", "-rf", "--resume-from", "-l", "--log-file", "-t",
                         "--toolchains", "-D", "--define"})
_GRADLE_VALUES = frozenset({"-x", "--exclude-task", "-p", "--project-dir", "-b", "--build-file", "-c",
                            "--settings-file", "-I", "--init-script", "-g", "--gradle-user-home", "--console",
                            "--max-workers", "-D", "-P", "--project-prop", "--system-prop"})
_MVN_PACKAGING = frozenset({"package", "install", "verify", "deploy", "spring-boot:repackage"})
_GRADLE_JARS = frozenset({"build", "assemble", "bootJar", "jar", "shadowJar"})


def _build_of(command: Command, cwd: str | None, env: dict[str, str], line: int) -> _Build | None:
    """What `command` builds, if it is an artifact build (`cargo build`, `mvn package`, `gradle build`, `go build`)."""
    c = command.unwrapped()
    name, words = c.name, c.words
    if name == "cargo":
        pos = positional_words(words[1:], {"--bin", "--target", "--profile", "--target-dir", "--manifest-path",
                                           "--features", "-F", "-p", "--package", "--root", "--path", "-j", "--jobs"})
        if not pos or pos[0] not in ("build", "b", "install"):
            return None
        if _option(words, "--manifest-path") is not None:
            return _Build("cargo", line, None, None, f"`cargo` at line {line} builds another manifest (`--manifest-path`)")
        if pos[0] == "install":
            root = _option(words, "--root") or env.get("CARGO_INSTALL_ROOT") or env.get("CARGO_HOME")
            home = _join(cwd, root) if root and "$" not in root else None
            bin_dir = f"{home}/bin" if home else None
            why = (f"`cargo install` at line {line} installs a binary named in Cargo.toml, and no CMD or ENTRYPOINT "
                   "names it") if bin_dir else (f"`cargo install` at line {line} installs under CARGO_HOME, which the "
                                                "Dockerfile does not set")
            return _Build("cargo-install", line, None, None if bin_dir is None else re.compile(re.escape(bin_dir) + r"/[^/]+"),
                          why, bin_dir)
        profile = "release" if ("--release" in words or "-r" in words) else "debug"
        named = _option(words, "--profile")
        if named:
            profile = {"dev": "debug", "test": "debug", "bench": "release"}.get(named, named)
        target_dir = _option(words, "--target-dir") or env.get("CARGO_TARGET_DIR") or "target"
        triple = _option(words, "--target")
        base = _join(cwd, target_dir)
        if base is None or "$" in base or (triple and "$" in triple):
            return _Build("cargo", line, None, None, f"`cargo build` at line {line} runs where no WORKDIR says")
        out = f"{base}/{triple}/{profile}" if triple else f"{base}/{profile}"
        binary = _option(words, "--bin")
        flag = "" if profile != "debug" or named else " (a debug build: no --release)"
        return _Build("cargo", line, f"{out}/{binary}" if binary and "$" not in binary else None,
                      re.compile(re.escape(out) + r"/[^/]+"),
                      f"`cargo build` at line {line}{flag} names no binary (`--bin`), and no CMD, ENTRYPOINT or copy "
                      f"names a file in {out}/: the name is in Cargo.toml, which the Dockerfile does not show")
    if name in ("mvn", "mvnw"):
        pos = positional_words(words[1:], _MVN_VALUES)
        if not _MVN_PACKAGING & set(pos):
            return None
        pom = _option(words, "-f", "--file")
        project = _join(cwd, posixpath.dirname(pom) if pom and pom.endswith(".xml") else (pom or "."))
        if project is None:
            return _Build("maven", line, None, None, f"`mvn` at line {line} runs where no WORKDIR says")
        return _Build("maven", line, None, re.compile(re.escape(project) + r"/(?:[^/]+/)*target/[^/]+\.[jw]ar"),
                      f"the jar `mvn` builds at line {line} is named by pom.xml (artifactId and version, or "
                      "finalName), and no CMD, ENTRYPOINT or copy names it")
    if name in ("gradle", "gradlew"):
        pos = positional_words(words[1:], _GRADLE_VALUES)
        if not _GRADLE_JARS & {p.rsplit(":", 1)[-1] for p in pos}:
            return None
        project = _join(cwd, _option(words, "-p", "--project-dir") or ".")
        if project is None:
            return _Build("gradle", line, None, None, f"`gradle` at line {line} runs where no WORKDIR says")
        return _Build("gradle", line, None, re.compile(re.escape(project) + r"/(?:[^/]+/)*build/libs/[^/]+\.[jw]ar"),
                      f"the jar `gradle` builds at line {line} is named by the build script, and no CMD, ENTRYPOINT or "
                      "copy names it")
    if name == "go":
        pos = positional_words(words[1:], {"-o", "-C", "-ldflags", "-gcflags", "-tags", "-mod", "-p", "-pkgdir"})
        if not pos or pos[0] != "build":
            return None
        output = _option(words, "-o")
        if output is None:
            return _Build("go", line, None, None, f"`go build` at line {line} has no `-o`: the binary is named after "
                          "the module or the directory, which the Dockerfile does not show")
        if "$" in output:
            return _Build("go", line, None, None, f"the `-o {output}` of line {line} is decided at build time")
        if output.endswith("/"):
            return _Build("go", line, None, None, f"the `-o {output}` of line {line} is a directory")
        path = _join(cwd, output)
        if path is None:
            return _Build("go", line, None, None, f"the `-o {output}` of line {line} is relative, and no WORKDIR says where")
        return _Build("go", line, path, None, "")
    return None


def _words(ins: Instruction) -> tuple[str, ...]:
    if ins.exec_form is not None:
        return ins.exec_form
    return tuple(w for c in parse_script(ins.arguments).commands for w in c.unwrapped().words)


def _argv0s(ins: Instruction) -> list[str]:
    """The programs a CMD, ENTRYPOINT or HEALTHCHECK starts."""
    text = ins.arguments
    if ins.keyword == "HEALTHCHECK":
        m = re.search(r"(?:^|\s)CMD\s+(.*)$", text, re.S | re.I)
        if not m:
            return []
        text = m.group(1).strip()
        if text.startswith("["):
            return [text.strip("[]").split(",")[0].strip().strip('"')]
    elif ins.exec_form is not None:
        return [ins.exec_form[0]] if ins.exec_form else []
    return [c.unwrapped().words[0] for c in parse_script(text).commands if c.unwrapped().words]


def _calls(ins: Instruction) -> list[Command]:
    return list(parse_script(ins.shell_script).commands) if ins.exec_form is None else []


def _env_of(ins: Instruction, env: dict[str, str]) -> None:
    if ins.keyword in ("ENV", "ARG"):
        for k, v in ins.pairs:
            if v is not None:
                env[k] = v


def plan(d: Dockerfile) -> ArtifactSplit | str | None:
    """The split of the final stage; why it cannot be done safely; None when the stage builds no artifact."""
    stage = d.final_stage
    if stage.base_stage(d.stages) is not None:
        return None
    ref = parse_ref(stage.base_image)
    builds: list[_Build] = []
    cwd: str | None = None
    # what the toolchain images set in their own ENV
    env: dict[str, str] = {"CARGO_HOME": "/usr/local/cargo"} if ref.name == "rust" else {}
    build_lines: set[int] = set()
    for ins in stage.instructions[1:]:
        _env_of(ins, env)
        if ins.keyword == "WORKDIR":
            cwd = _join(cwd or "/", ins.arguments.strip()) if "$" not in ins.arguments else None
        if ins.keyword != "RUN" or ins.exec_form is not None:
            continue
        here = cwd
        for c in _calls(ins):
            u = c.unwrapped()
            if u.name == "cd" and len(u.words) == 2:
                here = _join(here, u.words[1]) if "$" not in u.words[1] else None
            build = _build_of(c, here, env, ins.line)
            if build is not None:
                builds.append(build)
                build_lines.add(ins.line)
    if not builds:
        return None
    installs = tool_installs(stage)
    if not _toolchain_image(ref) and not installs:
        return None  # the toolchain came from elsewhere (a download): nothing this split knows to take out
    tools = {b.tool for b in builds}
    tool = builds[-1].tool.removesuffix("-install")
    if len({t.removesuffix("-install") for t in tools}) > 1:
        return f"the stage builds with {' and '.join(sorted(tools))}: one runtime base cannot be chosen for both"
    entry = [i for i in stage.instructions if i.keyword in ("CMD", "ENTRYPOINT", "HEALTHCHECK")]
    for ins in entry:
        for argv0 in _argv0s(ins):
            if argv0.rsplit("/", 1)[-1] in _TOOLCHAIN_COMMANDS:
                return f"{ins.keyword} runs `{argv0}`, which needs the toolchain at run time"
    found = _artifacts(stage, builds, build_lines)
    if isinstance(found, str):
        return found
    artifacts, post_lines = found
    runtime = _runtime(stage, ref, tool, installs, env)
    if isinstance(runtime, str):
        return runtime
    placement = _place(stage, build_lines | post_lines, runtime, changed=runtime.image != stage.base_image_raw)
    if isinstance(placement, str):
        return placement
    replacements = _replacements(ref, tool, installs)
    blocker = _unlinked(tool, installs, replacements, env, stage, runtime)
    if blocker:
        return blocker
    runtime_commands = _BASE_COMMANDS | {posixpath.basename(a[1]) for a in artifacts} | (
        {"java"} if tool in ("maven", "gradle") else set())
    if runtime.image != stage.base_image_raw:
        for ins in entry:
            for argv0 in _argv0s(ins):
                if not runtime.shell and ins.keyword == "HEALTHCHECK":
                    return f"the HEALTHCHECK needs a shell, and {runtime.image} has none"
                if runtime.shell and "/" not in argv0 and argv0 not in runtime_commands and not _installed(argv0, stage):
                    return f"{ins.keyword} runs `{argv0}`, which {runtime.image} does not have"
    if not runtime.shell:
        for ins in entry:
            if ins.keyword != "HEALTHCHECK" and ins.exec_form is None and has_shell_features(ins.arguments):
                return f"the {ins.keyword} needs a shell (`{ins.arguments}`), and {runtime.image} has none"
    artifacts = _on_path(artifacts, entry)
    names = {s.name for s in d.stages if s.name}
    builder = next(n for n in ("build", "builder", "artifact-build") if n not in names)
    notes = [f"build-tools-in-final-stage: split into a `{builder}` stage on {stage.base_image_raw} that runs the "
             f"{tool} build and a final stage on {runtime.image} ({runtime.why}); only "
             f"{', '.join(dst for _, dst in artifacts)} ships from the build"]
    dropped = sorted({package_name(p) for t in installs for p in t.dropped})
    if dropped:
        notes.append(f"build-tools-in-final-stage: {', '.join(dropped)} only "
                     + ("installs" if len(dropped) == 1 else "install") + " in the builder now"
                     + "".join(f"; {a} is replaced by {b} in the final stage" for a, b in replacements))
    inputs = [i for i, p in placement if p is Place.BUILDER and i.keyword in ("COPY", "ADD")]
    if inputs:
        where = ("line " if len(inputs) == 1 else "lines ") + ", ".join(str(i.line) for i in inputs)
        notes.append(f"build-tools-in-final-stage: the files COPY'd before the build ({where}) stay in the builder; "
                     "if the program reads one at run time, COPY it into the final stage too")
    return ArtifactSplit(stage, tool, artifacts, runtime, tuple(placement), tuple(installs), replacements, builder,
                         tuple(notes))


def _artifacts(stage: Stage, builds: list[_Build], build_lines: set[int]
               ) -> tuple[tuple[tuple[str, str], ...], set[int]] | str:
    """(builder path, final path) of each artifact, and the RUNs after the build that only move it."""
    current: dict[int, str | None] = {i: b.exact for i, b in enumerate(builds)}
    post: set[int] = set()
    cwd: str | None = None
    last_build = max(build_lines)
    for ins in stage.instructions[1:]:
        if ins.keyword == "WORKDIR":
            cwd = _join(cwd or "/", ins.arguments.strip()) if "$" not in ins.arguments else None
        if ins.keyword in ("CMD", "ENTRYPOINT"):
            for word in _words(ins):
                path = _join(cwd, word) if ("/" in word or word.endswith((".jar", ".war"))) else None
                for i, b in enumerate(builds):
                    if path and current[i] is None and b.output is not None and b.output.fullmatch(path):
                        current[i] = path
                    elif current[i] is None and b.bin_dir and "/" not in word and word in _argv0s(ins):
                        current[i] = f"{b.bin_dir}/{word}"  # a bare name: `cargo install` put it in its bin directory
        if ins.keyword != "RUN" or ins.exec_form is not None or ins.line < min(build_lines):
            continue
        calls = _calls(ins)
        if ins.line > last_build and not all(c.unwrapped().name in _FILE_OPS for c in calls):
            continue
        here = cwd
        moved = False
        started = ins.line not in build_lines
        for c in calls:
            u = c.unwrapped()
            if u.name == "cd" and len(u.words) == 2:
                here = _join(here, u.words[1]) if "$" not in u.words[1] else None
                continue
            if not started:
                started = any(b.line == ins.line for b in builds) and _build_of(c, here, {}, ins.line) is not None
                continue
            if u.name not in ("cp", "mv", "install"):
                continue
            args = [w for w in u.words[1:] if not w.startswith("-")]
            if u.name == "install":
                args = positional_words(u.words[1:], {"-m", "--mode", "-o", "--owner", "-g", "--group", "-t"})
            if len(args) < 2:
                continue
            *sources, dest = args
            dest_path = _join(here, dest)
            for src in sources:
                src_path = _join(here, src)
                if src_path is None or dest_path is None:
                    continue
                for i, b in enumerate(builds):
                    matches = (current[i] is not None and (fnmatch.fnmatch(current[i] or "", src_path) or
                                                           fnmatch.fnmatch(src_path, current[i] or ""))) or (
                        current[i] is None and b.output is not None and b.output.fullmatch(src_path.replace("*", "x")))
                    if matches:
                        into_dir = dest.endswith("/") or dest in (".", "./") or dest_path in _STANDARD_PATH or len(sources) > 1
                        current[i] = f"{dest_path.rstrip('/')}/{posixpath.basename(src_path)}" if into_dir else dest_path
                        moved = True
        if ins.line > last_build and moved:
            post.add(ins.line)
    missing = [b for i, b in enumerate(builds) if current[i] is None]
    if missing:
        return missing[0].unnamed
    unique = sorted({p for p in current.values() if p is not None})
    return tuple((p, p) for p in unique), post


def _on_path(artifacts: tuple[tuple[str, str], ...], entry: list[Instruction]) -> tuple[tuple[str, str], ...]:
    """A binary the CMD starts by its bare name, from a directory only the toolchain image puts on PATH
    (`/usr/local/cargo/bin`, `/go/bin`), moves to /usr/local/bin, where every runtime base looks."""
    bare = {a for ins in entry for a in _argv0s(ins) if "/" not in a}
    out = []
    for src, dst in artifacts:
        name = posixpath.basename(dst)
        if name in bare and posixpath.dirname(dst) not in _STANDARD_PATH:
            dst = f"/usr/local/bin/{name}"
        out.append((src, dst))
    return tuple(out)


def _installed(command: str, stage: Stage) -> bool:
    """Whether a package of that name is installed in the stage (and so kept in the final stage)."""
    for ins in stage.shell_runs():
        for c in _calls(ins):
            call = classify(c)
            if call is not None and call.manager in _SYSTEM_MANAGERS and call.action in ("install", "add") and any(
                    package_name(p) == command for p in call.packages):
                return True
    return False


def _toolchain_image(ref: ImageRef) -> bool:
    if ref.name in ("golang", "rust", "maven", "gradle"):
        return True
    return jdk_image(ref)


def jdk_image(ref: ImageRef) -> bool:
    """An image whose Java is a full JDK: eclipse-temurin's `-jdk` tags, openjdk, amazoncorretto."""
    tag = ref.tag or ""
    return (ref.name in ("eclipse-temurin", "sapmachine") and "jdk" in tag) or ref.name in ("openjdk", "amazoncorretto")


def java_build_on_jdk(stage: Stage) -> bool:
    """Whether the stage runs a Java build on a JDK image: then the JDK is its build toolchain."""
    if not jdk_image(parse_ref(stage.base_image)):
        return False
    return any(c.unwrapped().name in ("mvn", "mvnw", "gradle", "gradlew", "javac")
               for ins in stage.shell_runs() for c in _calls(ins))


def _release(ref: ImageRef) -> str | None:
    """The Debian or Ubuntu codename of a distribution image or a tag that names one."""
    tag = ref.tag or ""
    for codename in set(_CODENAMES.values()):
        if re.search(rf"(^|-){codename}(-|$)", tag):
            return codename
    if ref.name in ("debian", "ubuntu"):
        m = re.match(r"(\d+(?:\.\d+)?)", tag)
        if m:
            return _CODENAMES.get(m.group(1)) or _CODENAMES.get(m.group(1).split(".")[0])
    return None


def _runtime(stage: Stage, ref: ImageRef, tool: str, installs: list[ToolInstall], env: dict[str, str]) -> Runtime | str:
    tag = ref.tag or ""
    if "$" in stage.base_image_raw and _toolchain_image(ref):
        return f"{stage.base_image_raw} is set at build time, so its runtime image cannot be named"
    if not _toolchain_image(ref):
        return Runtime(stage.base_image_raw, "the same base without the toolchain packages", True)
    alpine = re.search(r"alpine(\d+\.\d+(?:\.\d+)?)?", tag)
    if ref.name == "golang":
        if _cgo_off(stage, env):
            return Runtime("gcr.io/distroless/static-debian12:nonroot",
                           "CGO_ENABLED=0 builds a static binary: CA certificates and tzdata, no libc, no shell; pin "
                           "it by digest", False)
        if alpine:
            if not alpine.group(1):
                return f"{stage.base_image_raw} names no Alpine release for the runtime stage"
            return Runtime(f"alpine:{alpine.group(1)}", "the Alpine release the golang image is built on (a cgo "
                           "binary loads its musl)", True)
        codename = _release(ref) or "bookworm"
        image = f"gcr.io/distroless/{_DISTROLESS_GLIBC.get(codename, 'base-debian12')}:nonroot"
        assumed = "" if _release(ref) else f"; {stage.base_image_raw} names no Debian release, bookworm assumed"
        return Runtime(image, f"glibc, CA certificates and tzdata for a cgo binary, no shell; pin it by digest{assumed}",
                       False)
    if ref.name == "rust":
        if alpine:
            if not alpine.group(1):
                return f"{stage.base_image_raw} names no Alpine release for the runtime stage"
            return Runtime(f"alpine:{alpine.group(1)}", "the Alpine release the rust image is built on", True)
        release = _release(ref)
        codename = release or "bookworm"
        image = f"debian:{codename}-slim"
        slim = "slim" in tag
        added = ("ca-certificates",) if slim else ("ca-certificates", _RELEASE_LIBRARY["libssl-dev"][codename])
        why = (f"the Debian release the rust image is built on; {', '.join(added)} installed there, as the rust image "
               "carried " + ("it" if len(added) == 1 else "them") + (" (drop libssl if the binary uses rustls)" if not slim else ""))
        if release is None:
            why += f"; {stage.base_image_raw} names no Debian release, bookworm assumed (use the trixie one if the tag is)"
        return Runtime(image, why, True, added)
    if tool not in ("maven", "gradle"):
        return f"no runtime image is known for a {tool} build on {stage.base_image_raw}"
    jre = _jre_image(ref)
    if jre is None:
        return f"{stage.base_image_raw} does not name its JDK version, so the JRE to run the jar on cannot be chosen"
    return Runtime(jre, "the JRE of the same Java version: the jar needs no compiler", True)


def _jre_image(ref: ImageRef) -> str | None:
    tag = ref.tag or ""
    os_suffix = ""
    m = re.search(r"-(alpine|noble|jammy|focal|ubi9-minimal|ubi\d*)$", tag)
    if m:
        os_suffix = f"-{m.group(1)}"
    if ref.name == "eclipse-temurin":
        return ref.with_tag(tag.replace("jdk", "jre", 1))
    if ref.name == "maven":
        v = re.search(r"-(?:eclipse-temurin|openjdk|amazoncorretto|sapmachine|ibm-semeru)-(\d+)", tag)
    elif ref.name == "gradle":
        v = re.search(r"(?:^|-)jdk(\d+)", tag)
    else:  # openjdk, amazoncorretto: the JRE of Eclipse Temurin, the successor of the openjdk images
        v = re.match(r"(\d+)", tag)
    return f"eclipse-temurin:{v.group(1)}-jre{os_suffix}" if v else None


def _cgo_off(stage: Stage, env: dict[str, str]) -> bool:
    if env.get("CGO_ENABLED") == "0":
        return True
    return any(_CGO_OFF.search(ins.shell_script) for ins in stage.shell_runs())


def _replacements(ref: ImageRef, tool: str, installs: list[ToolInstall]) -> tuple[tuple[str, str], ...]:
    """Toolchain packages whose runtime half the final stage needs: a JDK's JRE for a jar, a -dev
    package's library for a binary (`libssl-dev` -> `libssl3` on bookworm)."""
    out: dict[str, str] = {}
    release = _release(ref)
    for t in installs:
        for p in t.dropped:
            name = package_name(p)
            if tool in ("maven", "gradle"):
                jre = _jre_package(name)
                if jre:
                    out[name] = jre
                continue
            if name in RUNTIME_LIBRARY:
                out[name] = RUNTIME_LIBRARY[name]
            elif name in _RELEASE_LIBRARY and release in _RELEASE_LIBRARY[name]:
                out[name] = _RELEASE_LIBRARY[name][release]
    return tuple(sorted(out.items()))


def _jre_package(name: str) -> str | None:
    for pattern, jre in ((r"openjdk-(\d+)-jdk(-headless)?", r"openjdk-\1-jre-headless"),
                         (r"default-jdk(-headless)?", "default-jre-headless"),
                         (r"openjdk(\d+)(-jdk)?", r"openjdk\1-jre-headless"),
                         (r"java-(\d+|[\d.]+)-openjdk-devel", r"java-\1-openjdk-headless")):
        if re.fullmatch(pattern, name):
            return re.sub(pattern, jre, name)
    return None


def _unlinked(tool: str, installs: list[ToolInstall], replacements: tuple[tuple[str, str], ...],
              env: dict[str, str], stage: Stage, runtime: Runtime) -> str | None:
    """Why a native binary could not start on the runtime base: it may link a -dev package's library
    that the runtime base cannot install (distroless), or whose runtime package the split cannot name."""
    if tool in ("maven", "gradle") or (tool == "go" and _cgo_off(stage, env)):
        return None
    mapped = {} if not runtime.shell else dict(replacements)
    unknown = sorted({package_name(p) for t in installs for p in t.dropped
                      if re.search(r"-dev(el)?$", package_name(p)) and package_name(p) not in _NO_RUNTIME_LIBRARY
                      and package_name(p) not in mapped and not package_name(p).startswith("python")})
    if not unknown:
        return None
    with_cgo = " with cgo" if tool == "go" else ""
    if not runtime.shell:
        return (f"the {tool} build may link {', '.join(unknown[:4])}{with_cgo}, and {runtime.image} lacks those "
                "libraries; build with CGO_ENABLED=0, or ship on a slim image that installs their runtime packages")
    return (f"the {tool} build may link {', '.join(unknown[:4])}{with_cgo}, whose runtime package is not known here: "
            "install it in the final stage by hand" + (", or build with CGO_ENABLED=0" if tool == "go" else ""))


def _place(stage: Stage, build_lines: set[int], runtime: Runtime, *, changed: bool) -> list[tuple[Instruction, Place]] | str:
    """Where each instruction of the stage goes."""
    last_build = max(build_lines)
    out: list[tuple[Instruction, Place]] = []
    created: set[str] = set()
    for ins in stage.instructions[1:]:
        kw = ins.keyword
        if ins.line in build_lines:
            out.append((ins, Place.ARTIFACT))
        elif kw in ("ARG", "ENV", "WORKDIR"):
            out.append((ins, Place.BOTH))
        elif kw == "SHELL":
            if not runtime.shell:
                return f"line {ins.line} sets a SHELL, and {runtime.image} has no shell"
            out.append((ins, Place.BOTH))
        elif kw == "USER":
            user = ins.arguments.split(":", 1)[0].strip()
            numeric = user.isdigit()
            if not numeric and not runtime.shell:
                out.append((ins, Place.BUILDER if ins.line < last_build else Place.DROP))
            elif not numeric and changed and user not in created and user != "root":
                out.append((ins, Place.BUILDER if ins.line < last_build else Place.DROP))
            else:
                out.append((ins, Place.BOTH if ins.line < last_build else Place.FINAL))
        elif kw in ("COPY", "ADD"):
            out.append((ins, Place.BUILDER if ins.line < last_build else Place.FINAL))
        elif kw == "ONBUILD":
            return f"line {ins.line} is an ONBUILD trigger, which the split cannot place"
        elif kw != "RUN":
            out.append((ins, Place.FINAL))
        elif ins.exec_form is not None or ins.heredocs:
            return f"line {ins.line} is an exec-form or heredoc RUN, which the split cannot read"
        else:
            calls = _calls(ins)
            names = {c.unwrapped().name for c in calls}
            managed = [classify(c) for c in calls]
            if any(m is not None and m.manager in _SYSTEM_MANAGERS for m in managed) and all(
                    (m is not None and m.manager in _SYSTEM_MANAGERS) or c.unwrapped().name in _SETUP | _PACKAGE_COMPANIONS
                    for c, m in zip(calls, managed)):
                if not runtime.shell:
                    packages = [p for m in managed if m is not None and m.action in ("install", "add")
                                for p in m.packages if not is_build_tool(package_name(p))
                                and package_name(p) not in _DISTROLESS_HAS]
                    if packages:
                        return f"line {ins.line} installs {', '.join(packages[:4])}, and {runtime.image} has no package manager"
                    out.append((ins, Place.DROP))
                else:
                    out.append((ins, Place.TOOLS))
            elif names & _TOOLCHAIN_COMMANDS or any(m is not None and m.manager in ("cargo", "mvn", "gradle", "go")
                                                    for m in managed):
                out.append((ins, Place.BUILDER))
            elif ins.line > last_build and names <= _FILE_OPS:
                out.append((ins, Place.BUILDER))  # moves the artifact (tracked), or tidies the builder
            elif names <= _SETUP:
                if names & _USER_SETUP:
                    created |= _created_users(calls)
                if not runtime.shell:
                    if names <= _USER_SETUP:
                        out.append((ins, Place.DROP))
                        continue
                    return f"line {ins.line} runs `{sorted(names - _USER_SETUP)[0]}`, and {runtime.image} has no shell"
                out.append((ins, Place.BOTH if ins.line < last_build else Place.FINAL))
            else:
                unknown = sorted(names - _SETUP - _FILE_OPS - {"cd"}) or sorted(names)
                return (f"line {ins.line} runs `{unknown[0]}`: whether the final stage needs what it makes cannot be "
                        "told")
    return out


def _created_users(calls: list[Command]) -> set[str]:
    out = set()
    for c in calls:
        u = c.unwrapped()
        if u.name in _USER_SETUP and len(u.words) > 1 and not u.words[-1].startswith("-"):
            out.add(u.words[-1])
    return out


def rewrite(d: Dockerfile, split: ArtifactSplit) -> str:
    """The Dockerfile with the final stage split in two: the builder where it stood, the final stage after it."""
    lines = d.text.split("\n")
    stage = split.stage
    runtime = split.runtime
    from_ins = stage.from_instruction
    m = re.match(r"^\s*FROM\s+(?:--\S+\s+)*", from_ins.original.split("\n")[0], re.I)
    head = m.group(0) if m else "FROM "
    builder = [f"{head}{stage.base_image_raw} AS {split.builder_name}"]
    final = ["", f"{head}{runtime.image}" + (f" AS {stage.name}" if stage.name else "")]
    final += _install_runtime(split)
    last_build = max(ins.line for ins, p in split.placement
                     if p is Place.ARTIFACT or (p is Place.BUILDER and ins.keyword == "RUN"))
    tools = {t.instruction.line: t for t in split.tool_installs}
    runtime_of = dict(split.replacements)
    prev_end = from_ins.end_line
    for ins, place in split.placement:
        gap = lines[prev_end : ins.line - 1]  # comments and blank lines go with the instruction below them
        prev_end = ins.end_line
        body = ins.original.split("\n")
        if ins.line <= last_build and place is not Place.FINAL:
            builder += gap + body
        if place is Place.TOOLS:
            kept = without_tools(body, tools[ins.line], runtime=runtime_of) if ins.line in tools else body
            final += gap + kept if kept else []
        elif place is Place.BOTH or place is Place.FINAL:
            final += gap + (_exec_form(ins) if not runtime.shell and ins.keyword in ("CMD", "ENTRYPOINT") else body)
        if ins.line == last_build:
            final += [f"COPY --from={split.builder_name} {src} {dst if '*' not in src else posixpath.dirname(dst) + '/'}"
                      for src, dst in split.artifacts]
    out = lines[: from_ins.line - 1] + builder + final + lines[prev_end:]
    return "\n".join(out)


def _exec_form(ins: Instruction) -> list[str]:
    if ins.exec_form is not None:
        return ins.original.split("\n")
    words = [w for c in parse_script(ins.arguments).commands for w in c.words]
    return [f"{ins.keyword} {json.dumps(words)}"]


def _install_runtime(split: ArtifactSplit) -> list[str]:
    """The packages the toolchain image carried that the binary may load, on a runtime image that lacks them."""
    installed = {package_name(p) for ins, place in split.placement if place is Place.TOOLS
                 for c in _calls(ins) if (call := classify(c)) is not None for p in call.packages}
    missing = [p for p in split.runtime.added if p not in installed]
    if not missing:
        return []
    if split.runtime.image.startswith("alpine"):
        return [f"RUN apk add --no-cache {' '.join(missing)}"]
    return [f"RUN apt-get update && apt-get install -y --no-install-recommends {' '.join(missing)} \\",
            "    && rm -rf /var/lib/apt/lists/*"]
