"""`coroner lint` / `coroner fix` as CI sees them: exit codes, JSON, SARIF, --write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

BAD = "FROM python:3.11\nCOPY . .\nRUN apt-get update\nRUN apt-get install -y gcc\nRUN pip install -r requirements.txt\nCMD python app.py\n"
CLEAN = 'FROM alpine:3.20\nCOPY --link app /app\nUSER 10001:10001\nHEALTHCHECK CMD ["/app", "--health"]\nCMD ["/app"]\n'


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write(tmp_path: Path, text: str, name: str = "Dockerfile") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_clean_file_exits_0(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(main, ["lint", str(write(tmp_path, CLEAN))])
    assert res.exit_code == 0, res.output
    assert res.output == ""


def test_findings_exit_1_and_text(runner: CliRunner, tmp_path: Path) -> None:
    p = write(tmp_path, BAD)
    res = runner.invoke(main, ["lint", str(p)])
    assert res.exit_code == 1
    assert f"{p}:3 apt-lists-not-removed DL3009 medium:" in res.output
    assert "fixable with `coroner fix`" in res.output


def test_fail_on_threshold(runner: CliRunner, tmp_path: Path) -> None:
    p = write(tmp_path, "FROM alpine:3.20\nUSER 10001\nCOPY a /a\nCMD [\"a\"]\n")  # only info findings
    assert runner.invoke(main, ["lint", str(p)]).exit_code == 0
    assert runner.invoke(main, ["lint", "--fail-on", "info", str(p)]).exit_code == 1
    assert runner.invoke(main, ["lint", "--failure-threshold", "info", str(p)]).exit_code == 1
    bad = write(tmp_path, BAD, "Dockerfile.bad")
    assert runner.invoke(main, ["lint", "--fail-on", "error", "--ignore", "build-tools-in-final-stage,dockerignore-missing", str(bad)]).exit_code == 0


def test_json_shape(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(main, ["lint", "--format", "json", str(write(tmp_path, BAD))])
    data = json.loads(res.output)
    assert isinstance(data, list) and data
    for item in data:
        assert {"rule", "severity", "file", "line", "message", "hadolint", "fixable"} <= set(item)
    assert any(i["rule"] == "pip-cache" and i["hadolint"] == "DL3042" and i["fixable"] for i in data)


def test_sarif_2_1_0(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(main, ["lint", "--format", "sarif", str(write(tmp_path, BAD))])
    doc = json.loads(res.output)
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "coroner"
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["endLine"] >= region["startLine"]


def test_parse_error_exits_2_with_file_and_line(runner: CliRunner, tmp_path: Path) -> None:
    p = write(tmp_path, "FROM alpine:3.20\nRUNN echo\n")
    res = runner.invoke(main, ["lint", str(p)])
    assert res.exit_code == 2
    assert f"{p}:2: unknown instruction: RUNN" in res.output


def test_missing_file_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(main, ["lint", str(tmp_path / "nope")])
    assert res.exit_code == 2


def test_stdin(runner: CliRunner) -> None:
    res = runner.invoke(main, ["lint", "--format", "json", "-"], input="FROM alpine:latest\n")
    assert res.exit_code == 1
    assert json.loads(res.output)[0]["file"] == "Dockerfile"


def test_context_audit_in_text(runner: CliRunner, tmp_path: Path) -> None:
    p = write(tmp_path, BAD)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: x\n")
    res = runner.invoke(main, ["lint", "--context", str(tmp_path), str(p)])
    assert "build context" in res.output and "(no .dockerignore)" in res.output
    assert ".git/ [git]" in res.output


def test_fix_prints_diff_and_write_applies(runner: CliRunner, tmp_path: Path) -> None:
    p = write(tmp_path, BAD)
    res = runner.invoke(main, ["fix", str(p)])
    assert res.exit_code == 0
    assert f"--- a/{p.name}" in res.output or "--- a/" in res.output
    assert p.read_text() == BAD
    res = runner.invoke(main, ["fix", "--write", str(p)])
    assert res.exit_code == 0
    assert p.read_text() != BAD and (tmp_path / ".dockerignore").is_file()
    again = runner.invoke(main, ["lint", "--fail-on", "warning", str(p)])
    assert "[fixable]" not in again.output


def test_fix_json(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(main, ["fix", "--format", "json", str(write(tmp_path, BAD))])
    data = json.loads(res.output)
    assert data["changed"] and data["diff"] and isinstance(data["notes"], list)


def test_fix_parse_error_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(main, ["fix", str(write(tmp_path, "FROM a\nBOGUS x\n"))])
    assert res.exit_code == 2
    assert ":2: unknown instruction: BOGUS" in res.output


def test_sarif_locations_resolve_in_code_scanning(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "svc").mkdir()
    path = write(tmp_path / "svc", BAD)
    monkeypatch.chdir(tmp_path)

    def locations(arg: str) -> set[tuple[str, str | None]]:
        doc = json.loads(runner.invoke(main, ["lint", "--format", "sarif", arg]).output)
        return {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                 r["locations"][0]["physicalLocation"]["artifactLocation"].get("uriBaseId"))
                for r in doc["runs"][0]["results"]}

    # Relative to the checkout, whether the path was given relative or absolute.
    assert locations("svc/Dockerfile") == locations(str(path)) == {("svc/Dockerfile", "%SRCROOT%")}
    monkeypatch.chdir(tmp_path / "svc")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    elsewhere = write(outside, BAD)
    assert locations(str(elsewhere)) == {(elsewhere.as_uri(), None)}


def test_build_context_names_cannot_drive_the_terminal(runner: CliRunner, tmp_path: Path) -> None:
    """Regression: a file in the build context named with an escape sequence reached the terminal raw."""
    p = write(tmp_path, "FROM debian:12\nCOPY . /app\n")
    (tmp_path / "id_rsa\x1b[2Jcleared").write_text("x")
    res = runner.invoke(main, ["lint", "--context", str(tmp_path), str(p)])
    assert "\x1b" not in res.output
    assert "id_rsa\\x1b[2Jcleared" in res.output
