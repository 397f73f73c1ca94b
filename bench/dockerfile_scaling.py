"""How `coroner lint` and `coroner fix` grow with the file, against one pass over it.

    python bench/dockerfile_scaling.py [--repeat 3]

Two shapes that used to blow up: a chain of stages (`FROM s{i-1} AS s{i}`, 500 to 2,000 of them) and
one RUN spread over 100,000 continuation lines. "One pass" is what any linter of these files has to do
at least once: parse the Dockerfile and tokenize the shell of every RUN. The parser alone is shown too.
`coroner fix` lints the file it was given and each rewrite it keeps (here one: a USER for runs-as-root),
so "fix / lint" is the other number to watch.
Times are CPU seconds (best of --repeat), which a busy shared machine disturbs less than wall time.
Prints a markdown table for docs/benchmarks-dockerfile.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.dockerfile.fix import fix  # noqa: E402
from bot.dockerfile.parser import parse  # noqa: E402
from bot.dockerfile.rules import lint  # noqa: E402
from bot.dockerfile.shell import parse_script  # noqa: E402


def stage_chain(n: int) -> str:
    lines = ["FROM python:3.11 AS s0"]
    for i in range(1, n):
        lines += [f"FROM s{i - 1} AS s{i}", f"RUN echo {i}"]
    return "\n".join(lines) + "\n"


def continuation(n: int) -> str:
    body = "".join(f"    && echo {i} \\\n" for i in range(n))
    return f"FROM python:3.11\nRUN echo start \\\n{body}    && true\n"


def one_pass(text: str) -> None:
    for ins in parse(text).instructions:
        if ins.keyword == "RUN":
            parse_script(ins.shell_script)


def cpu(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cases = [(f"{n:,} chained stages", stage_chain(n)) for n in (500, 1000, 2000)]
    cases.append(("100,000 continuation lines", continuation(100_000)))
    print("| input | parser | one pass | lint | fix | lint / one pass | fix / one pass | fix / lint |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, text in cases:
        parser = cpu(lambda text=text: parse(text), args.repeat)
        base = cpu(lambda text=text: one_pass(text), args.repeat)
        linted = cpu(lambda text=text: lint(parse(text)), args.repeat)
        fixed = cpu(lambda text=text: fix(text, measure_context=False), args.repeat)
        print(f"| {label} | {parser:.3f} s | {base:.3f} s | {linted:.3f} s | {fixed:.3f} s "
              f"| {linted / base:.2f}× | {fixed / base:.2f}× | {fixed / linted:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
