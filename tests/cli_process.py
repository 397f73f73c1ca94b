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
CORONER = [sys.executable, "-P", "-c", "from bot.cli import main; main()"]


def python(code: str) -> list[str]:
    """`python -c code` on the tests' `bot` package."""
    return [sys.executable, "-P", "-c", code]


def cli_env(**overrides: str) -> dict[str, str]:
    """The environment, with the tests' `bot` package first on PYTHONPATH."""
    return {**os.environ, "PYTHONPATH": BOT_HOME, **overrides}
