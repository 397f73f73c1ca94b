"""The `coroner` CLI as a real process, on the same `bot` package as the tests (installed or checked out).

`-P` keeps the working directory off sys.path: run from a checkout, `python -c` would otherwise import the
checkout's `bot/` instead of the installed wheel, which also holds `bot.playbooks` and `bot.migrations`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import bot

BOT_HOME = str(Path(bot.__file__).resolve().parents[1])
# Where `tests` itself is, for child code that imports the doubles; after BOT_HOME, so that a checkout's
# `bot/` next to `tests/` never shadows the installed package.
TESTS_HOME = str(Path(__file__).resolve().parents[1])
CORONER = [sys.executable, "-P", "-c", "from bot.cli import main; main()"]


def python(code: str) -> list[str]:
    """`python -c code` on the tests' `bot` package."""
    return [sys.executable, "-P", "-c", code]


def cli_env(**overrides: str) -> dict[str, str]:
    """The environment, with the tests' `bot` package first on PYTHONPATH, then the `tests` package."""
    path = BOT_HOME if BOT_HOME == TESTS_HOME else os.pathsep.join([BOT_HOME, TESTS_HOME])
    return {**os.environ, "PYTHONPATH": path, **overrides}
