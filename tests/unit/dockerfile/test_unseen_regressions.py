"""Regressions found by running `coroner fix` on Dockerfiles nobody tuned the rules on: each test holds the
class of file that went wrong, in the project's own text."""

from __future__ import annotations

import json

from bot.dockerfile.fix import fix
from bot.dockerfile.parser import parse
from bot.dockerfile.rules import lint
from bot.domain import Finding


def rules(text: str) -> list[Finding]:
    return lint(parse(text))


def by(rule: str, text: str) -> list[Finding]:
    return [f for f in rules(text) if f.rule == rule]


# --- copy-before-deps: uv and poetry --------------------------------------------------------------

UV_DEPS_FIRST = """\
FROM python:3.12-slim
WORKDIR /srv
RUN --mount=type=cache,target=/root/.cache/uv \\
    --mount=type=bind,source=uv.lock,target=uv.lock \\
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\
    uv sync --locked --no-install-project
COPY . /srv
RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked
CMD ["/srv/.venv/bin/python", "-m", "svc"]
"""


def test_dependencies_installed_before_the_source_copy_are_not_copy_before_deps() -> None:
    # uv's documented layout: the second sync only installs the project, which needs the source
    assert by("copy-before-deps", UV_DEPS_FIRST) == []
    fixed = fix(UV_DEPS_FIRST).text
    lines = fixed.splitlines()
    assert lines.index("COPY --link . /srv") < lines.index("RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked")


UV_SOURCE_FIRST = """\
FROM python:3.12-slim
WORKDIR /srv
COPY . .
RUN uv sync --locked
CMD ["/srv/.venv/bin/python", "-m", "svc"]
"""


def test_a_project_install_gets_a_dependencies_only_run_before_the_source() -> None:
    lines = fix(UV_SOURCE_FIRST).text.splitlines()
    deps, source, project = (lines.index("RUN uv sync --no-install-project --locked"),
                             lines.index("COPY --link . ."), lines.index("RUN uv sync --locked"))
    assert lines.index("COPY --link pyproject.toml uv.lock* ./") < deps < source < project


POETRY_CHAINED = """\
FROM python:3.11-slim
WORKDIR /code
COPY . .
RUN poetry config virtualenvs.create false && poetry install --only main
CMD ["python", "-m", "svc"]
"""


def test_a_chained_project_install_is_left_with_the_reason() -> None:
    [finding] = by("copy-before-deps", POETRY_CHAINED)
    assert not finding.evidence["fixable"]
    result = fix(POETRY_CHAINED)
    assert "COPY --link . .\nRUN poetry config" in result.text
    assert any("installs the project itself" in n and "--no-root" in n for n in result.notes)


# --- runs-as-root: ONBUILD images and Windows ------------------------------------------------------

ONBUILD_BASE = """\
FROM ruby:3.3-slim
WORKDIR /app
ONBUILD COPY Gemfile Gemfile.lock ./
ONBUILD RUN bundle install
ONBUILD COPY . .
"""


def test_an_onbuild_image_is_not_given_a_user_its_children_would_build_as() -> None:
    [finding] = by("runs-as-root", ONBUILD_BASE)
    assert not finding.evidence["fixable"]
    result = fix(ONBUILD_BASE)
    assert "USER" not in result.text
    assert any("ONBUILD triggers (line 3)" in n for n in result.notes)


def test_windows_images_have_no_root_to_drop() -> None:
    for base in ("mcr.microsoft.com/windows/servercore:ltsc2022", "mcr.microsoft.com/windows/nanoserver:ltsc2022",
                 "mcr.microsoft.com/dotnet/aspnet:8.0-nanoserver-ltsc2022", "python:3.12-windowsservercore-ltsc2022"):
        text = f'FROM {base}\nCMD ["cmd", "/c", "echo hi"]\n'
        assert by("runs-as-root", text) == [], base
        assert "USER" not in fix(text).text
    assert by("runs-as-root", 'FROM mcr.microsoft.com/dotnet/aspnet:8.0\nCMD ["dotnet", "app.dll"]\n')


# --- exec-form RUNs ---------------------------------------------------------------------------------

EXEC_FORM = """\
FROM debian:bookworm-slim
RUN ["apt-get", "update"]
RUN ["apt-get", "install", "-y", "ca-certificates"]
RUN ["pip", "install", "-r", "requirements.txt"]
CMD ["true"]
"""


def test_exec_form_runs_are_rewritten_as_the_words_they_run() -> None:
    text = fix(EXEC_FORM).text
    # joined in shell form: a JSON array chained with && would be a shell command named `[apt-get,`
    assert "RUN apt-get update \\\n    && apt-get install --no-install-recommends -y ca-certificates \\\n" \
           "    && rm -rf /var/lib/apt/lists/*\n" in text
    pip = next(line for line in text.splitlines() if "pip" in line)
    assert json.loads(pip.removeprefix("RUN ")) == ["pip", "install", "--no-cache-dir", "-r", "requirements.txt"]
    assert by("apt-no-install-recommends", text) == [] and by("pip-cache", text) == []


def test_an_exec_form_run_that_needs_a_command_after_it_becomes_shell_form() -> None:
    text = 'FROM node:20-slim\nWORKDIR /app\nCOPY package.json package-lock.json ./\nRUN ["npm", "ci"]\nUSER node\nCMD ["node", "i.js"]\n'
    assert "RUN npm ci \\\n    && npm cache clean --force\n" in fix(text).text


# --- Go ------------------------------------------------------------------------------------------

GO_BUILDER = """\
FROM {base} AS build
{env}WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -o /out/svc ./cmd/svc

FROM gcr.io/distroless/static-debian12
COPY --from=build /out/svc /svc
ENTRYPOINT ["/svc"]
"""


def test_go_cache_mounts_are_where_go_env_puts_the_caches() -> None:
    cases = {
        ("golang:1.23", ""): ("/go/pkg/mod", "/root/.cache/go-build"),  # the golang images set GOPATH=/go
        ("debian:12", ""): ("/root/go/pkg/mod", "/root/.cache/go-build"),  # Go's default: $HOME/go
        ("golang:1.23", "ENV GOMODCACHE=/cache/mod GOCACHE=/cache/build\n"): ("/cache/mod", "/cache/build"),
        ("golang:1.23", "ENV GOPATH=/work\n"): ("/work/pkg/mod", "/root/.cache/go-build"),
    }
    for (base, env), (mod, build) in cases.items():
        text = fix(GO_BUILDER.format(base=base, env=env)).text
        assert f"RUN --mount=type=cache,target={mod} go mod download" in text, (base, env)
        # the modules the cached download fetched are not in a layer: the build mounts them too
        assert f"RUN --mount=type=cache,target={build} --mount=type=cache,target={mod} go build" in text, (base, env)


GO_CGO = """\
FROM golang:1.22
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
{env}RUN go build -o /usr/local/bin/svc ./cmd/svc
CMD ["svc"]
"""


def test_a_cgo_build_that_links_dev_libraries_is_not_moved_onto_distroless() -> None:
    result = fix(GO_CGO.format(env=""))
    assert "distroless" not in result.text
    assert any("libsqlite3-dev with cgo" in n for n in result.notes)
    assert not any(f.evidence["fixable"] for f in by("build-tools-in-final-stage", GO_CGO.format(env="")))


def test_a_go_build_with_cgo_off_still_splits() -> None:
    # no cgo: a static binary, on the distroless image without libc
    assert "FROM gcr.io/distroless/static-debian12:nonroot" in fix(GO_CGO.format(env="ENV CGO_ENABLED=0\n")).text


# --- the Python split on other bases ----------------------------------------------------------------

CUDA_DEVEL = """\
FROM nvidia/cuda:12.2.2-cudnn8-devel-ubuntu22.04
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip && rm -rf /var/lib/apt/lists/*
WORKDIR /srv
COPY requirements.txt .
RUN pip3 install --no-cache-dir -r requirements.txt
COPY infer.py .
USER 10001:10001
CMD ["python3", "infer.py"]
"""


def test_a_cuda_devel_final_stage_moves_to_its_runtime_twin() -> None:
    [base] = by("build-tools-in-final-stage", CUDA_DEVEL)
    assert base.evidence["fixable"]
    result = fix(CUDA_DEVEL)
    final = result.text.split("\n\nFROM ", 1)[1]
    assert final.startswith("nvidia/cuda:12.2.2-cudnn8-runtime-ubuntu22.04\n")
    assert "FROM nvidia/cuda:12.2.2-cudnn8-devel-ubuntu22.04 AS builder" in result.text
    assert any("JIT" in n and "-devel-" in n for n in result.notes)
    assert by("build-tools-in-final-stage", result.text) == []


def test_a_pinned_cuda_devel_image_is_not_renamed() -> None:
    pinned = CUDA_DEVEL.replace("ubuntu22.04\n", "ubuntu22.04@sha256:" + "a" * 64 + "\n", 1)
    assert not by("build-tools-in-final-stage", pinned)[0].evidence["fixable"]


APK_VIRTUAL_LATER = """\
FROM python:3.12-alpine
RUN apk add --no-cache --virtual .build-deps gcc musl-dev libffi-dev
RUN pip install --no-cache-dir cffi==1.17.1
RUN apk del .build-deps
RUN apk add --no-cache libffi
CMD ["python", "-c", "import cffi"]
"""


def test_the_split_drops_the_removal_of_what_it_took_out() -> None:
    result = fix(APK_VIRTUAL_LATER)
    final = result.text.split("\n\nFROM ", 1)[1]
    assert "apk del" not in final  # `apk del .build-deps` of a name the final stage never added
    assert "RUN apk add --no-cache libffi" in final
    # the hint names the image's own package manager
    assert any("`apk info -R libffi-dev`" in n for n in result.notes)
    assert not any("apt-cache" in n for n in result.notes)


# --- caches ---------------------------------------------------------------------------------------

def test_yarn_berry_keeps_its_cache() -> None:
    # Plug'n'Play loads packages from the cache at run time: cleaning it breaks the app
    for install, copies in (("yarn install --immutable", "package.json yarn.lock ./"),
                            ("yarn install", "package.json yarn.lock .yarnrc.yml ./")):
        text = f"FROM node:20-slim\nWORKDIR /app\nCOPY {copies}\nRUN {install}\nUSER node\nCMD [\"yarn\", \"start\"]\n"
        assert by("package-cache", text) == [], install
        assert "yarn cache clean" not in fix(text).text
    classic = "FROM node:20-slim\nCOPY package.json yarn.lock ./\nRUN yarn install --frozen-lockfile\nUSER node\nCMD [\"node\", \"i.js\"]\n"
    assert by("package-cache", classic)


def test_a_versioned_go_compiler_package_is_a_build_tool() -> None:
    text = "FROM debian:12-slim\nRUN apt-get install -y --no-install-recommends golang-1.22-go\nUSER 1\nCMD [\"app\"]\n"
    [finding] = by("build-tools-in-final-stage", text)
    assert finding.evidence["packages"] == ["golang-1.22-go"]


PPA = """\
FROM ubuntu:22.04
RUN apt-get update && apt-get install -y software-properties-common \\
    && add-apt-repository -y ppa:git-core/ppa \\
    && apt-get install -y git-man \\
    && rm -rf /var/lib/apt/lists/*
USER 10001
CMD ["sleep", "infinity"]
"""


def test_without_recommends_add_apt_repository_still_has_its_gpg_agent() -> None:
    # software-properties-common only recommends gpg-agent; add-apt-repository fails without it
    text = fix(PPA).text
    assert "apt-get install --no-install-recommends -y software-properties-common gpg-agent \\\n" in text
    assert "apt-get install --no-install-recommends -y git-man \\\n" in text
    assert text.count("gpg-agent") == 1
    assert by("apt-no-install-recommends", text) == []
    # no PPA added: nothing needs the agent
    plain = "FROM ubuntu:22.04\nRUN apt-get install -y software-properties-common\nUSER 1\nCMD [\"x\"]\n"
    assert "gpg-agent" not in fix(plain).text
    with_gnupg = PPA.replace("software-properties-common", "software-properties-common gnupg")
    assert "gpg-agent" not in fix(with_gnupg).text


# --- copy-before-deps: where the manifests go ------------------------------------------------------

def test_a_requirements_file_in_a_directory_is_copied_where_pip_reads_it() -> None:
    # `requirements/prod.txt` copied to ./prod.txt made `pip install -r requirements/prod.txt` fail; its
    # directory comes along, for the `-r base.txt` such files hold
    text = "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements/prod.txt\nUSER 1\nCMD [\"svc\"]\n"
    lines = fix(text).text.splitlines()
    assert lines[2:5] == ["COPY --link requirements/ ./requirements/",
                          "RUN pip install --no-cache-dir -r requirements/prod.txt", "COPY --link . ."]


def test_absolute_requirement_paths_map_back_into_the_context() -> None:
    text = ("FROM python:3.12-slim\nWORKDIR /opt\nCOPY . /srv/app\n"
            "RUN pip install --no-cache-dir -r /srv/app/deploy/requirements.txt -c /srv/app/constraints.txt\n"
            "USER 1\nCMD [\"svc\"]\n")
    lines = fix(text).text.splitlines()
    assert lines[2:4] == ["COPY --link constraints.txt /srv/app/", "COPY --link deploy/ /srv/app/deploy/"]
    outside = text.replace("/srv/app/constraints.txt", "/etc/constraints.txt")
    result = fix(outside)
    assert "COPY --link . /srv/app\nRUN pip" in result.text
    assert any("`/etc/constraints.txt` is not in the copied context" in n for n in result.notes)


def test_an_install_pointed_at_another_directory_is_not_reordered() -> None:
    text = "FROM node:20-slim\nWORKDIR /app\nCOPY . .\nRUN npm ci --prefix web\nUSER node\nCMD [\"node\", \"web/s.js\"]\n"
    [finding] = by("copy-before-deps", text)
    assert not finding.evidence["fixable"]
    assert "COPY --link . .\nRUN npm ci --prefix web" in fix(text).text
