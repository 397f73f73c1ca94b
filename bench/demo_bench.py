"""Time `coroner demo` as a whole process (issue 2 asks for under 10 s), first and repeated runs.

    python bench/demo_bench.py --runs 5

Each repetition uses a fresh work directory for the first run, then runs again on it (the idempotent
path). Prints medians; record them in docs/benchmarks-demo.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(args: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    coroner = shutil.which("coroner") or sys.exit("coroner is not installed (pip install .)")
    first, again = [], []
    for _ in range(options.runs):
        with tempfile.TemporaryDirectory() as tmp:
            first.append(timed([coroner, "demo"], Path(tmp)))
            again.append(timed([coroner, "demo"], Path(tmp)))
    print(f"coroner demo, first run:  median {statistics.median(first):.2f} s  (runs: "
          + ", ".join(f"{t:.2f}" for t in first) + ")")
    print(f"coroner demo, second run: median {statistics.median(again):.2f} s  (runs: "
          + ", ".join(f"{t:.2f}" for t in again) + ")")


if __name__ == "__main__":
    main()
