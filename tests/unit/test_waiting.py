"""The tests' one poll (`tests/waiting.py`): the value it waited for, or a failure that says what."""

from __future__ import annotations

import subprocess
from itertools import count

import pytest

from tests.waiting import wait_until


def test_it_returns_the_first_true_value() -> None:
    calls = count()
    assert wait_until(lambda: next(calls) >= 2 and "ready", what="the third call") == "ready"


def test_it_names_what_never_came() -> None:
    with pytest.raises(AssertionError, match="timed out waiting for the answer"):
        wait_until(lambda: None, timeout=0, what="the answer")


def test_a_process_that_exits_fails_at_once_with_its_output() -> None:
    proc = subprocess.Popen(["/bin/sh", "-c", "echo listen failed; exit 3"], stdout=subprocess.PIPE)
    proc.wait()
    with pytest.raises(AssertionError, match=r"exited \(3\) while waiting for serve to come up:\nlisten failed"):
        wait_until(lambda: False, timeout=3600, what="serve to come up", proc=proc)
