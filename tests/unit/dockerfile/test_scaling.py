"""lint and fix grow linearly with the file. Measured in interpreter steps (function calls counted by
`sys.setprofile`), not seconds, so the result does not depend on the machine or its load. The timed
numbers are in bench/dockerfile_scaling.py and docs/benchmarks-dockerfile.md."""

from __future__ import annotations

import sys
from collections.abc import Callable

from bot.dockerfile.fix import fix
from bot.dockerfile.parser import parse
from bot.dockerfile.rules import lint

# Doubling the input may double the work, plus a little for what does not depend on the size.
LINEAR = 2.3


def steps(run: Callable[[], object]) -> int:
    run()  # warm caches (compiled regular expressions) so both sizes count the same kind of work
    count = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal count
        count += 1

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return count


def stage_chain(n: int) -> str:
    """n stages, each built FROM the one before it."""
    lines = ["FROM python:3.11 AS s0"]
    for i in range(1, n):
        lines += [f"FROM s{i - 1} AS s{i}", f"RUN echo {i}"]
    return "\n".join(lines) + "\n"


def continuation(n: int) -> str:
    """One RUN spread over n continuation lines."""
    body = "".join(f"    && echo {i} \\\n" for i in range(n))
    return f"FROM python:3.11\nRUN echo start \\\n{body}    && true\n"


def test_lint_of_a_stage_chain_is_linear() -> None:
    small, large = (steps(lambda n=n: lint(parse(stage_chain(n)))) for n in (60, 120))
    assert large <= LINEAR * small, (small, large)


def test_fix_of_a_stage_chain_is_linear() -> None:
    small, large = (steps(lambda n=n: fix(stage_chain(n), measure_context=False)) for n in (30, 60))
    assert large <= LINEAR * small, (small, large)


def test_fix_of_continuation_lines_is_linear() -> None:
    small, large = (steps(lambda n=n: fix(continuation(n), measure_context=False)) for n in (200, 400))
    assert large <= LINEAR * small, (small, large)


def test_fix_lints_once_per_rewrite_not_once_per_fixer() -> None:
    # One rewrite here (a USER for runs-as-root): lint the original, lint the rewrite, and the parses
    # around them. Re-linting for each of the fixers costs an order of magnitude more.
    text = continuation(400)
    one_pass = steps(lambda: lint(parse(text)))
    result = fix(text, measure_context=False)
    assert [f.rule for f in result.fixed] == ["runs-as-root"]
    assert steps(lambda: fix(text, measure_context=False)) <= 3 * one_pass
