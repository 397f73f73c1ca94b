"""What package managers leave in a shipped layer beyond pip/apt/yum/yarn/npm (apk's index, conda's tarballs,
poetry's and composer's caches, Go's module cache, gem docs), and `npm install` over a lockfile: each with
the options read as the tool reads them, and the fix re-linted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dockerfile.fix import fix
from bot.dockerfile.parser import parse
from bot.dockerfile.rules import lint
from bot.domain import Finding

TAIL = 'USER 10001\nCMD ["app"]\n'


def found(text: str, rule: str, **kw: object) -> list[Finding]:
    return [f for f in lint(parse(text), **kw) if f.rule == rule]  # type: ignore[arg-type]


def managers(text: str) -> list[str]:
    return [str(f.evidence["manager"]) for f in found(text, "package-cache")]


def fixed(text: str) -> str:
    result = fix(text)
    assert [f.rule for f in result.remaining if f.evidence.get("fixable")] == []
    return result.text


# --- package-cache ---------------------------------------------------------------------------------

LEFT = {
    "apk update": ("FROM alpine:3.20\nRUN apk update && apk add --no-cache curl\n", "apk-index"),
    "apk update alone": ("FROM alpine:3.20\nRUN apk update\n", "apk-index"),
    "conda install": ("FROM continuumio/miniconda3:24.1.2-0\nRUN conda install -y numpy=1.26.4\n", "conda"),
    "conda env create": ("FROM continuumio/miniconda3:24.1.2-0\nRUN conda env create -f environment.yml\n", "conda"),
    "mamba clean without -a": ("FROM condaforge/miniforge3:24.3.0-0\nRUN mamba install -y numpy && mamba clean -i\n", "mamba"),
    "micromamba": ("FROM mambaorg/micromamba:1.5.8\nRUN micromamba install -y -n base python=3.12\n", "micromamba"),
    "poetry install": ("FROM python:3.12-slim\nRUN poetry install --only main\n", "poetry"),
    "composer install": ("FROM php:8.3-cli\nRUN composer install --no-dev\n", "composer"),
    "go build": ("FROM golang:1.22 AS base\nRUN CGO_ENABLED=1 go build -o /app .\nFROM base\n", "go"),
}
CLEAN = {
    "apk update removed": "FROM alpine:3.20\nRUN apk update && apk add curl && rm -rf /var/cache/apk/*\n",
    "apk cache mount": "FROM alpine:3.20\nRUN --mount=type=cache,target=/var/cache/apk apk update && apk add curl\n",
    "conda clean -afy": "FROM continuumio/miniconda3:24.1.2-0\nRUN conda install -y numpy && conda clean -afy\n",
    "conda clean --tarballs prefix": "FROM continuumio/miniconda3:24.1.2-0\nRUN conda install -y numpy && conda clean --tarb -y\n",
    "conda clean --all=": "FROM continuumio/miniconda3:24.1.2-0\nRUN conda install -y numpy && conda clean --al --yes\n",
    "micromamba clean": "FROM mambaorg/micromamba:1.5.8\nRUN micromamba create -y -n app python && micromamba clean --all --yes\n",
    "pkgs removed": "FROM continuumio/miniconda3:24.1.2-0\nRUN conda install -y numpy && rm -rf /opt/conda/pkgs/*\n",
    "poetry --no-cache": "FROM python:3.12-slim\nRUN poetry install --no-cache --only main\n",
    "POETRY_CACHE_DIR removed": "FROM python:3.12-slim\nENV POETRY_CACHE_DIR=/tmp/pc\nRUN poetry install && rm -rf $POETRY_CACHE_DIR\n",
    "poetry cache clear": "FROM python:3.12-slim\nRUN poetry install && poetry cache clear --all -n PyPI\n",
    "poetry in a builder": "FROM python:3.12-slim AS b\nRUN poetry install\nFROM python:3.12-slim\n",
    "composer clear-cache": "FROM php:8.3-cli\nRUN composer install --no-dev && composer clear-cache\n",
    "composer --no-cache": "FROM php:8.3-cli\nRUN composer --no-cache install --no-dev\n",
    "go vendored": "FROM golang:1.22 AS base\nRUN CGO_ENABLED=1 go build -mod=vendor -o /app .\nFROM base\n",
    "go clean -modcache": "FROM golang:1.22 AS base\nRUN go build -o /app . && go clean -cache -modcache\nFROM base\n",
    "go cache mounts": "FROM golang:1.22 AS base\nRUN --mount=type=cache,target=/go/pkg/mod "
                       "--mount=type=cache,target=/root/.cache/go-build go build -o /app .\nFROM base\n",
    "go mod download, module cache mounted": "FROM golang:1.22 AS base\n"
                                             "RUN --mount=type=cache,target=/go/pkg/mod go mod download\nFROM base\n",
    "apk cache in a tmpfs": "FROM alpine:3.20\nRUN --mount=type=tmpfs,target=/var/cache/apk apk add curl\n",
    "npm cache under a non-root home": "FROM node:20-slim\nUSER node\n"
                                       "RUN --mount=type=cache,target=/home/node/.npm,uid=1000 npm ci\n",
}


@pytest.mark.parametrize("case", sorted(LEFT))
def test_a_cache_left_in_a_shipped_layer_is_reported_and_fixed(case: str) -> None:
    text, manager = LEFT[case]
    assert managers(text + TAIL) == [manager]
    assert managers(fixed(text + TAIL)) == []


@pytest.mark.parametrize("case", sorted(CLEAN))
def test_a_cleaned_or_mounted_cache_is_not_reported(case: str) -> None:
    assert managers(CLEAN[case] + TAIL) == []


def test_an_ambiguous_conda_prefix_cleans_nothing() -> None:
    # argparse refuses `--t` (--tarballs, --tempfiles): the clean fails, the tarballs stay
    assert managers("FROM continuumio/miniconda3:24.1.2-0\nRUN conda install -y numpy && conda clean --t -y\n" + TAIL) == ["conda"]


def test_poetry_keeps_its_virtualenvs_when_the_fix_removes_the_caches() -> None:
    text = fixed("FROM python:3.12-slim\nRUN poetry install --only main\n" + TAIL)
    assert 'rm -rf "/root/.cache/pypoetry/cache" "/root/.cache/pypoetry/artifacts"' in text
    moved = fixed("FROM python:3.12-slim\nENV POETRY_CACHE_DIR=/opt/pc\nRUN poetry install\n" + TAIL)
    assert 'rm -rf "$POETRY_CACHE_DIR/cache" "$POETRY_CACHE_DIR/artifacts"' in moved


def test_poetry_as_another_user_without_a_cache_dir_is_left_to_the_author() -> None:
    [finding] = found("FROM python:3.12-slim\nUSER 10001\nRUN poetry install\nCMD [\"app\"]\n", "package-cache")
    assert finding.evidence["fixable"] is False


def test_go_module_downloads_in_their_own_layer_need_a_builder_stage() -> None:
    text = ("FROM golang:1.22 AS base\nRUN go mod download\nRUN CGO_ENABLED=1 go build -o /app .\nFROM base\n" + TAIL)
    download, build = sorted(found(text, "package-cache"), key=lambda f: f.evidence["line"])
    assert (download.evidence["fixable"], build.evidence["fixable"]) == (False, True)
    assert "builder stage" in download.evidence["why_not"]


# --- gem-docs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["gem install rake", "gem update --system", "gem install --document=ri rake",
                                     "gem install --no-doc-x rake"])
def test_gem_without_no_document_makes_docs(command: str) -> None:
    text = f"FROM debian:12-slim\nRUN {command}\n{TAIL}"
    assert found(text, "gem-docs")
    assert found(fixed(text), "gem-docs") == []


@pytest.mark.parametrize("command", ["gem install --no-document rake", "gem install -N rake", "gem install --no-doc rake",
                                     "gem install rake --no-document"])
def test_no_document_in_any_spelling_gem_reads(command: str) -> None:
    # Ruby's OptionParser takes an unambiguous prefix (`--no-doc`) and the option after the gem name
    assert found(f"FROM debian:12-slim\nRUN {command}\n{TAIL}", "gem-docs") == []


@pytest.mark.parametrize("text", [
    "FROM ruby:3.3-slim\nRUN gem install rake\n",  # the official image's gemrc says --no-document
    "FROM debian:12-slim\nRUN echo 'gem: --no-document' > /etc/gemrc && gem install rake\n",
    "FROM debian:12-slim AS build\nRUN gem install rake\nFROM debian:12-slim\n",  # a builder's docs do not ship
])
def test_gem_docs_already_off_or_not_shipped(text: str) -> None:
    assert found(text + TAIL, "gem-docs") == []


# --- npm-install-not-ci ----------------------------------------------------------------------------

LOCK = "FROM node:20-slim\nWORKDIR /app\nCOPY package.json package-lock.json ./\n"


@pytest.mark.parametrize("command", ["npm install", "npm i --omit=dev", "npm install --production", "npm --loglevel warn install"])
def test_npm_install_over_a_lockfile_becomes_npm_ci(command: str) -> None:
    text = f"{LOCK}RUN {command}\n{TAIL}"
    assert found(text, "npm-install-not-ci")
    after = fixed(text)
    assert found(after, "npm-install-not-ci") == [] and " ci" in after.split("RUN ", 1)[1].split("\n")[0]


@pytest.mark.parametrize("command", ["npm install -g pm2@5.4.2", "npm install left-pad@1.3.0", "npm ci",
                                     "npm install --global pnpm@9", "npm install --no-package-lock"])
def test_npm_install_of_named_packages_or_global_is_not_a_lockfile_install(command: str) -> None:
    assert found(f"{LOCK}RUN {command}\n{TAIL}", "npm-install-not-ci") == []


def test_without_a_lockfile_npm_ci_would_fail_so_nothing_is_said() -> None:
    assert found(f"FROM node:20-slim\nCOPY package.json ./\nRUN npm install\n{TAIL}", "npm-install-not-ci") == []


def test_a_glob_counts_when_the_context_holds_the_lockfile(tmp_path: Path) -> None:
    text = f"FROM node:20-slim\nCOPY package*.json ./\nRUN npm install\n{TAIL}"
    (tmp_path / "package.json").write_text("{}")
    assert found(text, "npm-install-not-ci", context=tmp_path, measure_context=False) == []
    (tmp_path / "package-lock.json").write_text("{}")
    assert found(text, "npm-install-not-ci", context=tmp_path, measure_context=False)


def test_an_exec_form_npm_install_keeps_its_array() -> None:
    text = f'{LOCK}RUN --mount=type=cache,target=/root/.npm ["npm", "install", "--omit=dev"]\n{TAIL}'
    assert 'RUN --mount=type=cache,target=/root/.npm ["npm", "ci", "--omit=dev"]' in fixed(text)


# --- runs-as-root: images whose own USER is not root ----------------------------------------------


@pytest.mark.parametrize("image", ["mambaorg/micromamba:1.5.8", "bitnami/python:3.12", "nginxinc/nginx-unprivileged:1.27",
                                   "quay.io/jupyter/base-notebook:2024-07-02"])
def test_an_image_that_runs_as_non_root_needs_no_user(image: str) -> None:
    assert found(f'FROM {image}\nCMD ["app"]\n', "runs-as-root") == []


def test_a_cache_mount_covers_its_own_paths_only() -> None:
    # the module cache is mounted, the build cache is written into the layer; cleaning it must not empty the mount
    text = "FROM golang:1.22 AS base\nRUN --mount=type=cache,target=/go/pkg/mod go build -o /app .\nFROM base\n" + TAIL
    [finding] = found(text, "package-cache")
    assert finding.title == "go keeps the build cache in the layer"
    after = fixed(text)
    assert "&& go clean -cache\n" in after and "--mount=type=cache,target=/go/pkg/mod" in after
    assert managers(after) == []
    # apt's cache mounts hold apt's files, not pip's downloads
    apt_mounts = ("FROM python:3.12-slim\nRUN --mount=type=cache,target=/var/cache/apt --mount=type=cache,target=/var/lib/apt "
                  "apt-get update && apt-get install -y --no-install-recommends libpq5 && pip install psycopg==3.2.1\n" + TAIL)
    assert [f.rule for f in found(apt_mounts, "pip-cache")] == ["pip-cache"]
    assert found(apt_mounts, "apt-lists-not-removed") == []


def test_pip_from_a_local_wheelhouse_fills_no_cache_but_a_remote_one_does() -> None:
    local = "FROM python:3.12-slim\nRUN pip install --no-index --find-links=/wheels app\n" + TAIL
    remote = "FROM python:3.12-slim\nRUN pip install --no-index -f https://example.com/wheels/ app\n" + TAIL
    assert found(local, "pip-cache") == []
    assert [f.rule for f in found(remote, "pip-cache")] == ["pip-cache"]
