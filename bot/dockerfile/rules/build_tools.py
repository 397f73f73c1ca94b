"""Build tools in the final image, and the multi-stage splits that take them out: Python wheels on any base
(`bot.dockerfile.split`), Go onto distroless, Node's native modules."""

from __future__ import annotations

import re

from bot.dockerfile import split
from bot.dockerfile.images import cuda_runtime_variant, parse_ref, slim_variant, toolchain_image
from bot.dockerfile.packages import classify, is_build_tool
from bot.dockerfile.parser import Dockerfile, Instruction
from bot.dockerfile.rules.edits import Fixer, Work, by_rule, indent_of, lines_of, split_head
from bot.dockerfile.rules.state import Check, State, has_shell_features
from bot.dockerfile.shell import parse_script


def _check_build_tools(st: State) -> None:
    d = st.dockerfile
    for idx in sorted(st.shipped):
        stage = d.stages[idx]
        splittable: bool | None = None  # whether `coroner fix` can split the stage: decided once, if asked
        why_not: str | None = None
        if stage.base_stage(d.stages) is None:
            ref = parse_ref(stage.base_image)
            if toolchain_image(ref):
                # a CUDA devel base moves to its runtime twin when the Python split applies
                cuda_split = cuda_runtime_variant(ref) is not None and stage is d.final_stage and not isinstance(
                    split.plan(d), str)
                st.add("build-tools-in-final-stage", stage.from_instruction,
                       f"{stage.base_image} is a toolchain image, and it ships",
                       fixable=go_build_output(d) is not None or cuda_split, image=stage.base_image,
                       **({"why_not": cgo_blocker} if (cgo_blocker := _cgo_blocker(d)) else {}),
                       remediation="Build in this image, then COPY --from the artifact into a runtime image.")
        for ins in stage.shell_runs():
            calls = st.calls(ins)
            removed = {p for c in calls if c.action in ("purge", "remove", "del", "autoremove") for p in c.packages}
            virtual = _apk_virtual_removed(st, ins)
            auto_removed = any(c.action in ("purge", "autoremove") and c.has_option("--auto-remove", "--autoremove") for c in calls)
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
                    wheels = split.plan(d) if stage is d.final_stage else "a stage the final one builds on"
                    why_not = wheels if isinstance(wheels, str) else None
                    splittable = go_build_output(d) is not None or npm_pattern(d) is not None or why_not is None
                    if splittable:
                        why_not = None
                    elif _cgo_blocker(d):
                        why_not = _cgo_blocker(d)
                st.add("build-tools-in-final-stage", ins,
                       f"Build tools ship in the final image: {', '.join(tools[:6])}{' …' if len(tools) > 6 else ''}",
                       fixable=splittable, why_not=why_not,
                       packages=tools,
                       remediation="Install them in a builder stage and copy only the artifacts into the final stage.")


GO_RUNTIME_IMAGE = "gcr.io/distroless/base-debian12:nonroot"  # glibc, CA certificates, tzdata; no shell


def _cgo_blocker(d: Dockerfile) -> str | None:
    """Why a single-stage Go build on a golang image cannot move onto the distroless runtime, or None."""
    if len(d.stages) != 1 or parse_ref(d.stages[0].base_image).name != "golang":
        return None
    libraries = cgo_libraries(d)
    if not libraries:
        return None
    return (f"the Go build may link {', '.join(libraries[:4])} with cgo, and {GO_RUNTIME_IMAGE} lacks those "
            "libraries; build with CGO_ENABLED=0, or ship on a slim image that installs their runtime packages")




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
        if ins.keyword in ("CMD", "ENTRYPOINT") and ins.exec_form is None and has_shell_features(ins.arguments):
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
    if cgo_libraries(dockerfile):
        return None
    return output


# -dev packages that add no shared library a cgo binary would need at run time beyond glibc
_NO_RUNTIME_LIBRARY = frozenset({"libc6-dev", "libc-dev", "linux-libc-dev", "linux-headers", "musl-dev"})
_CGO_OFF = re.compile(r"\bCGO_ENABLED=[\"']?0\b")


def cgo_libraries(dockerfile: Dockerfile) -> list[str]:
    """The -dev packages a single-stage Go build may link with cgo (on by default where gcc is, as in the
    golang images): their shared libraries are not in the distroless runtime, so the binary would not
    start there. Empty when CGO_ENABLED=0 is set for the build."""
    stage = dockerfile.stages[0]
    libraries: list[str] = []
    for ins in stage.instructions:
        if ins.keyword in ("ENV", "ARG") and any(k == "CGO_ENABLED" and v == "0" for k, v in ins.pairs):
            return []
        if ins.keyword != "RUN" or ins.exec_form is not None:
            continue
        if _CGO_OFF.search(ins.shell_script):
            return []
        for c in parse_script(ins.shell_script).commands:
            call = classify(c)
            if call is not None and call.action in ("install", "add"):
                libraries += [p.split("=", 1)[0] for p in call.packages
                              if re.search(r"-dev(el)?(=|$)", p) and p.split("=", 1)[0] not in _NO_RUNTIME_LIBRARY]
    return libraries


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


def _apk_virtual_removed(st: State, ins: Instruction) -> bool:
    words = [w for c in st.script(ins).commands for w in c.unwrapped().words]
    if "--virtual" not in words and not any(w.startswith("--virtual=") or w == "-t" for w in words):
        return False
    return any(c.unwrapped().name == "apk" and "del" in c.unwrapped().words for c in st.script(ins).commands)


def _fix_multistage(w: Work) -> str | None:
    """Python with build tools in the final stage, on any base: build wheels in a builder stage."""
    if not [f for f in by_rule(w.findings(), "build-tools-in-final-stage") if f.evidence.get("instruction") == "RUN"
            or cuda_runtime_variant(parse_ref(str(f.evidence.get("image", ""))))]:
        return None
    d = w.parsed()
    found = split.plan(d)
    if isinstance(found, str):
        return None  # the rule said it is not fixable, with this reason; _notes reports it
    w.notes += split.notes(found)
    w.dropped += found.dropped
    return split.rewrite(d, found)


def _fix_npm_multistage(w: Work) -> str | None:
    """Single-stage Node image that compiles native modules: build node_modules in a builder stage."""
    d = w.parsed()
    if not [f for f in w.findings() if f.rule == "build-tools-in-final-stage" and f.evidence.get("instruction") == "RUN"]:
        return None
    found = npm_pattern(d)
    if found is None:
        return None
    npm_run, workdir = found
    stage = d.stages[0]
    tools = {t.instruction.line: t for t in split.tool_installs(stage, skip=npm_run)}
    if not tools:
        return None
    slim = slim_variant(parse_ref(stage.base_image)) or stage.base_image_raw
    lines = lines_of(d.text)
    from_ins = stage.from_instruction
    out: list[str] = lines[: from_ins.line - 1] + [f"{split_head(from_ins)[0]}{stage.base_image_raw} AS builder"]
    for ins in stage.instructions[1:]:
        if ins is npm_run:
            break
        if ins.line in tools or ins.keyword in ("ARG", "ENV", "WORKDIR", "SHELL"):
            out += ins.original.split("\n")
    out += ["COPY package.json package-lock.json* ./", *npm_run.original.split("\n"), ""]
    out.append(f"{split_head(from_ins)[0]}{slim}" + (f" AS {stage.name}" if stage.name else ""))
    prev_end = from_ins.end_line
    for ins in stage.instructions[1:]:
        out += lines[prev_end : ins.line - 1]
        prev_end = ins.end_line
        if ins.line in tools:
            out += split.without_tools(ins.original.split("\n"), tools[ins.line])
            continue
        if ins is npm_run:
            out.append(f"{indent_of(ins)}COPY --from=builder {workdir.rstrip('/')}/node_modules ./node_modules")
            continue
        out += ins.original.split("\n")
    out += lines[prev_end:]
    dropped = sorted({split.package_name(p) for t in tools.values() for p in t.dropped})
    w.notes.append(
        "build-tools-in-final-stage: split into a `builder` stage that compiles node_modules and a final stage "
        f"on {slim}; {', '.join(dropped)} no longer " + ("ships" if len(dropped) == 1 else "ship")
    )
    w.dropped += dropped
    return "\n".join(out)


def _fix_go_multistage(w: Work) -> str | None:
    """Single-stage Go image: build in the golang image, ship only the binary on a distroless runtime."""
    d = w.parsed()
    if not [f for f in w.findings() if f.rule == "build-tools-in-final-stage"]:
        return None
    output = go_build_output(d)
    if output is None:
        return None
    stage = d.stages[0]
    lines = lines_of(d.text)
    from_ins = stage.from_instruction
    out: list[str] = lines[: from_ins.line - 1]
    out.append(f"{split_head(from_ins)[0]}{stage.base_image_raw} AS builder")
    final: list[str] = []
    envs: list[str] = []
    prev_end = from_ins.end_line
    for ins in stage.instructions[1:]:
        gap = lines[prev_end : ins.line - 1]
        prev_end = ins.end_line
        body = ins.original.split("\n")
        if ins.keyword in split.FINAL_ONLY:
            if ins.keyword == "USER":
                w.notes.append(f"build-tools-in-final-stage: USER {ins.arguments} dropped; the runtime image runs as nonroot (65532)")
                continue
            final += gap + body
            continue
        if ins.keyword in ("ENV", "WORKDIR"):
            envs += body  # the program may read them at run time (relative CMD, $PORT): keep them in both stages
        out += gap + body
    out += lines[prev_end:]
    while out and not out[-1].strip():
        out.pop()
    out += ["", f"FROM {GO_RUNTIME_IMAGE}", *envs, f"COPY --from=builder {output} {output}", *final]
    w.notes.append(
        f"build-tools-in-final-stage: split into a golang `builder` stage and {GO_RUNTIME_IMAGE} (glibc, CA "
        "certificates, tzdata, no shell); only the binary ships. Pin that image by digest."
    )
    return "\n".join(out) + "\n"


CHECKS: tuple[Check, ...] = (_check_build_tools,)
FIXERS: tuple[Fixer, ...] = (_fix_multistage, _fix_go_multistage, _fix_npm_multistage)
# Why `coroner fix` leaves a finding of these rules alone (said in its notes).
WHY_LEFT: dict[str, str] = {
    "build-tools-in-final-stage": "no multi-stage split is known for this stage",
}
