"""Hostile layers: what each costs before the reader refuses it, and what the limits cost a normal layer.

    python bench/hostile_layers_bench.py            # numbers for docs/images.md ("Untrusted input")

Each bomb runs in its own process (served gzip-compressed by the registry double of the unit tests), so
its peak RSS (VmHWM) is its own. Then a plain layer of many small files is parsed in-process, to show
the per-member checks (header budget, entry and name limits, deadline) on the hot path, and a deep
directory is walked to show the cost of depth.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.unit.images.test_hostile_layers import BOMB  # noqa: E402 - the bombs the regression tests refuse, built the same way


def bomb(kind: str) -> tuple[str, int, int, float]:
    result = subprocess.run([sys.executable, "-c", BOMB, kind],
                            capture_output=True, text=True, check=True, env={"PYTHONPATH": str(ROOT)})
    elapsed, message, compressed, peak = result.stdout.strip().splitlines()[-4:]
    return message, int(compressed), int(peak), float(elapsed)


def hot_path(files: int) -> float:
    from tests.doubles.images import tar_bytes

    from bot.images.tarstream import iter_layer_blob

    data = tar_bytes([(f"app/node_modules/pkg{i // 50}/file{i}.js", b"x" * 100) for i in range(files)])
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        count = sum(1 for _ in iter_layer_blob(io.BytesIO(data)))
        best = min(best, time.perf_counter() - started)
    assert count == files
    return best


def deep_walk(depth: int) -> float:
    from tests.doubles.images import deep_layer

    from bot.images.model import LayerRef
    from bot.images.tarstream import iter_layer_blob
    from bot.images.walk import walk_layers

    entries = list(iter_layer_blob(io.BytesIO(deep_layer(depth))))
    started = time.perf_counter()
    walk_layers([(LayerRef(0, "sha256:" + "a" * 64, 0), entries)])
    return time.perf_counter() - started


def main() -> None:
    print("| bomb | gzip size | refused with | peak RSS | time to refuse |")
    print("|---|---|---|---|---|")
    for kind in ("pax", "gnu-longname", "global-pax", "pax-chain"):
        message, compressed, peak, elapsed = bomb(kind)
        reason = message.split("unreadable: ", 1)[-1]
        print(f"| {kind} | {compressed // 1024} KiB | {reason} | {peak // 1024} MiB | {elapsed:.2f} s |")
    files = 100_000
    seconds = hot_path(files)
    print(f"\nplain layer of {files} files: parsed in {seconds:.3f} s (best of 5), {files / seconds:,.0f} entries/s")
    for depth in (500, 2000, 5000):
        print(f"walk of a directory {depth} deep: {deep_walk(depth):.2f} s")


if __name__ == "__main__":
    main()
