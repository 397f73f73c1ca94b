"""History entry <-> Dockerfile instruction.

With a Dockerfile, the final stage's instructions are aligned with the end of the history (the
history's beginning is the base image). Without one, each history entry is turned back into an
approximate instruction, and the result is labelled as reconstructed.

The parser is `bot.dockerfile.parser.parse` when that package is present; this module needs only
`.instructions[*].keyword/.line/.original`, and falls back to a small line parser otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.images.model import HistoryEntry
from bot.images.secrets import redact

RECONSTRUCTED_HEADER = (
    "# RECONSTRUCTED by Coroner from the image history: approximate, not the original Dockerfile.\n"
    "# COPY sources and the base image are not recorded in the history.\n"
)


class InstructionLike(Protocol):
    keyword: str
    line: int
    original: str


@dataclass(frozen=True)
class SimpleInstruction:
    keyword: str
    line: int
    end_line: int
    original: str


@dataclass(frozen=True)
class Mapping:
    """For one history entry: the instruction that made it, and where it is written."""

    instruction: str
    line: int | None
    keyword: str
    from_dockerfile: bool


def _fallback_parse(text: str) -> list[SimpleInstruction]:
    instructions: list[SimpleInstruction] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        parts = [lines[i].rstrip()]
        while parts[-1].endswith("\\") and i + 1 < len(lines):
            i += 1
            if lines[i].strip().startswith("#"):
                continue
            parts.append(lines[i].rstrip())
        original = "\n".join(parts).strip()
        instructions.append(
            SimpleInstruction(keyword=original.split(None, 1)[0].upper(), line=start + 1, end_line=i + 1, original=original)
        )
        i += 1
    return instructions


def parse_instructions(text: str, path: str = "Dockerfile") -> list[InstructionLike]:
    try:
        from bot.dockerfile.parser import parse  # type: ignore[import-not-found]
    except ImportError:
        return list(_fallback_parse(text))
    return list(parse(text, path=path).instructions)


_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s+")
_ARGS_PREFIX = re.compile(r"^\|\d+\s+(?:\S+=\S*\s+)*")
_SHELL = re.compile(r"^(?:/bin/(?:ba)?sh|sh) -c\s+")
_BUILDKIT_SUFFIX = re.compile(r"\s+# buildkit$")
_COPY_SOURCE = re.compile(r"^(COPY|ADD) (?:--\S+ )*(?:multi:|dir:|file:)?([0-9a-f]{8,})?\S* in (\S+)\s*$")


def history_instruction(created_by: str) -> tuple[str, str]:
    """(KEYWORD, approximate instruction text) for one `created_by`, values redacted."""
    text = created_by.strip()
    if not text:
        return "ADD", "ADD <rootfs> /  # imported or base layer, no history"
    text = _BUILDKIT_SUFFIX.sub("", text)
    if _NOP.match(text):
        body = _NOP.sub("", text).strip()
        copy = _COPY_SOURCE.match(body)
        if copy:
            keyword, _, dest = copy.groups()
            source = "." if "dir:" in body else "<file>"
            return keyword, redact(f"{keyword} {source} {dest}")
        return body.split(None, 1)[0].upper(), redact(body)
    without_args = _ARGS_PREFIX.sub("", text)
    if _SHELL.match(without_args):
        return "RUN", redact("RUN " + _SHELL.sub("", without_args))
    keyword = text.split(None, 1)[0].upper()
    if keyword in ("RUN", "COPY", "ADD", "ENV", "WORKDIR", "CMD", "ENTRYPOINT", "LABEL", "EXPOSE", "USER",
                   "HEALTHCHECK", "VOLUME", "ARG", "SHELL", "STOPSIGNAL", "ONBUILD"):  # fmt: skip
        if keyword == "RUN":
            rest = text.split(None, 1)[1] if " " in text else ""
            rest = _SHELL.sub("", _ARGS_PREFIX.sub("", rest))
            return "RUN", redact("RUN " + rest)
        return keyword, redact(text)
    return "RUN", redact("RUN " + text)


def map_history(
    history: Sequence[HistoryEntry], dockerfile_text: str | None, *, path: str = "Dockerfile"
) -> list[Mapping]:
    reconstructed = []
    for entry in history:
        keyword, text = history_instruction(entry.created_by)
        reconstructed.append(Mapping(instruction=text, line=None, keyword=keyword, from_dockerfile=False))
    if dockerfile_text is None:
        return reconstructed
    instructions = parse_instructions(dockerfile_text, path)
    last_from = max((i for i, ins in enumerate(instructions) if ins.keyword.upper() == "FROM"), default=-1)
    stage = [ins for ins in instructions[last_from + 1 :]]
    result = list(reconstructed)
    h, d = len(history) - 1, len(stage) - 1
    while h >= 0 and d >= 0:
        keyword = stage[d].keyword.upper()
        if reconstructed[h].keyword == keyword:
            result[h] = Mapping(
                instruction=redact(" ".join(stage[d].original.split())),
                line=stage[d].line,
                keyword=keyword,
                from_dockerfile=True,
            )
            h -= 1
            d -= 1
        elif keyword in ("ARG", "ONBUILD"):
            d -= 1  # BuildKit does not record every ARG
        else:
            break
    return result


def reconstruct_dockerfile(history: Sequence[HistoryEntry]) -> str:
    lines = [RECONSTRUCTED_HEADER.rstrip("\n"), "FROM scratch"]
    for entry in history:
        _, text = history_instruction(entry.created_by)
        lines.append(text)
    return "\n".join(lines) + "\n"
