"""Benchmark `coroner lint` against hadolint, and compare their findings on the rules they share.

    .venv/bin/python bench/dockerfile_bench.py [--corpus DIR] [--copies 200] [--repeat 3]

The corpus is read at run time (default: ../shared/corpus/dockerfiles next to the repository); nothing
from it is copied into the project. Prints markdown: wall times (one process over N files, and one
process per file), the agreement table per hadolint code, every disagreement, and the fix check.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.dockerfile.catalog import RULES  # noqa: E402
from bot.dockerfile.fix import fix  # noqa: E402
from bot.dockerfile.parser import parse  # noqa: E402
from bot.dockerfile.rules import lint  # noqa: E402


def tool(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        sys.exit(f"{name} not found: install the project with `pip install -e '.[test]'`")
    return found


CPU: dict[str, float] = defaultdict(float)  # CPU seconds (user + sys) per tool: steadier than wall time on a busy machine


def timed(cmd: list[str], repeat: int) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Best wall time over `repeat` runs; also adds the CPU time of one run to CPU[tool name]."""
    times = []
    cpus = []
    proc = None
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    assert proc is not None
    CPU[Path(cmd[0]).name + ("/batch" if len(cmd) > 6 else "/single")] += min(cpus)
    return min(times), proc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "dockerfiles")
    ap.add_argument("--copies", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sources = sorted(args.corpus.glob("*.Dockerfile"))
    if not sources:
        sys.exit(f"no *.Dockerfile in {args.corpus}")
    coroner, hadolint = tool("coroner"), tool("hadolint")
    # pip compiles .pyc files at install time; an environment with PYTHONDONTWRITEBYTECODE=1 (like CI sandboxes)
    # would otherwise recompile every module on every run, which is not what a user's `coroner` does.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "bot")], env=env, capture_output=True)
    version = subprocess.run([hadolint, "--version"], capture_output=True, text=True).stdout.strip()

    with tempfile.TemporaryDirectory() as tmp:
        batch = []
        for i in range(args.copies):
            src = sources[i % len(sources)]
            dst = Path(tmp) / f"{i:03d}-{src.name}"
            shutil.copyfile(src, dst)
            batch.append(str(dst))
        t_cor, p_cor = timed([coroner, "lint", "--format", "json", "--fail-on", "none", *batch], args.repeat)
        t_had, p_had = timed([hadolint, "--no-fail", "-f", "json", *batch], args.repeat)
        assert p_cor.returncode == 0, p_cor.stderr
        n_cor = len(json.loads(p_cor.stdout))
        n_had = len(json.loads(p_had.stdout or "[]"))

        per_file_cor, per_file_had = [], []
        for src in sources:
            per_file_cor.append(timed([coroner, "lint", "--fail-on", "none", str(src)], 1)[0])
            per_file_had.append(timed([hadolint, "--no-fail", str(src)], 1)[0])

    print(f"# Dockerfile lint benchmark\n\nhadolint: `{version}`; corpus: {len(sources)} files, copied to {args.copies}.\n")
    print("| run | coroner | hadolint | speed-up |\n|---|---:|---:|---:|")
    print(f"| one process, {args.copies} files (best of {args.repeat}) | {t_cor:.3f} s | {t_had:.3f} s | {t_had / t_cor:.1f}x |")
    print(f"| one process per file, {len(sources)} files, total | {sum(per_file_cor):.3f} s | {sum(per_file_had):.3f} s "
          f"| {sum(per_file_had) / sum(per_file_cor):.1f}x |")
    wins = sum(1 for c, h in zip(per_file_cor, per_file_had) if c < h)
    print(f"| one process per file, files where coroner is faster | {wins}/{len(sources)} | | |")
    print(f"| one process per file, median | {statistics.median(per_file_cor) * 1000:.0f} ms "
          f"| {statistics.median(per_file_had) * 1000:.0f} ms | |")
    print(f"| CPU time (user+sys), batch | {CPU['coroner/batch']:.3f} s | {CPU['hadolint/batch']:.3f} s "
          f"| {CPU['hadolint/batch'] / CPU['coroner/batch']:.1f}x |")
    print(f"| CPU time (user+sys), per file, total | {CPU['coroner/single']:.3f} s | {CPU['hadolint/single']:.3f} s "
          f"| {CPU['hadolint/single'] / CPU['coroner/single']:.1f}x |")
    load = os.getloadavg()[0]
    print(f"\nMachine: {os.cpu_count()} CPUs, load average {load:.1f} while measuring.")
    print(f"\nFindings in the {args.copies}-file batch: coroner {n_cor}, hadolint {n_had} (all codes, ShellCheck included).\n")

    agreement(sources, hadolint)
    fix_check(sources)


def agreement(sources: list[Path], hadolint: str) -> None:
    codes = {c for r in RULES for c in r.hadolint}
    proc = subprocess.run([hadolint, "--no-fail", "-f", "json", *map(str, sources)], capture_output=True, text=True)
    h = {(Path(x["file"]).name, x["line"], x["code"]) for x in json.loads(proc.stdout or "[]") if x["code"] in codes}
    c = set()
    for src in sources:
        for f in lint(parse(src.read_text(), path=src.name)):
            code = f.evidence.get("hadolint")
            if code:
                c.add((src.name, f.evidence["line"], code))
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for k in h & c:
        table[k[2]][0] += 1
    for k in h - c:
        table[k[2]][1] += 1
    for k in c - h:
        table[k[2]][2] += 1
    print("## Agreement on shared rules\n")
    print("| hadolint code | coroner rule | both | hadolint only | coroner only |\n|---|---|---:|---:|---:|")
    rule_of = {code: r.id for r in RULES for code in r.hadolint}
    for code in sorted(table):
        both, h_only, c_only = table[code]
        print(f"| {code} | {rule_of[code]} | {both} | {h_only} | {c_only} |")
    total_both = sum(v[0] for v in table.values())
    total_h = total_both + sum(v[1] for v in table.values())
    print(f"\nCoroner reports {total_both} of hadolint's {total_h} findings on shared rules.\n")
    print("### Every disagreement\n")
    for k in sorted(h - c):
        print(f"- hadolint only: {k[2]} {k[0]}:{k[1]}")
    for k in sorted(c - h):
        print(f"- coroner only: {k[2]} {k[0]}:{k[1]}")
    print()


def fix_check(sources: list[Path]) -> None:
    ok = changed = patched = 0
    problems = []
    have_patch = shutil.which("patch") is not None
    for src in sources:
        original = src.read_text()
        result = fix(original, path=src.name)
        changed += result.changed
        left = [f for f in lint(parse(result.text, path=src.name)) if f.evidence.get("fixable")]
        if left:
            problems.append(f"{src.name}: {[f.rule for f in left]}")
        else:
            ok += 1
        if have_patch:
            # The diff as printed must rebuild the fixed file from the original with `patch -p1`.
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / src.name).write_text(original)
                proc = subprocess.run(["patch", "-p1", "--batch", "--silent"], input=result.diff, text=True,
                                      cwd=tmp, capture_output=True)
                if proc.returncode == 0 and (Path(tmp) / src.name).read_text() == result.text:
                    patched += 1
                else:
                    problems.append(f"{src.name}: the diff does not apply with patch -p1 ({proc.stderr.strip()[:120]})")
    print("## Fix check\n")
    print(f"`coroner fix` output parses and re-lints with no fixable finding on {ok}/{len(sources)} files "
          f"({changed} changed).")
    if have_patch:
        print(f"Its diff applies with `patch -p1` and gives the fixed file on {patched}/{len(sources)} files.")
    for p in problems:
        print(f"- {p}")


if __name__ == "__main__":
    main()
