"""Waiting for what a server, a worker or a socket does in the background: polled, never slept through."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], *, timeout: float = 20.0, what: str = "condition",
               proc: subprocess.Popen[bytes] | None = None) -> T:
    """The first true value `predicate` returns, polled until `timeout` seconds; an AssertionError naming
    `what` after that. `proc`, the process under test: when it exits first, fail at once with its output
    instead of waiting out the timeout for a server that is gone."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            output = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"the process exited ({proc.returncode}) while waiting for {what}:\n{output}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
