"""`coroner lint` and `coroner fix`, as processes, on the Dockerfiles of tests/dockerfile_judged.py and
tests/dockerfile_buildkit.py: the lint
reports exactly the rule ids written down for each file (no false positive, no miss), the fix is one patch
that real `patch -p1` applies, .dockerignore included, and the patched file re-lints with no fixable finding,
no `dockerignore-missing` and no build toolchain in the final stage. The fix keeps every BuildKit feature the
file used: RUN's mounts and network, COPY/ADD's flags, SHELL, heredoc bodies."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.dockerfile.parser import Instruction, parse
from tests.cli_process import CORONER, cli_env
from tests.dockerfile_buildkit import BUILDKIT
from tests.dockerfile_judged import JUDGED, Judged

CASES: dict[str, Judged] = {**JUDGED, **BUILDKIT}

pytestmark = pytest.mark.slow  # coroner processes


def context(root: Path, name: str) -> Path:
    root.mkdir()
    for file in CASES[name].files:
        (root / file).parent.mkdir(parents=True, exist_ok=True)
        (root / file).write_text("x\n")
    (root / "Dockerfile").write_text(CASES[name].text)
    return root


def coroner(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CORONER, *args], cwd=cwd, capture_output=True, text=True, env=cli_env())


def lint(root: Path) -> list[dict[str, object]]:
    done = coroner(root, "lint", "--format", "json", "--fail-on", "none", "Dockerfile")
    assert done.returncode == 0, done.stderr
    findings: list[dict[str, object]] = json.loads(done.stdout)
    return findings


@pytest.mark.parametrize("name", sorted(CASES))
def test_lint_reports_exactly_the_expected_rules(name: str, tmp_path: Path) -> None:
    found = {str(f["rule"]) for f in lint(context(tmp_path / "repo", name))}
    expected = CASES[name].expected
    assert (sorted(found - expected), sorted(expected - found)) == ([], []), "(false positives, misses)"


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_parser_keeps_every_line(name: str) -> None:
    case = CASES[name]
    d = parse(case.text)
    assert len(d.stages) == case.stages
    covered: set[int] = set()
    for ins in d.instructions:
        assert ins.original == "\n".join(d.lines[ins.line - 1:ins.end_line])
        span = set(range(ins.line, ins.end_line + 1))
        assert not covered & span, f"line {ins.line} is in two instructions"
        covered |= span
    for number, line in enumerate(d.lines, 1):  # what no instruction holds is a comment, a directive or blank
        assert number in covered or not line.strip() or line.lstrip().startswith("#"), line


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_patch_applies_and_leaves_nothing_fixable_nor_a_toolchain(name: str, tmp_path: Path) -> None:
    if shutil.which("patch") is None:
        pytest.skip("patch is not installed")
    root = context(tmp_path / "repo", name)
    fixed = coroner(root, "fix", "Dockerfile")
    assert fixed.returncode == 0, fixed.stderr
    patch = fixed.stdout
    if not any(f["fixable"] for f in lint(root)):
        assert patch == "", patch  # nothing to fix: no patch, not an empty one
        return
    assert patch.startswith(("--- a/Dockerfile\n+++ b/Dockerfile\n", "--- /dev/null"))
    copy = tmp_path / "applied"
    shutil.copytree(root, copy)
    done = subprocess.run(["patch", "-p1", "--batch", "--silent"], input=patch, text=True, cwd=copy,
                          capture_output=True)
    assert done.returncode == 0, done.stdout + done.stderr + patch
    if "dockerignore-missing" in CASES[name].expected:
        assert "+++ b/.dockerignore" in patch and (copy / ".dockerignore").is_file()
    after = lint(copy)
    left = [f"{f['rule']}@{f['line']}" for f in after if f["fixable"] or f["rule"] == "dockerignore-missing"]
    assert left == [], (left, (copy / "Dockerfile").read_text(), fixed.stderr)
    toolchain = [f for f in after if f["rule"] == "build-tools-in-final-stage"]
    why = CASES[name].toolchain_stays
    assert bool(toolchain) == bool(why), (toolchain, (copy / "Dockerfile").read_text())
    if why:  # left alone, and the fix says precisely why
        assert why in fixed.stderr, fixed.stderr


def buildkit_features(text: str) -> list[str]:
    """What BuildKit reads that a fix must keep, in file order: each flag of each instruction (ONBUILD triggers
    included), each SHELL, each heredoc body."""
    out: list[str] = []

    def of(ins: Instruction) -> None:
        out.extend(f"{ins.keyword} --{f.name}={f.value}" for f in ins.flags if f.name != "link")
        out.extend(h.content for h in ins.heredocs)
        if ins.keyword == "SHELL":
            out.append(ins.arguments)
        if ins.onbuild is not None:
            of(ins.onbuild)

    for ins in parse(text).instructions:
        of(ins)
    return out


@pytest.mark.parametrize("name", sorted(BUILDKIT))
def test_the_fix_keeps_every_buildkit_feature(name: str, tmp_path: Path) -> None:
    if shutil.which("patch") is None:
        pytest.skip("patch is not installed")
    root = context(tmp_path / "repo", name)
    fixed = coroner(root, "fix", "Dockerfile")
    assert fixed.returncode == 0, fixed.stderr
    if fixed.stdout:
        subprocess.run(["patch", "-p1", "--batch", "--silent"], input=fixed.stdout, text=True, cwd=root, check=True,
                       capture_output=True)
    after = (root / "Dockerfile").read_text()
    kept = buildkit_features(after)
    lost = [feature for feature in buildkit_features(CASES[name].text) if feature not in kept]
    assert lost == [], after
    # `--link` may be added by the fix, never removed
    assert after.count("--link") >= CASES[name].text.count("--link"), after
