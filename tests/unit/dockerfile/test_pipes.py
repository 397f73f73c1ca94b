"""pipefail: which RUN pipelines hide a failure, under which SHELL, and how `coroner fix` adds pipefail."""

from __future__ import annotations

import pytest

from bot.dockerfile.fix import fix
from bot.dockerfile.parser import parse
from bot.dockerfile.rules import lint
from bot.domain import Finding

SHELL_BASH = 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]'


def pipefail(text: str) -> list[Finding]:
    return [f for f in lint(parse(text)) if f.rule == "pipefail"]


def lines(text: str) -> list[int]:
    return [int(f.evidence["line"]) for f in pipefail(text)]


@pytest.mark.parametrize("run", [
    "RUN curl -fsSL https://example.com/a.tgz | tar -xz",
    "RUN set -e; wget -qO- https://example.com/k.asc | gpg --import",
    "RUN cd /src && make | tee build.log && echo done",
    "RUN a || b | c",  # the `|` after `||` is a pipe
    "RUN echo 'x|y' | tr x z",  # quoted bars are text, the last `|` is a pipe
    "RUN a | b && set -o pipefail",  # set too late: the pipe already ran
    "RUN set -e; n=$(ls /deps | wc -l); test $n -gt 0",  # a bare assignment's status is the substitution's
    'RUN count="$(find / -name x | wc -l)" && echo $count',
    "RUN v=`git describe | cut -c2-` && echo $v",
])
def test_a_pipe_under_the_default_shell_is_reported(run: str) -> None:
    assert lines(f"FROM debian:12-slim\n{run}\n") == [2]


@pytest.mark.parametrize("run", [
    "RUN a || b",
    'RUN echo "a | b" > /etc/motd',
    "RUN echo 'a|b' > /etc/motd && grep -q x /f || echo none",
    "RUN echo $(ls | wc -l) > /count",  # echo's status, not the substitution's, is the command's
    "RUN n=$((1 | 2)) && echo $n",  # arithmetic, not a pipe
    "RUN set -o pipefail; n=$(ls | wc -l)",
    'RUN ["sh", "-c", "curl -fsSL https://example.com | tar -xz"]',  # exec form: no SHELL, no pipefail to add
    "RUN set -o pipefail && curl -fsSL https://example.com/a.tgz | tar -xz",
    "RUN set -euxo pipefail; curl -fsSL https://example.com/a.tgz | tar -xz",
    "RUN bash -o pipefail -c 'curl -fsSL https://example.com/a.tgz | tar -xz'",  # another shell, its own options
])
def test_no_pipe_or_pipefail_already_is_quiet(run: str) -> None:
    assert lines(f"FROM debian:12-slim\n{run}\n") == []


@pytest.mark.parametrize("shell", [
    '["/bin/bash", "-o", "pipefail", "-c"]',
    '["/bin/ash", "-eo", "pipefail", "-c"]',
    '["bash", "-euxo", "pipefail", "-c"]',
])
def test_a_shell_with_pipefail_covers_later_runs(shell: str) -> None:
    assert lines(f"FROM debian:12-slim\nSHELL {shell}\nRUN a | b\n") == []


def test_a_shell_without_pipefail_does_not() -> None:
    assert lines('FROM debian:12-slim\nSHELL ["/bin/bash", "-c"]\nRUN a | b\n') == [3]


def test_only_runs_after_the_shell_are_covered() -> None:
    assert lines(f"FROM debian:12-slim\nRUN a | b\n{SHELL_BASH}\nRUN c | d\n") == [2]


def test_the_shell_of_a_stage_is_inherited_by_stages_built_from_it() -> None:
    text = f"FROM debian:12-slim AS base\n{SHELL_BASH}\nFROM base AS app\nRUN a | b\nFROM debian:12-slim\nRUN c | d\n"
    assert lines(text) == [6]  # `app` inherits base's SHELL; the last stage starts from an image


def test_an_inherited_non_posix_shell_keeps_runs_out_of_shell_rules() -> None:
    text = 'FROM debian:12-slim AS base\nSHELL ["pwsh", "-Command"]\nFROM base\nRUN Get-Item a | Select-Object b\nRUN sudo x\n'
    assert lines(text) == []
    assert not [f for f in lint(parse(text)) if f.rule == "sudo"]


def test_windows_images_run_cmd_not_a_posix_shell() -> None:
    text = "FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS w\nRUN dir | findstr x\nFROM w\nRUN type a | more\n"
    assert lines(text) == []


def test_a_posix_shell_on_windows_is_read() -> None:
    text = 'FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS w\nSHELL ["bash", "-c"]\nFROM w\nRUN a | b\n'
    assert lines(text) == [4]


def test_a_heredoc_run_is_a_shell_script() -> None:
    assert lines("FROM alpine:3.20\nRUN <<EOF\nset -e\ncurl -fsSL https://example.com | tar -xz\nEOF\n") == [2]
    assert lines("FROM alpine:3.20\nRUN <<EOF\nset -o pipefail\ncurl x | tar -xz\nEOF\n") == []


def test_a_heredoc_body_that_is_data_is_not_a_pipe() -> None:
    assert lines("FROM alpine:3.20\nRUN cat > /etc/x.sh <<EOF\na | b\nEOF\n") == []


def test_a_shebang_heredoc_is_run_by_its_interpreter() -> None:
    python = "FROM python:3.12-slim\nRUN <<EOF\n#!/usr/bin/env python3\nprint(1 | 2)\nEOF\n"
    assert lines(python) == []
    bash = "FROM debian:12-slim\nRUN <<EOF\n#!/bin/bash\ncurl x | tar -xz\nEOF\n"
    (f,) = pipefail(bash)
    assert f.evidence["fixable"] is False and "#!" in f.evidence["why_left"]
    # a SHELL does not reach a #! script
    assert lines(f"FROM debian:12-slim\n{SHELL_BASH}\nRUN <<EOF\n#!/bin/bash\ncurl x | tar -xz\nEOF\n") == [3]


def test_the_finding_names_the_pipe_and_carries_dl4006() -> None:
    (f,) = pipefail("FROM debian:12-slim\nRUN curl -fsSL https://example.com | tar -xz\n")
    assert f.evidence["pipe"] == "curl | tar"
    assert f.evidence["hadolint"] == "DL4006"
    assert "curl" in f.title and f.evidence["base_shell"] == "debian"


def test_a_case_inside_a_substitution_does_not_hide_which_commands_pipe() -> None:
    # A `case` pattern's `)` once ended the `$(` early, and the title quoted pattern text as the pipe.
    run = ('RUN v=$(case "$(uname -m)" in x86_64) echo amd64;; (aarch64|arm64) echo arm64;; esac) '
           '&& curl -fsSL "https://example.com/$v.tgz" | tar -xz -C /opt')
    (finding,) = pipefail(f"FROM debian:12-slim\n{run}\n")
    assert finding.title.startswith("RUN pipes curl into tar without pipefail")


def test_hadolint_ignore_applies() -> None:
    assert lines("FROM debian:12-slim\n# hadolint ignore=DL4006\nRUN a | b\n") == []


@pytest.mark.parametrize(("base", "family"), [
    ("ubuntu:24.04", "debian"), ("python:3.12-slim-bookworm", "debian"), ("node:22-bookworm-slim", "debian"),
    ("fedora:40", "rhel"), ("registry.access.redhat.com/ubi9/ubi-minimal:9.4", "rhel"),
    ("alpine:3.20", "ash"), ("python:3.12-alpine3.20", "ash"), ("busybox:1.36", "ash"),
    ("example.com/team/base:1.0", None),
])
def test_the_base_image_tells_the_shell(base: str, family: str | None) -> None:
    (f,) = pipefail(f"FROM {base}\nRUN a | b\n")
    assert f.evidence["base_shell"] == family
    assert f.evidence["fixable"] is (family is not None)


def test_the_package_manager_tells_the_shell_when_the_image_does_not() -> None:
    (f,) = pipefail("FROM example.com/team/base:1.0\nRUN apt-get update && a | b\n")
    assert f.evidence["base_shell"] == "debian"


# --- fix -----------------------------------------------------------------------------------------


def test_debian_gets_a_bash_shell_before_the_first_pipe_once_per_chain() -> None:
    text = "FROM debian:12-slim AS a\nRUN true\nRUN a | b\nRUN c | d\nFROM a\nRUN e | f\n"
    r = fix(text)
    assert r.text.count("SHELL [") == 1
    assert r.text.splitlines()[2] == SHELL_BASH
    assert pipefail(r.text) == []
    assert "set -o pipefail" not in r.text  # never a `set` on dash


def test_alpine_gets_a_set_prefix_and_keeps_its_shell() -> None:
    r = fix("FROM alpine:3.20\nRUN --mount=type=cache,target=/x wget -qO- x | tar -xz\n")
    assert "RUN --mount=type=cache,target=/x set -o pipefail && wget -qO- x | tar -xz" in r.text
    assert "SHELL" not in r.text and pipefail(r.text) == []


def test_an_alpine_heredoc_gets_a_set_line() -> None:
    r = fix("FROM alpine:3.20\nRUN <<EOF\nwget -qO- x | tar -xz\nEOF\n")
    assert "RUN <<EOF\nset -o pipefail\nwget -qO- x | tar -xz\nEOF" in r.text


def test_an_unknown_base_is_left_with_the_reason() -> None:
    r = fix("FROM example.com/team/base:1.0\nRUN a | b\n")
    assert "a | b" in r.text and "SHELL" not in r.text and "set -o pipefail" not in r.text
    assert any(n.startswith("pipefail (line 2): left alone") and "dash" in n for n in r.notes)


def test_an_echo_with_escapes_keeps_debian_on_dash() -> None:
    text = 'FROM debian:12-slim\nRUN a | b\nRUN echo "x\\ny" > /etc/f\n'
    (f,) = pipefail(text)
    assert f.evidence["fixable"] is False and "echo" in f.evidence["why_left"]
    r = fix(text)
    assert "SHELL" not in r.text
    assert any("pipefail (line 2): left alone" in n and "echo" in n for n in r.notes)
