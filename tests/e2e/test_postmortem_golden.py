"""The demo's postmortem draft, held as a golden file: a change to the draft's wording or shape shows up
as a diff in review, like code.

Regenerate after an intended change (one command), then review `git diff tests/e2e/golden/`:

    CORONER_UPDATE_GOLDEN=1 PYTHONPATH=$PWD pytest -q tests/e2e/test_postmortem_golden.py

The draft is the one `coroner demo` stores through `serve`'s path (signed PagerDuty deliveries, the
workers, the store). Only what changes from run to run is normalised: the demo's working directory,
which the Dockerfile findings name as their `file`, and the wall-clock time the diagnosis ran, which the
rollback evidence records as `now`. Everything else is deterministic by design (the incident's own times
come from the scenario).
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.postmortem.markdown import escape

pytestmark = pytest.mark.slow  # the whole demo

GOLDEN = Path(__file__).parent / "golden" / "demo-postmortem.md"
UPDATE = os.environ.get("CORONER_UPDATE_GOLDEN") == "1"


# `now: 2026-11-29 21:58:59` in the rollback evidence: when the diagnosis ran.
RUN_TIME = re.compile(r"(\bnow: )\d{4}-\d\d-\d\d \d\d:\d\d:\d\d()")


def normalise(text: str, workdir: Path) -> str:
    """The working directory, as the draft prints it (Markdown-escaped) and plain; the run's clock."""
    for path in {str(workdir.resolve()), str(workdir)}:
        text = text.replace(escape(path), "<workdir>").replace(path, "<workdir>")
    return RUN_TIME.sub(r"\1<run time>\2", text)


def test_the_demos_draft_matches_the_golden_file(tmp_path: Path) -> None:
    workdir = tmp_path / "coroner-demo"
    result = CliRunner().invoke(main, ["demo", "--workdir", str(workdir)])
    assert result.exit_code == 0, result.output
    (draft,) = workdir.glob("postmortem-*.md")
    got = normalise(draft.read_text(encoding="utf-8"), workdir)
    if UPDATE:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(got, encoding="utf-8")
    want = GOLDEN.read_text(encoding="utf-8")
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(keepends=True), got.splitlines(keepends=True),
                                            fromfile=str(GOLDEN.name), tofile="the demo's draft now"))
        raise AssertionError(
            "the demo's postmortem draft changed; if intended, regenerate with\n"
            "  CORONER_UPDATE_GOLDEN=1 PYTHONPATH=$PWD pytest -q tests/e2e/test_postmortem_golden.py\n"
            f"and review the diff:\n{diff}")


def test_the_golden_draft_reads_like_a_postmortem() -> None:
    """What the issue asks of the demo's draft, checked on the golden file itself."""
    text = GOLDEN.read_text(encoding="utf-8")
    sections = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert sections == ["Summary", "Impact", "Detection and response", "Root cause and trigger",
                        "Contributing factors", "Timeline", "Action items", "Lessons", "Appendix"]
    actions = text.split("## Action items", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in actions.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert 1 <= len(rows) <= 10
    timeline = text.split("## Timeline", 1)[1].split("\n## ", 1)[0]
    moments = [line for line in timeline.splitlines() if line.startswith("- **")]
    assert 8 <= len(moments) <= 15
    detection = text.split("## Detection and response", 1)[1].split("\n## ", 1)[0]
    for figure in ("Time to detect", "Time to acknowledge", "Time to mitigate", "Time to resolve"):
        row = next(line for line in detection.splitlines() if line.startswith(f"| {figure} "))
        assert "| missing |" not in row, row


def test_the_golden_drafts_fix_removes_the_culprit() -> None:
    """The patch in the draft: a final stage without the build toolchain, the .dockerignore as a hunk of the
    same patch listing what the image's `COPY .` layer held, and the predicted size, labelled an estimate."""
    text = GOLDEN.read_text(encoding="utf-8")
    patch = text.split("```diff\n", 1)[1].split("\n```", 1)[0]
    dockerfile, dockerignore = patch.split("--- /dev/null\n+++ b/.dockerignore\n", 1)
    fixed = [line[1:] for line in dockerfile.splitlines()[2:] if line[:1] in (" ", "+")]
    final = fixed[max(i for i, line in enumerate(fixed) if line.startswith("FROM ")):]
    assert not [line for line in final if re.search(r"cuda-toolkit|build-essential|\bgit\b", line)], final
    added = {line[1:] for line in dockerignore.splitlines() if line.startswith("+")}
    assert {".git", ".venv", "tests/data"} <= added
    assert "Predicted size after the fix, from the layer evidence: ≈ " in text and "(estimate)" in text
