"""BuildKit idioms and Windows images: the readings behind tests/dockerfile_buildkit.py, one class each."""

from __future__ import annotations

from pathlib import Path

from bot.dockerfile.parser import parse
from bot.dockerfile.rules import lint


def rules(text: str, context: Path | None = None) -> set[str]:
    return {f.rule for f in lint(parse(text), context=context)}


def test_a_windows_image_runs_cmd_not_a_posix_shell_until_a_shell_says_so() -> None:
    text = "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN pip install requests\nCOPY app.py C:/app/\n"
    assert parse(text).stages[0].windows and list(parse(text).shell_runs()) == []
    assert rules(text) & {"pip-cache", "copy-without-link"} == set()  # cmd's RUN; no --link on the legacy builder
    posix = text.replace("RUN", 'SHELL ["bash", "-c"]\nRUN', 1)
    assert [i.line for i in parse(posix).shell_runs()] == [3]
    # a stage built FROM a Windows stage is Windows too
    assert parse(text + "FROM 0 AS other\n".replace("0", "mcr.microsoft.com/windows/servercore:ltsc2022")).stages[1].windows
    assert not parse("FROM python:3.12-slim\n").legacy_builder


def test_only_a_whole_context_use_sends_the_junk_beside_what_is_named(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref\n")
    (tmp_path / "app.py").write_text("x\n")
    named = "FROM python:3.12-slim\nCOPY --link app.py /app/\nUSER 1\n"
    assert "dockerignore-missing" not in rules(named, tmp_path)
    bind = 'FROM golang:1.22 AS b\nRUN --mount=type=bind,target=. go build -o /a .\nFROM scratch\nCOPY --link --from=b /a /a\n'
    assert "dockerignore-missing" in rules(bind, tmp_path)
    other_stage = bind.replace("type=bind,target=.", "type=bind,from=deps,target=.")
    assert "dockerignore-missing" not in rules(other_stage, tmp_path)
    windows = "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nCOPY app.py C:/app/\n"
    assert "dockerignore-missing" in rules(windows, tmp_path)  # the legacy builder sends everything


def test_user_not_numeric_is_about_the_user_the_image_config_holds() -> None:
    assert "user-not-numeric" not in rules("FROM debian:bookworm-slim\nUSER root\nRUN true\nUSER 1001\n")
    assert "user-not-numeric" not in rules("FROM debian:bookworm-slim AS b\nUSER builder\nFROM scratch\nUSER 1\n")
    assert "user-not-numeric" in rules("FROM debian:bookworm-slim\nUSER 0\nUSER app\n")


def test_a_ci_agent_ships_its_build_tools_on_purpose() -> None:
    install = "RUN apt-get update && apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/*\n"
    assert "build-tools-in-final-stage" not in rules("FROM jenkins/inbound-agent:3256.v88a_f6e922152-1-jdk17\n" + install)
    assert "build-tools-in-final-stage" in rules("FROM debian:bookworm-slim\n" + install)
