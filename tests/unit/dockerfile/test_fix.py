"""`fix` removes every fixable finding, touches nothing else, never invents a version, and its diff applies."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dockerfile.fix import fix, unified_diff
from bot.dockerfile.parser import DockerfileParseError, parse
from bot.dockerfile.rules import lint

POSTMORTEM = """\
FROM python:3.11
COPY . .
RUN apt-get update
RUN apt-get install -y build-essential cuda-toolkit-12-1 libpq-dev
RUN pip install -r requirements.txt
CMD python app.py
"""

NODE = """\
# syntax=docker/dockerfile:1
FROM node:20-slim
WORKDIR /app
COPY . .
RUN npm ci
EXPOSE 3000
CMD node server.js
"""

ALPINE = """\
FROM alpine:3.20
# tools we need
RUN apk update && apk add curl ca-certificates
ADD config.yml /etc/app/config.yml
USER app
RUN apk add jq
ENTRYPOINT ["/usr/local/bin/app"]
"""

MULTI = """\
ARG GO_VERSION=1.22
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -o /out/app ./cmd/app

FROM debian:12-slim
RUN apt-get update && apt-get install -y ca-certificates
COPY --from=build /out/app /usr/local/bin/app
ENTRYPOINT ["/usr/local/bin/app"]
"""

HEREDOC = """\
FROM ubuntu:24.04
RUN <<EOF
apt-get update
apt-get install -y curl
EOF
RUN useradd -u 1234 -m svc
USER svc
CMD ["/bin/true"]
"""

PIPES_DEBIAN = """\
FROM debian:12-slim AS fetch
RUN curl -fsSL https://example.com/a.tgz | tar -xzC /opt
RUN sha256sum /opt/a | cut -d' ' -f1 > /opt/a.sum
FROM fetch
RUN ls /opt | sort
USER 10001
CMD ["/opt/a"]
"""

PIPES_ALPINE = """\
FROM alpine:3.20
RUN wget -qO- https://example.com/a.tgz | tar -xzC /opt
RUN <<EOF
wget -qO- https://example.com/b.tgz | tar -xzC /opt
EOF
USER 10001
CMD ["/opt/a"]
"""

CASES = {"pipes-debian": PIPES_DEBIAN, "pipes-alpine": PIPES_ALPINE, "postmortem": POSTMORTEM, "node": NODE, "alpine": ALPINE, "multi": MULTI, "heredoc": HEREDOC}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixed_file_relints_without_fixable_findings(name: str) -> None:
    result = fix(CASES[name])
    assert result.changed
    fixable = [f for f in lint(parse(result.text)) if f.evidence["fixable"]]
    assert fixable == []
    assert result.diff.startswith("--- a/Dockerfile\n+++ b/Dockerfile\n")


@pytest.mark.parametrize("name", sorted(CASES))
def test_fix_is_idempotent(name: str) -> None:
    once = fix(CASES[name]).text
    twice = fix(once)
    assert twice.text == once and twice.diff == ""


@pytest.mark.skipif(shutil.which("patch") is None, reason="the patch binary is not installed")
@pytest.mark.parametrize("name", sorted(CASES))
def test_diff_applies_with_patch_p1(name: str, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(CASES[name])
    result = fix(CASES[name])
    proc = subprocess.run(["patch", "-p1", "--batch"], input=result.diff, text=True, cwd=tmp_path, capture_output=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "Dockerfile").read_text() == result.text


@pytest.mark.skipif(shutil.which("patch") is None, reason="the patch binary is not installed")
def test_diff_applies_for_a_nested_path_and_no_trailing_newline(tmp_path: Path) -> None:
    text = "FROM alpine:3.20\nCMD app --serve"
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "Dockerfile").write_text(text)
    result = fix(text, path="svc/Dockerfile")
    assert result.diff.startswith("--- a/svc/Dockerfile\n+++ b/svc/Dockerfile\n")
    assert "\\ No newline at end of file" in result.diff
    proc = subprocess.run(["patch", "-p1", "--batch"], input=result.diff, text=True, cwd=tmp_path, capture_output=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "svc" / "Dockerfile").read_text() == result.text


def test_postmortem_case_gives_the_full_rewrite() -> None:
    r = fix(POSTMORTEM)
    text = r.text
    d = parse(text)
    assert [s.name for s in d.stages] == ["builder", None]
    assert d.stages[0].base_image == "python:3.11" and d.final_stage.base_image == "python:3.11-slim"
    assert "pip wheel --wheel-dir /wheels -r requirements.txt" in text
    assert "--mount=type=cache,target=/root/.cache/pip" in text
    # nothing is downloaded from the wheelhouse, so no pip cache fills and no --no-cache-dir is added
    assert "pip install --no-index --find-links=/wheels -r requirements.txt" in text
    assert "apt-get update \\\n    && apt-get install --no-install-recommends -y build-essential" in text
    final = d.final_stage.instructions
    copies = [i for i in final if i.keyword == "COPY"]
    assert copies[0].arguments == "requirements.txt ./" and copies[-1].arguments == ". ."
    assert all(c.flag("link") == "" for c in copies)
    assert final[-2].keyword == "USER" and final[-2].arguments == "10001:10001"
    assert final[-1].exec_form == ("python", "app.py")
    assert "build-essential" not in "\n".join(i.original for i in final)
    assert any("cuda" in n for n in r.notes) and any("libpq5" in n for n in r.notes)
    assert {"build-tools-in-final-stage", "apt-update-alone", "pip-cache", "copy-before-deps"} <= {f.rule for f in r.fixed}


def test_changes_nothing_the_rules_did_not_ask_for() -> None:
    text = "FROM alpine:3.20\n# keep   this   comment\nLABEL a=b   c=d\nRUN apk add --no-cache curl\nCMD app\n"
    r = fix(text)
    before = text.splitlines()
    after = r.text.splitlines()
    for line in before[:4]:
        assert line in after
    assert 'CMD ["app"]' in after


def test_never_invents_a_version() -> None:
    r = fix("FROM alpine\nRUN apk add --no-cache curl\nUSER 10001\n")
    assert r.text.splitlines()[0] == "FROM alpine"
    assert any(n.startswith("base-image-unpinned (line 1): left alone") and "never invents" in n for n in r.notes)


def test_root_command_after_user_moves_user_down() -> None:
    r = fix(ALPINE)
    d = parse(r.text)
    kws = [i.keyword for i in d.instructions]
    assert kws.index("USER") > max(i for i, k in enumerate(kws) if k == "RUN")
    assert "apk add --no-cache curl ca-certificates" in r.text and "apk add --no-cache jq" in r.text
    assert "COPY config.yml /etc/app/config.yml" in r.text.replace("COPY --link", "COPY")


def test_non_numeric_user_becomes_its_uid() -> None:
    r = fix(HEREDOC)
    assert "USER 1234" in r.text
    assert "apt-get install --no-install-recommends -y curl" in r.text
    assert "rm -rf /var/lib/apt/lists/*\nEOF" in r.text


def test_node_manifests_move_before_source() -> None:
    r = fix(NODE)
    lines = r.text.splitlines()
    assert lines.index("COPY --link package.json package-lock.json* ./") < lines.index("RUN npm ci \\") < lines.index("COPY --link . .")


def test_builder_stage_gets_cache_mount_not_no_cache_dir() -> None:
    r = fix(MULTI)
    # the golang images set GOPATH=/go: the module cache is /go/pkg/mod, and the build mounts it too
    assert "RUN --mount=type=cache,target=/go/pkg/mod go mod download" in r.text
    assert "RUN --mount=type=cache,target=/root/.cache/go-build --mount=type=cache,target=/go/pkg/mod go build" in r.text
    assert "rm -rf /var/lib/apt/lists/*" in r.text
    assert "COPY --link --from=build /out/app /usr/local/bin/app" in r.text


def test_crlf_is_preserved() -> None:
    text = "FROM alpine:3.20\r\nCMD app\r\n"
    r = fix(text)
    assert r.text == 'FROM alpine:3.20\r\nUSER 10001:10001\r\nCMD ["app"]\r\n'


def test_dockerignore_content_when_missing(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    r = fix(POSTMORTEM, context=tmp_path)
    assert r.dockerignore is not None and r.dockerignore_path == str(tmp_path / ".dockerignore")
    assert ".git" in r.dockerignore.splitlines() and ".env" in r.dockerignore.splitlines()
    assert "dockerignore-missing" in {f.rule for f in r.fixed}


def test_dockerignore_extended_when_incomplete(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("# mine\n.git\n")
    r = fix(POSTMORTEM, context=tmp_path)
    assert r.dockerignore is not None and r.dockerignore.startswith("# mine\n.git\n")
    assert "**/node_modules" in r.dockerignore


def test_unified_diff_of_equal_texts_is_empty() -> None:
    assert unified_diff("a\n", "a\n") == ""


def test_pin_comes_from_the_image_when_at_hand() -> None:
    from bot.dockerfile.rules.base_image import pin_from_image

    assert pin_from_image("python:3.11", env={"PYTHON_VERSION": "3.11.9"}) == "python:3.11.9"
    assert pin_from_image("python:3.11-slim", env={"PYTHON_VERSION": "3.11.9"}) == "python:3.11.9-slim"
    assert pin_from_image("python:3.11", env={"PYTHON_VERSION": "3.12.1"}) is None
    assert pin_from_image("python", env={"PYTHON_VERSION": "3.12.1"}) == "python:3.12.1"
    assert pin_from_image("node:20", digest="sha256:" + "a" * 64) == "node:20@sha256:" + "a" * 64
    assert pin_from_image("alpine", env={}) is None
    r = fix("FROM python\nUSER 10001\n", pins={"python": "python:3.12.1"})
    assert r.text.startswith("FROM python:3.12.1\n")
    assert not any(n.startswith("base-image-unpinned") for n in r.notes)


def test_generated_dockerignore_keeps_what_the_dockerfile_copies(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with open(data / "model.csv", "wb") as fh:
        fh.truncate(2 * 1024 * 1024)
    r = fix("FROM python:3.12-slim\nCOPY data/model.csv /app/\nCOPY . /app\nUSER 10001\n", context=tmp_path)
    assert r.dockerignore is not None
    assert "**/*.csv" not in r.dockerignore.splitlines()


_LINES = [
    "RUN apt-get update", "RUN apt-get install -y gcc curl", "RUN pip install -r requirements.txt",
    "RUN pip install flask", "COPY . .", "COPY app /app", "ADD conf.yml /etc/", "USER app", "USER 0",
    "RUN apk add jq", "CMD python app.py", "ENTRYPOINT app $PORT", "WORKDIR /srv", "RUN npm ci",
    "RUN yum install -y x", "ENV A=1", "# comment", "", "RUN <<EOF\napt-get install -y x\nEOF",
    "RUN set -e; \\\n  apt-get update; \\\n  # note\n  apt-get install -y x", "FROM python:3.12 AS b",
    "HEALTHCHECK NONE", "ONBUILD RUN pip install x", "RUN useradd -u 1500 app", "RUN go build -o /out/app .",
    "RUN go build -o app ./cmd", "CMD [\"/out/app\"]", "WORKDIR /app", "RUN apt-get install -y g++ make", "HEALTHCHECK CMD curl -f localhost || exit 1",
]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["FROM python:3.11", "FROM debian:12", "FROM alpine", "FROM node:20", "FROM golang:1.22"]),
       st.lists(st.sampled_from(_LINES), max_size=10))
def test_fuzz_fix_output_always_parses_and_is_clean(base: str, lines: list[str]) -> None:
    text = "\n".join([base, *lines]) + "\n"
    try:
        parse(text)
    except DockerfileParseError:
        return
    result = fix(text)
    fixed = parse(result.text)
    assert [f.rule for f in lint(fixed) if f.evidence["fixable"]] == []


def test_dockerignore_without_a_context_when_the_caller_knows_it_is_missing() -> None:
    r = fix(POSTMORTEM, dockerignore_missing=True)
    assert r.dockerignore is not None and ".git" in r.dockerignore.splitlines()
    assert "# **/*.csv" in r.dockerignore.splitlines()
    assert r.dockerignore_path == ".dockerignore"
    assert fix(POSTMORTEM).dockerignore is None


def test_dockerignore_from_the_files_a_copy_layer_held() -> None:
    files = {".git/objects/pack/p.pack": 900_000_000, "venv/pyvenv.cfg": 70, "venv/lib/x.so": 500_000_000,
             "data/train.csv": 400_000_000, "app.py": 2_000, "requirements.txt": 40, ".env": 30}
    r = fix(POSTMORTEM, dockerignore_missing=True, context_files=files)
    assert r.dockerignore is not None
    lines = r.dockerignore.splitlines()
    assert {".git", "venv", "data/**/*.csv", ".env"} <= set(lines)
    assert "# **/*.csv" not in lines


GO_SINGLE = """\
FROM golang:1.22
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV PORT=8080
RUN CGO_ENABLED=0 go build -o app ./cmd/server
EXPOSE 8080
CMD ./app --port 8080
"""


def test_go_single_stage_becomes_builder_plus_distroless() -> None:
    r = fix(GO_SINGLE)
    d = parse(r.text)
    assert [s.name for s in d.stages] == ["build", None]
    final = d.final_stage
    assert final.base_image == "gcr.io/distroless/static-debian12:nonroot"  # CGO_ENABLED=0: a static binary
    kw = [(i.keyword, i.arguments) for i in final.instructions[1:]]
    assert ("WORKDIR", "/src") in kw and ("ENV", "PORT=8080") in kw
    copy = [i for i in final.instructions if i.keyword == "COPY"][0]
    assert copy.flag("from") == "build" and copy.arguments == "/src/app /src/app"
    assert final.instructions[-1].exec_form == ("./app", "--port", "8080")
    assert "build-tools-in-final-stage" not in {f.rule for f in lint(d)}
    assert "runs-as-root" not in {f.rule for f in lint(d)}


def test_go_with_cgo_ships_on_a_glibc_distroless_of_the_same_debian() -> None:
    for tag, runtime in (("1.22", "base-debian12"), ("1.22-bullseye", "base-debian11")):
        text = GO_SINGLE.replace("CGO_ENABLED=0 ", "").replace("golang:1.22", f"golang:{tag}")
        assert parse(fix(text).text).final_stage.base_image == f"gcr.io/distroless/{runtime}:nonroot"


def test_go_pattern_not_recognised_with_a_shell_healthcheck() -> None:
    text = GO_SINGLE + "HEALTHCHECK CMD curl -f http://localhost:8080/ || exit 1\n"
    r = fix(text)
    assert parse(r.text).stages[0].base_image == "golang:1.22" and len(parse(r.text).stages) == 1
    assert any(n.startswith("build-tools-in-final-stage") for n in r.notes)


NODE_NATIVE = """\
FROM node:20
WORKDIR /app
RUN apt-get update && apt-get install -y python3 make g++
COPY . .
RUN npm ci
CMD ["node", "server.js"]
"""


def test_node_native_modules_build_in_a_builder_stage() -> None:
    r = fix(NODE_NATIVE)
    d = parse(r.text)
    assert [s.name for s in d.stages] == ["builder", None]
    assert d.final_stage.base_image == "node:20-slim"
    builder = "\n".join(i.original for i in d.stages[0].instructions)
    assert "npm ci" in builder and "g++" in builder
    final = "\n".join(i.original for i in d.final_stage.instructions)
    assert "g++" not in final and "make" not in final
    assert "COPY --link --from=builder /app/node_modules ./node_modules" in final
    assert [f.rule for f in lint(d) if f.evidence["fixable"]] == []


def test_applied_lists_the_removed_findings() -> None:
    r = fix(POSTMORTEM)
    assert "pip-cache (line 5)" in r.applied and len(r.applied) == len(r.fixed)


SECRET_DOCKERFILE = (
    "FROM python:3.12-slim\n"
    "ENV API_TOKEN=s3cr3t-in-env DEBUG=1\n"
    "ARG DB_PASSWORD=s3cr3t-in-arg\n"
    "RUN pip install flask==3.0.0\n"
    "CMD python app.py\n"
)


@pytest.mark.skipif(shutil.which("patch") is None, reason="the patch binary is not installed")
def test_diff_never_prints_a_secret_and_still_applies(tmp_path: Path) -> None:
    result = fix(SECRET_DOCKERFILE)
    assert result.changed
    assert "s3cr3t" not in result.diff and "s3cr3t" not in str(result.to_json())
    (tmp_path / "Dockerfile").write_text(SECRET_DOCKERFILE)
    proc = subprocess.run(["patch", "-p1", "--batch"], input=result.diff, text=True, cwd=tmp_path, capture_output=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "Dockerfile").read_text() == result.text


def test_a_changed_line_holding_a_secret_is_masked() -> None:
    diff = unified_diff("ENV A_TOKEN=s3cr3t\n", "ENV A_TOKEN=s3cr3t B=1\n", secrets=frozenset({"s3cr3t"}))
    assert "s3cr3t" not in diff and "A_TOKEN=***" in diff and "will not apply" in diff


def test_an_existing_dockerignore_gets_what_the_image_showed(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text(".git\n**/node_modules\n**/__pycache__\n**/*.log\n.env\n")
    r = fix(POSTMORTEM, context=tmp_path, measure_context=False,
            context_files={".git": 800, ".venv": 600, "tests/data": 400, "app.py": 10})
    assert r.dockerignore_before == (tmp_path / ".dockerignore").read_text()
    assert r.dockerignore is not None and r.dockerignore.startswith(r.dockerignore_before)
    added = r.dockerignore[len(r.dockerignore_before):].splitlines()
    assert added == ["# Added by `coroner fix`", ".venv", "tests/data"]  # .git was there already
    assert "--- a/" in r.patch and r.patch.count("+++ b/") == 2
