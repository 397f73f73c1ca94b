import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.postmortem import build_view, content_hash, render_postmortem
from tests.cli_process import CORONER


@pytest.fixture
def bundle(tmp_path: Path, incident, timeline, findings, candidates, image, fix) -> Path:
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps({
        "incident": incident.to_json(),
        "timeline": [e.to_json() for e in timeline],
        "findings": [f.to_json() for f in findings],
        "rollback_candidates": [c.to_json() for c in candidates],
        "image": image.to_json(),
        "dockerfile_fix": fix.to_json(),
    }))
    return path


def test_render_matches_the_library(bundle: Path, tmp_path: Path, incident, timeline, findings, candidates,
                                    image, fix) -> None:
    expected = render_postmortem(build_view(incident=incident, timeline=timeline, findings=findings,
                                            rollback_candidates=candidates, image=image, dockerfile_fix=fix))
    result = CliRunner().invoke(main, ["postmortem", "render", str(bundle)])
    assert result.exit_code == 0, result.output
    assert result.output == expected

    out = tmp_path / "out" / "pm.md"
    result = CliRunner().invoke(main, ["postmortem", "render", str(bundle), "-o", str(out)])
    assert result.exit_code == 0
    assert out.read_text() == expected
    assert result.output == f"{out} sha256:{content_hash(expected)}\n"


def test_templates_copy_then_override(bundle: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    tdir = tmp_path / "templates"
    assert runner.invoke(main, ["postmortem", "templates", str(tdir)]).exit_code == 0
    template = tdir / "postmortem.md.j2"
    template.write_text(template.read_text().replace("## Summary", "## TL;DR"))
    result = runner.invoke(main, ["postmortem", "render", str(bundle), "--templates-dir", str(tdir)])
    assert "## TL;DR" in result.output
    again = runner.invoke(main, ["postmortem", "templates", str(tdir)])
    assert again.exit_code == 1 and "exists; pass --force" in again.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        ("[]", "the bundle must be a JSON object"),
        ("{}", "incident: missing"),
        ('{"incident": {"id": "i"}}', "incident: missing field 'title'"),
        ('{"incident": {"id": "i", "title": "t", "created_at": "yesterday"}}', "incident: Invalid isoformat"),
        ('{"incident": {"id": "i", "title": "t", "created_at": "2024-05-14T03:02:11"},'
         ' "findings": [{"rule": "r", "severity": "bad", "title": "t"}]}', "findings[0]: 'bad' is not a valid"),
    ],
)
def test_bad_bundle_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = CliRunner().invoke(main, ["postmortem", "render", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"coroner: error: {path}: ")
    assert message in result.output


@pytest.mark.slow  # renders in several processes
def test_same_bytes_across_processes_and_hash_seeds(bundle: Path) -> None:
    import os
    import subprocess

    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [*CORONER, "postmortem", "render", str(bundle)],
            capture_output=True, env=env, check=True,
        )
        outputs.add(run.stdout)
    assert len(outputs) == 1
    assert outputs.pop().startswith(b"# Postmortem: user-profile-service")


def test_the_docs_smallest_bundle_renders(tmp_path: Path) -> None:
    """docs/postmortem.md offers a bundle to try `coroner postmortem render` with: it must render."""
    doc = (Path(__file__).resolve().parents[3] / "docs" / "postmortem.md").read_text()
    (example,) = doc.split("```json\n")[1:]
    path = tmp_path / "evidence.json"
    path.write_text(example.split("```", 1)[0])
    result = CliRunner().invoke(main, ["postmortem", "render", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Postmortem: disk full on the API nodes\n")
