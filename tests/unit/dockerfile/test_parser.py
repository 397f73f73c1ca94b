"""The parser keeps BuildKit's syntax, exact lines and original text; bad input is a DockerfileParseError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dockerfile.parser import DockerfileParseError, expand, parse
from bot.ports import CoronerError

MULTI = """\
# syntax=docker/dockerfile:1.7
ARG PY=3.11
ARG VARIANT
FROM python:${PY}-${VARIANT:-slim} AS Build
RUN apt-get update \\
  # a comment inside the continuation
  && apt-get install -y gcc \\

  && rm -rf /var/lib/apt/lists/*
RUN --mount=type=cache,target=/root/.cache/pip <<EOF
pip install -r requirements.txt
echo done
EOF
COPY <<-A /a.txt <<B /b.txt
\thello
\tA
world
B
FROM scratch
COPY --from=build --chown=1000:1000 --link /app /app
ONBUILD RUN echo hi
HEALTHCHECK NONE
SHELL ["/bin/bash", "-c"]
ENV A=1 B="two words"
ENV LEGACY value with spaces
CMD ["python", "app.py"]
"""


def test_stages_and_arg_substitution_in_from() -> None:
    d = parse(MULTI)
    assert d.directives == {"syntax": "docker/dockerfile:1.7"}
    assert [(s.index, s.name, s.base_image) for s in d.stages] == [(0, "build", "python:3.11-slim"), (1, None, "scratch")]
    assert d.stages[0].base_image_raw == "python:${PY}-${VARIANT:-slim}"
    assert [i.keyword for i in d.global_args] == ["ARG", "ARG"]
    assert d.stages[1].instructions[0].keyword == "FROM"
    assert d.final_stage.index == 1


def test_continuation_with_comment_and_blank_lines_keeps_lines_and_original() -> None:
    d = parse(MULTI)
    run = d.instructions[3]
    assert (run.keyword, run.line, run.end_line) == ("RUN", 5, 9)
    assert "# a comment inside the continuation" in run.original
    assert run.original == "\n".join(MULTI.splitlines()[4:9])
    assert "comment" not in run.arguments
    assert run.arguments.startswith("apt-get update") and run.arguments.endswith("/var/lib/apt/lists/*")


def test_heredocs_flags_and_exec_forms() -> None:
    d = parse(MULTI)
    run = d.instructions[4]
    assert run.flag("mount") == "type=cache,target=/root/.cache/pip"
    assert run.heredocs[0].content == "pip install -r requirements.txt\necho done\n"
    assert (run.line, run.end_line) == (10, 13)
    assert "pip install" in run.shell_script
    copy = d.instructions[5]
    assert [h.content for h in copy.heredocs] == ["hello\n", "world\n"]
    assert copy.heredocs[0].strip_tabs and not copy.heredocs[1].strip_tabs
    assert copy.end_line == 18
    cp = d.instructions[7]
    assert cp.flag("from") == "build" and cp.flag("chown") == "1000:1000" and cp.flag("link") == ""
    assert cp.flag("chmod") is None
    assert d.instructions[-1].exec_form == ("python", "app.py")
    shell = [i for i in d.instructions if i.keyword == "SHELL"][0]
    assert shell.exec_form == ("/bin/bash", "-c")


def test_onbuild_healthcheck_none_and_env_pairs() -> None:
    d = parse(MULTI)
    onbuild = [i for i in d.instructions if i.keyword == "ONBUILD"][0]
    assert onbuild.onbuild is not None and onbuild.onbuild.keyword == "RUN"
    assert onbuild.onbuild.arguments == "echo hi"
    hc = [i for i in d.instructions if i.keyword == "HEALTHCHECK"][0]
    assert hc.arguments == "NONE"
    envs = [i.pairs for i in d.instructions if i.keyword == "ENV"]
    assert envs == [(("A", "1"), ("B", "two words")), (("LEGACY", "value with spaces"),)]


def test_escape_directive_backtick() -> None:
    d = parse("# escape=`\nFROM mcr.microsoft.com/windows/servercore\nRUN dir `\n  c:\\\nCMD echo c:\\\n")
    assert d.escape == "`"
    run = d.instructions[1]
    assert (run.line, run.end_line) == (3, 4)
    assert run.arguments == "dir c:\\"
    assert d.instructions[2].arguments == "echo c:\\"


def test_shell_form_falls_back_when_json_is_invalid() -> None:
    d = parse("FROM alpine\nCMD ['sh', '-c', 'x']\nENTRYPOINT [\"a\", 1]\n")
    assert d.instructions[1].exec_form is None
    assert d.instructions[2].exec_form is None


def test_lowercase_keywords_indentation_and_crlf() -> None:
    d = parse("from alpine as base\r\n  run echo hi\r\n")
    assert [i.keyword for i in d.instructions] == ["FROM", "RUN"]
    assert d.stages[0].name == "base"
    assert d.instructions[1].arguments == "echo hi"


def test_leading_comments_are_attached() -> None:
    d = parse("FROM alpine\n# hadolint ignore=DL3018\n# coroner: ignore=sudo\nRUN apk add x\n\n# far\n\nRUN x\n")
    assert d.instructions[1].leading_comments == ("# hadolint ignore=DL3018", "# coroner: ignore=sudo")
    assert d.instructions[2].leading_comments == ()


def test_base_stage_lookup() -> None:
    d = parse("FROM golang:1.22 AS build\nRUN go build\nFROM build AS test\nFROM alpine\n")
    assert d.stages[1].base_stage(d.stages) is d.stages[0]
    assert d.stages[2].base_stage(d.stages) is None
    assert d.stage_by_name("BUILD") is d.stages[0]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("FROM alpine\nFOO bar\n", 2, "unknown instruction: FOO"),
        ("RUN echo\nFROM alpine\n", 1, "before the first FROM"),
        ("", 1, "no FROM"),
        ("# just a comment\n", 1, "no FROM"),
        ("FROM alpine\nRUN <<EOF\necho\n", 2, "unterminated heredoc"),
        ("FROM alpine AS\n", 1, "FROM requires either one or three arguments"),
        ("FROM alpine\nSHELL /bin/sh -c\n", 2, "JSON form"),
        ("FROM alpine\nHEALTHCHECK --interval=5s curl x\n", 2, "NONE or CMD"),
        ("FROM alpine\nHEALTHCHECK CMD\n", 2, "requires a command"),
        ("FROM alpine\nONBUILD FROM x\n", 2, "isn't allowed as an ONBUILD trigger"),
        ("FROM alpine\nRUN\n", 2, "requires at least one argument"),
        ("ARG X=\nFROM ${X:-}\n", 2, "should not be blank"),
        ("# escape=x\nFROM a\n", 1, "invalid escape"),
        ("FROM alpine\nENV =x\n", 2, "ENV names"),
    ],
)
def test_parse_errors_name_file_and_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(DockerfileParseError) as info:
        parse(text, path="svc/Dockerfile")
    err = info.value
    assert isinstance(err, CoronerError)
    assert err.exit_code == 2
    assert err.line == line
    assert str(err).startswith(f"svc/Dockerfile:{line}: ")
    assert reason in str(err)


def test_expand_forms() -> None:
    v = {"A": "1", "E": "", "N": None}
    assert expand("${A}-$A-${B:-d}-${E:-d}-${E-d}-${A:+x}-${B+x}-${N-d}", v) == "1-1-d-d--x--"


_LINES = st.sampled_from(
    [
        "FROM alpine", "FROM ${X:-a} AS b", "ARG X=1", "RUN a && b \\", "# c", "", "RUN <<EOF", "EOF",
        "COPY --from=b . .", "CMD [\"a\"]", "CMD [", "ONBUILD", "HEALTHCHECK NONE", "SHELL [\"sh\"]", "\\",
        "# escape=`", "ENV A", "  run x", "EXPOSE 80", "USER 1000", "<<-E", "\tE", "LABEL a=\"b",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_LINES, st.text(max_size=30)), max_size=12))
def test_fuzz_only_parse_errors(lines: list[str]) -> None:
    try:
        d = parse("\n".join(lines))
    except DockerfileParseError as exc:
        assert exc.exit_code == 2 and exc.line >= 1  # noqa: PT017 - the input may parse: only a parse error may raise
        return
    for ins in d.instructions:
        assert 1 <= ins.line <= ins.end_line <= len(d.lines)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_arbitrary_text(text: str) -> None:
    try:
        parse(text)
    except DockerfileParseError:
        pass


def test_unterminated_substitution_in_from_is_a_parse_error() -> None:
    with pytest.raises(DockerfileParseError) as info:
        parse("ARG V=3.20\nFROM alpine:${V:-x\n")
    assert info.value.line == 2 and info.value.exit_code == 2
    assert parse("ARG V=3.20\nFROM alpine:${V:-3.19}\n").stages[0].base_image == "alpine:3.20"


def test_a_stage_built_from_a_stage_starts_with_its_shell() -> None:
    d = parse('FROM debian:12-slim AS base\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\nFROM base AS a\n'
              'RUN x\nSHELL ["pwsh", "-Command"]\nFROM a\nRUN y\nFROM debian:12-slim\nRUN z\n')
    assert d.stages[1].inherited_shell == ("/bin/bash", "-o", "pipefail", "-c")
    assert d.stages[2].inherited_shell == ("pwsh", "-Command")  # a's last SHELL, not base's
    assert d.stages[3].inherited_shell is None  # an image, not a stage: the platform default
    assert [i.line for i in d.shell_runs()] == [4, 9]  # y runs under pwsh: no shell script to read
