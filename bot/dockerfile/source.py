"""Reading a Dockerfile from a path or stdin, and writing text back: capped in size, bytes kept.

A Dockerfile is a few KB, so the input is capped: `coroner lint /dev/zero` stops after 10 MB instead of
reading until memory runs out. Text is decoded with `surrogateescape`, so bytes that are not UTF-8 (a
Latin-1 comment) survive the round trip: `coroner fix --write` writes back exactly the bytes it did not
change, and the diff it prints carries them, so it still applies.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.ports import CoronerError
from bot.printable import printable

MAX_DOCKERFILE_BYTES = 10 * 1024 * 1024
_ENCODING = "utf-8"
_ERRORS = "surrogateescape"


class DockerfileInputError(CoronerError):
    """The Dockerfile cannot be read, or is too big to be one; the CLI exits 2."""

    exit_code = 2


def read_dockerfile(path: str) -> str:
    """The text of `path` ("-" is stdin). Raises DockerfileInputError past MAX_DOCKERFILE_BYTES or on an
    OSError."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_DOCKERFILE_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_DOCKERFILE_BYTES + 1)
    except OSError as exc:
        raise DockerfileInputError(f"cannot read {printable(path, escape_backslash=False)}: {exc.strerror or exc}") from exc
    if len(data) > MAX_DOCKERFILE_BYTES:
        limit = MAX_DOCKERFILE_BYTES // (1024 * 1024)
        raise DockerfileInputError(f"cannot read {printable(path, escape_backslash=False)}: larger than {limit} MB; a Dockerfile is a few KB")
    return data.decode(_ENCODING, _ERRORS)


def to_bytes(text: str) -> bytes:
    """The bytes `text` was read from (and UTF-8 for what the fixer wrote)."""
    return text.encode(_ENCODING, _ERRORS)


def write_text(path: Path, text: str) -> None:
    path.write_bytes(to_bytes(text))
