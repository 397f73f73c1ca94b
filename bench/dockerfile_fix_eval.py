"""Evaluate `coroner fix` end to end on a directory of Dockerfiles, through the real CLI.

    python bench/dockerfile_fix_eval.py DIR [--verbose]

For every file in DIR (the corpus is read at run time; nothing from it is copied into the project), in a
temporary build context that holds only that file as `Dockerfile`:

1. `coroner fix Dockerfile` prints one patch (the Dockerfile and the .dockerignore together);
2. the patch is applied with `patch -p1` in one copy of the context and with `git apply` in another;
3. `coroner lint --format json` re-lints the patched copy: no finding marked fixable may be left, and no
   `dockerignore-missing`.

Prints one line per file and the totals as markdown (recorded in docs/benchmarks-dockerfile.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORONER = [sys.executable, "-c", "import sys; from bot.cli import main; sys.argv[0] = 'coroner'; main()"]


@dataclass
class Outcome:
    name: str
    patch: bool = False  # `coroner fix` printed a non-empty patch
    fix_ok: bool = False  # `coroner fix` exited 0
    dockerignore_hunk: bool = False
    patch_applies: bool = False
    git_applies: bool = False
    left: list[str] = field(default_factory=list)  # fixable findings (and dockerignore-missing) after the fix
    tools_left: bool = False  # build-tools-in-final-stage after the fix (fixable or not)
    error: str = ""

    @property
    def clean(self) -> bool:
        return self.patch_applies and self.git_applies and not self.left


def run(cmd: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(cwd)}
    # Bytes, decoded without newline translation: text mode turns a CRLF Dockerfile's patch into LF lines,
    # which then no longer apply.
    done = subprocess.run(cmd, cwd=cwd, input=stdin.encode("utf-8", "surrogateescape") if stdin is not None else None,
                          capture_output=True, env=env, timeout=120)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8", "surrogateescape"),
                                       done.stderr.decode("utf-8", "replace"))


def evaluate(src: Path, tmp: Path) -> Outcome:
    out = Outcome(src.name)
    context = tmp / "context"
    context.mkdir()
    shutil.copyfile(src, context / "Dockerfile")
    fixed = run([*CORONER, "fix", "Dockerfile"], context)
    out.fix_ok = fixed.returncode == 0
    if not out.fix_ok:
        out.error = fixed.stderr.strip().splitlines()[-1] if fixed.stderr.strip() else f"exit {fixed.returncode}"
        return out
    patch = fixed.stdout
    out.patch = bool(patch.strip())
    out.dockerignore_hunk = "+++ b/.dockerignore" in patch
    for tool, cmd in (("patch", ["patch", "-p1", "--batch", "--silent"]), ("git", ["git", "apply", "-"])):
        copy = tmp / tool
        shutil.copytree(context, copy)
        applied = run(cmd, copy, stdin=patch) if out.patch else None
        ok = applied is None or applied.returncode == 0
        if tool == "patch":
            out.patch_applies = ok
            if not ok and applied is not None:
                out.error = (applied.stdout + applied.stderr).strip()[:160]
        else:
            out.git_applies = ok
            if not ok and applied is not None and not out.error:
                out.error = applied.stderr.strip()[:160]
    if not out.patch_applies:
        return out
    relint = run([*CORONER, "lint", "--format", "json", "--fail-on", "none", "Dockerfile"], tmp / "patch")
    try:
        findings = json.loads(relint.stdout)
    except json.JSONDecodeError:
        out.error = f"re-lint printed no JSON: {relint.stderr.strip()[:160]}"
        out.left = ["(re-lint failed)"]
        return out
    for f in findings:
        rule = f.get("rule")
        # `fixable` and `line` are top-level fields of the JSON finding (bot/dockerfile/report.py), not evidence
        if f.get("fixable") or rule == "dockerignore-missing":
            out.left.append(f"{rule}@{f.get('line')}")
        if rule == "build-tools-in-final-stage":
            out.tools_left = True
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="directory of Dockerfiles (every *Dockerfile* file in it)")
    parser.add_argument("--verbose", action="store_true", help="one line per file")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"not a directory: {args.corpus}")
    sources = sorted(p for p in args.corpus.iterdir() if p.is_file() and "dockerfile" in p.name.lower())
    if not sources:
        sys.exit(f"no Dockerfile in {args.corpus}")
    results = []
    for src in sources:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(evaluate(src, Path(tmp)))
    if args.verbose:
        for r in results:
            state = "ok" if r.clean else "FAIL"
            print(f"- {state} {r.name}: patch={r.patch} .dockerignore={r.dockerignore_hunk} "
                  f"patch-p1={r.patch_applies} git-apply={r.git_applies} left={r.left} {r.error}".rstrip())
        print()
    n = len(results)

    def count(pred: Callable[[Outcome], bool]) -> str:
        return f"{sum(1 for r in results if pred(r))}/{n}"

    print("| measure | files |")
    print("|---|---:|")
    print(f"| `coroner fix` exits 0 | {count(lambda r: r.fix_ok)} |")
    print(f"| prints one non-empty patch | {count(lambda r: r.patch)} |")
    print(f"| the patch holds a `.dockerignore` hunk | {count(lambda r: r.dockerignore_hunk)} |")
    print(f"| applies with `patch -p1` | {count(lambda r: r.patch_applies)} |")
    print(f"| applies with `git apply` | {count(lambda r: r.git_applies)} |")
    print(f"| re-lint: no fixable finding, no `dockerignore-missing` | {count(lambda r: r.patch_applies and not r.left)} |")
    print(f"| re-lint: no `build-tools-in-final-stage` at all | {count(lambda r: r.patch_applies and not r.tools_left)} |")
    print(f"| all of the above but the last | {count(lambda r: r.clean)} |")
    failing = [r for r in results if not r.clean]
    if failing:
        print("\nNot clean:\n")
        for r in failing:
            print(f"- {r.name}: left={r.left} {r.error}".rstrip())


if __name__ == "__main__":
    main()
