"""Build tools in the final image, and the multi-stage splits that take them out: Python wheels on any base
(`bot.dockerfile.split`), compiled artifacts of cargo, maven, gradle and go (`bot.dockerfile.artifact`), Node's
native modules."""

from __future__ import annotations


from bot.dockerfile import artifact, split
from bot.dockerfile.artifact import ArtifactSplit
from bot.dockerfile.images import ci_agent_image, cuda_runtime_variant, parse_ref, slim_variant, toolchain_image
from bot.dockerfile.packages import classify, is_build_tool
from bot.dockerfile.parser import Dockerfile, Instruction, Stage
from bot.dockerfile.rules.edits import Fixer, Work, by_rule, indent_of, lines_of, split_head
from bot.dockerfile.rules.state import Check, State
from bot.dockerfile.shell import parse_script


def _check_build_tools(st: State) -> None:
    d = st.dockerfile
    artifact_plan: ArtifactSplit | str | None = None
    planned = False
    agent = ci_agent_image(parse_ref(d.chain(d.final_stage)[0].base_image))  # the shipped stages share one root
    for idx in sorted(st.shipped):
        stage = d.stages[idx]
        if agent:
            break  # a CI agent ships build tools on purpose: the builds run on it
        splittable: bool | None = None  # whether `coroner fix` can split the stage: decided once, if asked
        why_not: str | None = None
        if not planned:  # the artifact split is decided once, for the final stage, when some finding asks
            artifact_plan, planned = artifact.plan(d), True
        if stage.base_stage(d.stages) is None:
            ref = parse_ref(stage.base_image)
            if toolchain_image(ref) or artifact.java_build_on_jdk(stage):
                # a CUDA devel base moves to its runtime twin when the Python split applies
                cuda_split = cuda_runtime_variant(ref) is not None and stage is d.final_stage and not isinstance(
                    split.plan(d), str)
                built = isinstance(artifact_plan, ArtifactSplit) and stage is d.final_stage
                st.add("build-tools-in-final-stage", stage.from_instruction,
                       f"{stage.base_image} is a toolchain image, and it ships",
                       fixable=built or cuda_split, image=stage.base_image,
                       **({"why_not": artifact_plan} if isinstance(artifact_plan, str) and stage is d.final_stage else {}),
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
                    splittable, why_not = _splittable(d, stage, artifact_plan)
                st.add("build-tools-in-final-stage", ins,
                       f"Build tools ship in the final image: {', '.join(tools[:6])}{' …' if len(tools) > 6 else ''}",
                       fixable=splittable, why_not=why_not,
                       packages=tools,
                       remediation="Install them in a builder stage and copy only the artifacts into the final stage.")


def _splittable(d: Dockerfile, stage: Stage, artifact_plan: ArtifactSplit | str | None) -> tuple[bool, str | None]:
    """Whether `coroner fix` splits the stage whose RUN installs build tools, and if not, why."""
    if stage is d.final_stage and artifact_plan is not None:  # a compiled artifact: its split, or its reason
        return (True, None) if isinstance(artifact_plan, ArtifactSplit) else (False, artifact_plan)
    if npm_pattern(d) is not None:
        return True, None
    wheels = split.plan(d) if stage is d.final_stage else "a stage the final one builds on"
    return (False, wheels) if isinstance(wheels, str) else (True, None)


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


def _fix_artifact_split(w: Work) -> str | None:
    """A compiled artifact (cargo, maven, gradle, go) built in the final stage: build it in a builder stage,
    ship it alone on a runtime base."""
    if not by_rule(w.findings(), "build-tools-in-final-stage"):
        return None
    d = w.parsed()
    found = artifact.plan(d)
    if not isinstance(found, ArtifactSplit):
        return None  # the rule said it is not fixable, with this reason; _notes reports it
    w.notes += list(found.notes)
    w.dropped += found.dropped
    return artifact.rewrite(d, found)


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


CHECKS: tuple[Check, ...] = (_check_build_tools,)
FIXERS: tuple[Fixer, ...] = (_fix_multistage, _fix_artifact_split, _fix_npm_multistage)
# Why `coroner fix` leaves a finding of these rules alone (said in its notes).
WHY_LEFT: dict[str, str] = {
    "build-tools-in-final-stage": "no multi-stage split is known for this stage",
}
