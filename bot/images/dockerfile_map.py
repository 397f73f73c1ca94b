"""History entry <-> Dockerfile instruction.

With a Dockerfile, the final stage's instructions are aligned with the end of the history, through the
stages it is built FROM (`FROM deps`). What comes before is the base image's: its entries are mapped to
the FROM line that names that image, so a base that grew is pointed at where it can be changed. When the
alignment stops at an entry this Dockerfile did not make, the entries before the first one it attributes
go to that FROM line too (nothing attributed, nothing is). Without a Dockerfile, each history entry is
turned back into an approximate instruction, and the result is labelled as reconstructed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.dockerfile.parser import Instruction, parse
from bot.images.model import HistoryEntry
from bot.printable import printable
from bot.images.secrets import redact

RECONSTRUCTED_HEADER = (
    "# RECONSTRUCTED by Coroner from the image history: approximate, not the original Dockerfile.\n"
    "# COPY sources and the base image are not recorded in the history.\n"
)


@dataclass(frozen=True)
class Mapping:
    """For one history entry: the instruction that made it, and where it is written."""

    instruction: str
    line: int | None
    keyword: str
    from_dockerfile: bool
    base_image: bool = False  # made by the base image: `line` is the FROM line that names it


_CONTINUATION = re.compile(r"\\[ \t]*\r?\n")
_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s+")
_ARGS_PREFIX = re.compile(r"^\|\d+\s+(?:\S+=\S*\s+)*")
_SHELL = re.compile(r"^(?:/bin/(?:ba)?sh|sh) -c\s+")
_BUILDKIT_SUFFIX = re.compile(r"\s+# buildkit$")
_COPY_SOURCE = re.compile(r"^(COPY|ADD) (?:--\S+ )*(?:multi:|dir:|file:)?([0-9a-f]{8,})?\S* in (\S+)\s*$")


_LAYOUT = re.compile(r"[ \t]+")


def one_line(text: str) -> str:
    """An instruction as one line of a report or a Slack message. Continuations are joined and layout
    whitespace folds to one space; the line breaks that carry meaning (a heredoc's body, a newline
    inside a quoted string) are kept and shown as `\\n`, with every other control character, by
    `printable`: the one escaping file names get, so a multi-line `RUN` reads as the script it is.
    Redact first: a secret is recognised in the real text."""
    lines = (_LAYOUT.sub(" ", line.rstrip("\r")).strip(" ") for line in _CONTINUATION.sub(" ", text).split("\n"))
    return printable("\n".join(line for line in lines if line))


def written(ins: Instruction) -> str:
    """A Dockerfile instruction as the report shows it (`one_line`). Comment lines inside a
    continuation are no part of it (BuildKit drops them); inside a heredoc's body they are."""
    lines = ins.original.split("\n")
    logical = ins.heredocs[0].line - ins.line if ins.heredocs else len(lines)
    head = [lines[0]] + [line for line in lines[1:logical] if not line.lstrip().startswith("#")]
    return one_line(redact("\n".join(head + lines[logical:])))


_LEGACY_EXEC = re.compile(r'^(CMD|ENTRYPOINT|SHELL|RUN)\s+\[((?:"(?:[^"\\]|\\.)*"\s*)+)\]$')
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def _json_form(keyword: str, body: str) -> str:
    """The legacy builder records `CMD ["a" "b"]` (Go's %q of a list); a Dockerfile needs JSON."""
    match = _LEGACY_EXEC.match(body)
    if not match:
        return body
    return f"{keyword} [{', '.join(_QUOTED.findall(match.group(2)))}]"


def history_instruction(created_by: str) -> tuple[str, str]:
    """(KEYWORD, approximate instruction text) for one `created_by`, values redacted."""
    text = created_by.strip()
    if not text:
        return "ADD", "ADD <rootfs> /"
    text = _ARGS_PREFIX.sub("", _BUILDKIT_SUFFIX.sub("", text))
    if _NOP.match(text):
        body = _NOP.sub("", text).strip()
        copy = _COPY_SOURCE.match(body)
        if copy:
            keyword, _, dest = copy.groups()
            source = "." if "dir:" in body else "<file>"
            return keyword, one_line(redact(f"{keyword} {source} {dest}"))
        keyword = body.split(None, 1)[0].upper()
        return keyword, one_line(redact(_json_form(keyword, body)))
    without_args = _ARGS_PREFIX.sub("", text)
    if _SHELL.match(without_args):
        return "RUN", one_line(redact("RUN " + _SHELL.sub("", without_args)))
    keyword = text.split(None, 1)[0].upper()
    if keyword in ("RUN", "COPY", "ADD", "ENV", "WORKDIR", "CMD", "ENTRYPOINT", "LABEL", "EXPOSE", "USER",
                   "HEALTHCHECK", "VOLUME", "ARG", "SHELL", "STOPSIGNAL", "ONBUILD"):  # fmt: skip
        if keyword == "RUN":
            rest = text.split(None, 1)[1] if " " in text else ""
            rest = _SHELL.sub("", _ARGS_PREFIX.sub("", rest))
            return "RUN", one_line(redact("RUN " + rest))
        return keyword, one_line(redact(text))
    return "RUN", one_line(redact("RUN " + text))


def map_history(
    history: Sequence[HistoryEntry], dockerfile_text: str | None, *, path: str = "Dockerfile"
) -> list[Mapping]:
    reconstructed = []
    for entry in history:
        keyword, text = history_instruction(entry.created_by)
        reconstructed.append(Mapping(instruction=text, line=None, keyword=keyword, from_dockerfile=False))
    if dockerfile_text is None:
        return reconstructed
    parsed = parse(dockerfile_text, path=path)
    chain = parsed.chain(parsed.final_stage) if parsed.stages else []
    stage = [ins for s in chain for ins in s.instructions[1:]]  # the shipped stages, FROMs left out
    result = list(reconstructed)
    h, d = len(history) - 1, len(stage) - 1
    while h >= 0 and d >= 0:
        keyword = stage[d].keyword.upper()
        if reconstructed[h].keyword == keyword:
            result[h] = Mapping(
                instruction=written(stage[d]),
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
    if chain and h < len(history) - 1:  # something attributed: what is before it is the base image's
        result[: h + 1] = [_base(m, chain[0].from_instruction) for m in reconstructed[: h + 1]]
    return result


def _base(mapping: Mapping, from_instruction: Instruction) -> Mapping:
    return Mapping(instruction=f"{written(from_instruction)} (base image: {mapping.instruction})", line=from_instruction.line,
                   keyword=mapping.keyword, from_dockerfile=False, base_image=True)


def reconstruct_dockerfile(history: Sequence[HistoryEntry]) -> str:
    lines = [RECONSTRUCTED_HEADER.rstrip("\n"), "FROM scratch"]
    for entry in history:
        _, text = history_instruction(entry.created_by)
        if not entry.created_by.strip():
            lines.append("# a layer with no history: imported, or the base image's root filesystem")
        lines.append(text)
    return "\n".join(lines) + "\n"
