"""The one escaping every sink uses: file names escape the backslash, Dockerfile quotes keep it."""

from __future__ import annotations

import re

from bot.dockerfile.parser import DockerfileParseError
from bot.printable import clip, printable


def test_a_dockerfile_quote_keeps_its_backslashes_but_not_its_controls_or_bidi_overrides() -> None:
    quote = "RUN apt-get install \\\n  curl \x1b[2J \u202eexe.sh \r"
    assert printable(quote, escape_backslash=False) == "RUN apt-get install \\\\n  curl \\x1b[2J \\u202eexe.sh \\r"
    assert printable("COPY a\\b /c", escape_backslash=False) == "COPY a\\b /c"
    assert printable("COPY a\\b /c") == "COPY a\\\\b /c"  # a name: two names never print the same


def test_a_parse_error_is_one_line_that_quotes_the_dockerfile_as_written() -> None:
    error = DockerfileParseError("Dockerfile", 3, "unknown instruction 'C:\\bin\\tool\u2066\n'")
    assert str(error) == "Dockerfile:3: unknown instruction 'C:\\bin\\tool\\u2066\\n'"


ESCAPED = printable("RUN printf '\x1b[2J\u202e\\\n' && echo \udce9 done")  # every form of escape
# What `printable` writes: characters, and whole escapes.
WHOLE = re.compile(r"(?:[^\\]|\\\\|\\[ntr]|\\x[0-9a-f]{2}|\\u[0-9a-f]{4})*")


def test_a_cut_never_leaves_half_an_escape() -> None:
    assert all(unit in ESCAPED for unit in ("\\\\", "\\x1b", "\\u202e", "\\n", "\\xe9"))
    assert WHOLE.fullmatch(ESCAPED)
    for limit in range(3, len(ESCAPED)):
        cut = clip(ESCAPED, limit)
        head = cut.removesuffix("...")
        assert len(cut) <= limit and cut.endswith("...") and ESCAPED.startswith(head)
        assert WHOLE.fullmatch(head), (limit, cut)
        assert len(head) >= limit - 3 - 5  # it gives back at most the rest of one escape
    assert clip(ESCAPED, len(ESCAPED)) == ESCAPED


def test_every_image_text_report_cuts_a_long_instruction_between_escapes() -> None:
    from tests.unit.gate.gate_reports import BASE, MB, report

    from bot.images.render import INSTRUCTION_MAX, render_text

    # A terminal escape at characters 66 to 69 of the instruction: a plain cut at 67 would leave `\x`.
    created_by = "/bin/sh -c echo " + "a" * 56 + "\x1b[2J and the rest of a long command line"
    text = render_text(report("app:v1", [BASE, (created_by, [("app/big", 90 * MB)])]))
    (line,) = [line for line in text.splitlines() if "echo aaa" in line]
    assert line.endswith("  RUN echo " + "a" * 56 + "...")
    assert len("RUN echo " + "a" * 56 + "...") <= INSTRUCTION_MAX
