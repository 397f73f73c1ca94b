"""The one escaping every sink uses: file names escape the backslash, Dockerfile quotes keep it."""

from __future__ import annotations

from bot.dockerfile.parser import DockerfileParseError
from bot.printable import printable


def test_a_dockerfile_quote_keeps_its_backslashes_but_not_its_controls_or_bidi_overrides() -> None:
    quote = "RUN apt-get install \\\n  curl \x1b[2J \u202eexe.sh \r"
    assert printable(quote, escape_backslash=False) == "RUN apt-get install \\\\n  curl \\x1b[2J \\u202eexe.sh \\r"
    assert printable("COPY a\\b /c", escape_backslash=False) == "COPY a\\b /c"
    assert printable("COPY a\\b /c") == "COPY a\\\\b /c"  # a name: two names never print the same


def test_a_parse_error_is_one_line_that_quotes_the_dockerfile_as_written() -> None:
    error = DockerfileParseError("Dockerfile", 3, "unknown instruction 'C:\\bin\\tool\u2066\n'")
    assert str(error) == "Dockerfile:3: unknown instruction 'C:\\bin\\tool\\u2066\\n'"
