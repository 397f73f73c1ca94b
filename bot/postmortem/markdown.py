"""Markdown for untrusted text.

The postmortem is Markdown that people review and a web page renders, so a PagerDuty title such as
`# Oops | <script>` must stay one harmless line of text. `Md` marks text that is already Markdown;
the renderer escapes every other string that reaches the output (see `render.py`), so a template cannot
forget to.
"""

from __future__ import annotations

import re

from bot.printable import clip


class Md(str):
    """A string that is Markdown already and must be emitted as is."""

    __slots__ = ()


# CommonMark lets any ASCII punctuation be backslash-escaped. These are the ones that can change the
# structure of a line that does not start the line: emphasis, links, images, HTML, tables, headings'
# closing sequence, code spans and strikethrough.
_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~!])")


def escape(text: str) -> Md:
    """Backslash-escape the structural characters, keeping the spacing as is."""
    return Md(_SPECIAL.sub(r"\\\1", str(text)))


def inline(text: str) -> Md:
    """Escaped and folded onto one line: newlines in a title cannot start a heading or a list."""
    return escape(" ".join(str(text).split()))


def shorten(text: str, limit: int) -> str:
    """Folded onto one line and cut to `limit` characters with `…`, between two escapes (`clip`)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else clip(flat, limit - 1, marker="").rstrip() + "…"


def code(text: str) -> Md:
    """An inline code span whose delimiter is longer than any backtick run inside (CommonMark §6.1)."""
    flat = " ".join(str(text).split())
    if not flat:
        return Md("")
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return Md(f"{fence}{pad}{flat}{pad}{fence}")


def table_code(text: str) -> Md:
    """A code span inside a GFM table cell, where an unescaped `|` would end the cell even in code."""
    return Md(code(text).replace("|", "\\|"))


def table_cell(text: str) -> Md:
    """Markdown (already escaped) inside a GFM table cell: every pipe not yet escaped is, since GFM splits
    cells before it parses code spans."""
    return Md(re.sub(r"(?<!\\)\|", r"\\|", " ".join(str(text).split())))


def fenced(text: str, lang: str = "") -> Md:
    """A fenced code block longer than any backtick fence inside the text, so a diff cannot close it."""
    runs = [len(m) for m in re.findall(r"^ {0,3}(`{3,})", text, flags=re.MULTILINE)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    body = text if text.endswith("\n") else text + "\n"
    return Md(f"{fence}{lang}\n{body}{fence}")


def first_clause(text: str, *, max_words: int = 25) -> Md:
    """The first clause of Markdown prose, for a sentence that points at the full text elsewhere: up to the
    first `;` or the end of the first sentence, cut at `max_words` (with `…`) when still longer. Neither cut
    falls inside a code span, a parenthesis or after a backslash escape, so the Markdown stays balanced."""
    text = str(text).strip()
    breaks: list[int] = []  # the spaces between words, at the top level
    end = len(text)
    depth, fence, i = 0, "", 0
    while i < len(text):
        char = text[i]
        if char == "\\" and not fence:
            i += 2
            continue
        if char == "`":
            run = len(text[i:]) - len(text[i:].lstrip("`"))
            if not fence:
                fence = "`" * run
            elif run == len(fence):
                fence = ""
            i += run
            continue
        if not fence:
            depth += (char == "(") - (char == ")") if char in "()" else 0
            if depth <= 0 and (char == ";" or (char == "." and text[i + 1: i + 2] == " "
                                               and text[i + 2: i + 3].isupper())):
                end = i
                break
            if depth <= 0 and char == " ":
                breaks.append(i)
        i += 1
    clause = text[:end].rstrip(" .,:")
    if len(clause.split()) <= max_words:
        return Md(clause)
    fits = [b for b in breaks if b < len(clause) and len(clause[:b].split()) <= max_words]
    return Md(clause[: fits[-1]].rstrip(" ,:;") + " …") if fits else Md(clause)
