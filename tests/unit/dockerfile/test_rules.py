"""Every rule has a hit and a miss. Cases are written here, small and to the point."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dockerfile.catalog import BY_ID, RULES
from bot.dockerfile.parser import parse
from bot.dockerfile.rules import lint
from bot.domain import Finding

OK_TAIL = 'USER 10001\nHEALTHCHECK CMD ["true"]\nCMD ["app"]\n'

# rule id -> (Dockerfile that hits, Dockerfile that does not)
CASES: dict[str, tuple[str, str]] = {
    "base-image-unpinned": ("FROM alpine:latest\n", "FROM alpine:3.20\n"),
    "base-image-heavy": ("FROM python:3.11\n", "FROM python:3.11-slim\n"),
    "apt-update-alone": (
        "FROM debian:12-slim\nRUN apt-get update\nRUN apt-get install -y --no-install-recommends curl\n",
        "FROM debian:12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n",
    ),
    "apt-no-install-recommends": (
        "FROM debian:12-slim\nRUN apt-get install -y curl\n",
        "FROM debian:12-slim\nRUN apt-get install -y --no-install-recommends curl\n",
    ),
    "apt-lists-not-removed": (
        "FROM debian:12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /tmp/*\n",
        "FROM debian:12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n",
    ),
    "apt-upgrade": (
        "FROM debian:12-slim\nRUN apt-get update && apt-get upgrade -y && rm -rf /var/lib/apt/lists/*\n",
        "FROM debian:12-slim\nRUN echo upgrade\n",
    ),
    "package-unpinned": (
        "FROM debian:12-slim\nRUN apt-get install -y --no-install-recommends curl\n",
        "FROM debian:12-slim\nRUN apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5\n",
    ),
    "pip-cache": (
        "FROM python:3.12-slim\nRUN pip install flask==3.0.0\n",
        "FROM python:3.12-slim\nRUN pip install --no-cache-dir flask==3.0.0\n",
    ),
    "package-cache": (
        "FROM alpine:3.20\nRUN apk add curl\n",
        "FROM alpine:3.20\nRUN apk add --no-cache curl\n",
    ),
    "gem-docs": (
        "FROM debian:12-slim\nRUN gem install rake -v 13.2.1\n",
        "FROM debian:12-slim\nRUN gem install --no-document rake -v 13.2.1\n",
    ),
    "npm-install-not-ci": (
        "FROM node:20-slim AS b\nCOPY package.json package-lock.json ./\nRUN npm install\n",
        "FROM node:20-slim AS b\nCOPY package.json package-lock.json ./\nRUN npm ci\n",
    ),
    "cleanup-in-later-layer": (
        "FROM debian:12-slim\nCOPY big.tar /tmp/big.tar\nRUN tar xf /tmp/big.tar -C /opt\nRUN rm /tmp/big.tar\n",
        "FROM debian:12-slim\nRUN curl -fsSLo /tmp/big.tar https://example.com/b.tar && tar xf /tmp/big.tar && rm /tmp/big.tar\n",
    ),
    "consecutive-run": (
        "FROM alpine:3.20\nRUN mkdir /a\nRUN mkdir /b\n",
        "FROM alpine:3.20\nRUN mkdir /a && mkdir /b\n",
    ),
    "build-tools-in-final-stage": (
        "FROM debian:12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/*\n",
        "FROM debian:12-slim AS build\nRUN apt-get update && apt-get install -y --no-install-recommends gcc\n"
        "FROM debian:12-slim\nCOPY --from=build /usr/bin/true /app\n",
    ),
    "root-command-after-user": (
        "FROM alpine:3.20\nUSER 10001\nRUN apk add --no-cache curl\n",
        "FROM alpine:3.20\nRUN apk add --no-cache curl\nUSER 10001\n",
    ),
    "runs-as-root": ("FROM alpine:3.20\nCMD [\"app\"]\n", "FROM alpine:3.20\nUSER 10001\nCMD [\"app\"]\n"),
    "user-not-numeric": ("FROM alpine:3.20\nUSER app\n", "FROM alpine:3.20\nUSER 10001:10001\n"),
    "secret-in-env": ("FROM alpine:3.20\nENV DB_PASSWORD=hunter2\n", "FROM alpine:3.20\nENV DB_PASSWORD_FILE=/run/secrets/db\n"),
    "shell-form-entrypoint": ("FROM alpine:3.20\nCMD app --serve\n", "FROM alpine:3.20\nCMD [\"app\", \"--serve\"]\n"),
    "no-init": (
        'FROM alpine:3.20\nENTRYPOINT ["/bin/sh", "-c", "app"]\n',
        'FROM alpine:3.20\nENTRYPOINT ["tini", "--", "app"]\n',
    ),
    "no-healthcheck": ('FROM alpine:3.20\nCMD ["app"]\n', 'FROM alpine:3.20\nHEALTHCHECK CMD ["true"]\nCMD ["app"]\n'),
    "copy-before-deps": (
        "FROM python:3.12-slim\nCOPY . .\nRUN pip install --no-cache-dir -r requirements.txt\n",
        "FROM python:3.12-slim\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\n",
    ),
    "no-cache-mount": (
        "FROM python:3.12 AS build\nRUN pip wheel -w /w -r requirements.txt\nFROM python:3.12-slim\n",
        "FROM python:3.12 AS build\nRUN --mount=type=cache,target=/root/.cache/pip pip wheel -w /w -r requirements.txt\nFROM python:3.12-slim\n",
    ),
    "copy-without-link": ("FROM alpine:3.20\nCOPY app /app\n", "FROM alpine:3.20\nCOPY --link app /app\n"),
    "add-instead-of-copy": ("FROM alpine:3.20\nADD app /app\n", "FROM alpine:3.20\nADD rootfs.tar.gz /\n"),
    "workdir-relative": ("FROM alpine:3.20\nWORKDIR app\n", "FROM alpine:3.20\nWORKDIR /app\n"),
    "sudo": ("FROM alpine:3.20\nRUN sudo mkdir /x\n", "FROM alpine:3.20\nRUN mkdir /x\n"),
    "curl-pipe-shell": (
        "FROM alpine:3.20\nRUN curl -fsSL https://example.com/install.sh | sh\n",
        "FROM alpine:3.20\nRUN curl -fsSLo /tmp/i.sh https://example.com/install.sh && sha256sum -c sums && sh /tmp/i.sh\n",
    ),
    "docker-socket": ("FROM alpine:3.20\nVOLUME /var/run/docker.sock\n", "FROM alpine:3.20\nVOLUME /data\n"),
    "pipefail": (
        "FROM debian:12-slim\nRUN curl -fsSL https://example.com/a.tgz | tar -xz\n",
        'FROM debian:12-slim\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\nRUN curl -fsSL https://example.com/a.tgz | tar -xz\n',
    ),
    "add-url-without-checksum": (
        "FROM alpine:3.20\nADD https://example.com/a.tgz /opt/\n",
        "# syntax=docker/dockerfile:1.6\nFROM alpine:3.20\nADD --checksum=sha256:" + "0" * 64 + " https://example.com/a.tgz /opt/\n",
    ),
    "cgroup-unaware-runtime": ("FROM openjdk:8-jre\n", "FROM eclipse-temurin:21-jre\n"),
}
CONTEXT_RULES = {"dockerignore-missing", "dockerignore-incomplete"}


def rules_of(text: str, **kw: object) -> list[Finding]:
    return lint(parse(text), **kw)  # type: ignore[arg-type]


def test_every_rule_has_a_case() -> None:
    assert set(CASES) | CONTEXT_RULES == {r.id for r in RULES}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_hit(rule: str) -> None:
    hits = [f for f in rules_of(CASES[rule][0]) if f.rule == rule]
    assert hits, f"{rule} should fire"
    f = hits[0]
    assert f.severity == BY_ID[rule].severity
    assert f.evidence["line"] >= 1 and f.evidence["file"] == "Dockerfile"
    assert isinstance(f.evidence["fixable"], bool)
    assert f.check == "dockerfile"


@pytest.mark.parametrize("rule", sorted(CASES))
def test_miss(rule: str) -> None:
    assert [f for f in rules_of(CASES[rule][1]) if f.rule == rule] == []


def test_hadolint_codes_travel_with_findings() -> None:
    codes = {f.rule: f.evidence["hadolint"] for f in rules_of("FROM alpine\nRUN apt-get install -y x\nCMD app\n")}
    assert codes["base-image-unpinned"] == "DL3006"
    assert codes["apt-no-install-recommends"] == "DL3015"
    assert codes["shell-form-entrypoint"] == "DL3025"
    assert codes["runs-as-root"] is None  # hadolint has no rule for a missing USER
    latest = rules_of("FROM alpine:latest\n")
    assert [f.evidence["hadolint"] for f in latest if f.rule == "base-image-unpinned"] == ["DL3007"]
    assert [f.evidence["hadolint"] for f in rules_of("FROM alpine:3\nUSER root\n") if f.rule == "runs-as-root"] == ["DL3002"]


def test_secret_value_is_never_in_a_finding() -> None:
    found = rules_of("FROM alpine:3.20\nENV API_TOKEN=s3cr3t-value-123 OTHER=1\nARG GITHUB_TOKEN\n")
    secrets = [f for f in found if f.rule == "secret-in-env"]
    assert {f.evidence["name"] for f in secrets} == {"API_TOKEN", "GITHUB_TOKEN"}
    assert all("s3cr3t" not in repr(f) for f in found)


def test_inline_ignores_coroner_and_hadolint() -> None:
    text = (
        "FROM alpine:3.20\n"
        "# coroner: ignore=sudo,consecutive-run\n"
        "RUN sudo mkdir /a\n"
        "# hadolint ignore=DL3004\n"
        "RUN sudo mkdir /b\n"
        "RUN sudo mkdir /c\n"
    )
    sudo_lines = [f.evidence["line"] for f in rules_of(text) if f.rule == "sudo"]
    assert sudo_lines == [6]
    assert [f for f in rules_of(text) if f.rule == "consecutive-run" and f.evidence["line"] == 3] == []


def test_global_and_cli_ignores() -> None:
    text = "# hadolint global ignore=DL3004\nFROM alpine:3.20\nRUN sudo mkdir /a\nWORKDIR app\n"
    rules = {f.rule for f in rules_of(text)}
    assert "sudo" not in rules and "workdir-relative" in rules
    assert "workdir-relative" not in {f.rule for f in rules_of(text, ignore=["workdir-relative"])}
    assert "workdir-relative" not in {f.rule for f in rules_of(text, ignore=["DL3000"])}


def test_builder_stages_are_exempt_from_shipping_rules() -> None:
    text = (
        "FROM python:3.12 AS build\nRUN apt-get update && apt-get install -y --no-install-recommends gcc\n"
        "RUN pip install --no-cache-dir -r requirements.txt\nUSER root\n"
        "FROM python:3.12-slim\nUSER 10001\nCMD [\"app\"]\n"
    )
    rules = {f.rule for f in rules_of(text)}
    assert not rules & {"apt-lists-not-removed", "build-tools-in-final-stage", "base-image-heavy", "runs-as-root"}


def test_stage_chain_counts_as_shipped() -> None:
    text = "FROM python:3.12 AS base\nRUN pip install flask==3\nFROM base\nUSER 10001\n"
    assert {f.evidence["line"] for f in rules_of(text) if f.rule == "pip-cache"} == {2}


def test_apt_purge_in_same_run_is_not_build_tools() -> None:
    text = (
        "FROM debian:12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends gcc make "
        "&& make && apt-get purge -y --auto-remove gcc make && rm -rf /var/lib/apt/lists/*\n"
    )
    assert "build-tools-in-final-stage" not in {f.rule for f in rules_of(text)}


def test_toolchain_base_image_ships_build_tools() -> None:
    assert "build-tools-in-final-stage" in {f.rule for f in rules_of("FROM golang:1.22\nCMD [\"app\"]\n")}


def test_heredoc_run_is_analysed_as_shell() -> None:
    text = "FROM debian:12-slim\nRUN <<EOF\napt-get update\napt-get install -y curl\nEOF\n"
    rules = {f.rule for f in rules_of(text)}
    assert {"apt-no-install-recommends", "apt-lists-not-removed"} <= rules
    assert "apt-update-alone" not in rules


def test_pip_no_cache_env_and_cache_mount_exempt() -> None:
    env = "FROM python:3.12-slim\nENV PIP_NO_CACHE_DIR=1\nRUN pip install flask==3\n"
    mount = "FROM python:3.12-slim\nRUN --mount=type=cache,target=/root/.cache/pip pip install flask==3\n"
    assert "pip-cache" not in {f.rule for f in rules_of(env)}
    assert "pip-cache" not in {f.rule for f in rules_of(mount)}


def test_only_a_lists_removal_counts() -> None:
    text = "FROM debian:12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends x && rm -rf /var/cache/apt\n"
    assert "apt-lists-not-removed" in {f.rule for f in rules_of(text)}


def test_shell_form_with_shell_features_is_not_fixable() -> None:
    f = [f for f in rules_of("FROM alpine:3.20\nCMD app --port $PORT\n") if f.rule == "shell-form-entrypoint"][0]
    assert f.evidence["fixable"] is False


def test_unresolved_arg_in_from_is_not_unpinned() -> None:
    text = "ARG BASE\nFROM ${BASE}\nFROM base-${TARGETARCH} AS x\n"
    assert "base-image-unpinned" not in {f.rule for f in rules_of(text)}


def test_user_not_numeric_fixable_when_uid_known() -> None:
    text = "FROM alpine:3.20\nRUN adduser -D -u 1234 app\nUSER app\n"
    f = [f for f in rules_of(text) if f.rule == "user-not-numeric"][0]
    assert f.evidence["fixable"] is True


def test_dockerignore_missing_and_incomplete(tmp_path: Path) -> None:
    text = "FROM alpine:3.20\nCOPY . /app\n"
    found = rules_of(text, context=tmp_path, measure_context=False)
    assert "dockerignore-missing" in {f.rule for f in found}
    (tmp_path / ".dockerignore").write_text(".git\n")
    found = rules_of(text, context=tmp_path, measure_context=False)
    inc = [f for f in found if f.rule == "dockerignore-incomplete"]
    assert inc and "**/node_modules" in inc[0].evidence["missing"] and ".git" not in inc[0].evidence["missing"]
    (tmp_path / ".dockerignore").write_text(".git\n**/node_modules\n**/__pycache__\n**/*.log\n.env\n")
    assert not {"dockerignore-missing", "dockerignore-incomplete"} & {f.rule for f in rules_of(text, context=tmp_path)}


def test_dockerignore_rules_need_a_whole_context_copy(tmp_path: Path) -> None:
    assert "dockerignore-missing" not in {
        f.rule for f in rules_of("FROM alpine:3.20\nCOPY app.py /app/\n", context=tmp_path, measure_context=False)
    }


def test_dockerignore_incomplete_names_what_the_context_holds(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text(".git\n**/node_modules\n**/__pycache__\n**/*.log\n.env\n")
    (tmp_path / "data").mkdir()
    with open(tmp_path / "data" / "train.csv", "wb") as fh:
        fh.truncate(2 * 1024 * 1024)
    (tmp_path / "id_rsa").write_text("not really")
    found = rules_of("FROM alpine:3.20\nCOPY . /app\n", context=tmp_path)
    inc = [f for f in found if f.rule == "dockerignore-incomplete"][0]
    assert "**/*.csv" in inc.evidence["missing"] and "id_rsa" in inc.evidence["missing"]
    assert "not really" not in repr(inc)


def test_every_rule_has_a_doc_page() -> None:
    docs = Path(__file__).resolve().parents[3] / "docs" / "rules"
    for rule in RULES:
        page = docs / f"{rule.id}.md"
        assert page.is_file(), page
        assert page.read_text().startswith(f"# {rule.id}\n")


def test_entrypoint_script_that_execs_its_child_is_not_no_init(tmp_path: Path) -> None:
    text = 'FROM alpine:3.20\nCOPY docker-entrypoint.sh /usr/local/bin/\nENTRYPOINT ["docker-entrypoint.sh"]\nCMD ["app"]\n'
    (tmp_path / "docker-entrypoint.sh").write_text('#!/bin/sh\nset -e\nexec "$@"\n')
    assert "no-init" not in {f.rule for f in rules_of(text, context=tmp_path, measure_context=False)}
    (tmp_path / "docker-entrypoint.sh").write_text("#!/bin/sh\napp\n")
    assert "no-init" in {f.rule for f in rules_of(text, context=tmp_path, measure_context=False)}
    assert "unless it execs" in [f for f in rules_of(text) if f.rule == "no-init"][0].title


def test_user_from_a_build_arg_is_resolved() -> None:
    by_arg = rules_of("FROM alpine:3.20\nARG U=app\nUSER ${U}\n")
    assert [(f.rule, f.evidence["fixable"]) for f in by_arg if f.rule == "user-not-numeric"] == [("user-not-numeric", False)]
    assert "user-not-numeric" not in {f.rule for f in rules_of("FROM alpine:3.20\nARG U=1000\nUSER ${U}\n")}
    assert "user-not-numeric" not in {f.rule for f in rules_of("FROM alpine:3.20\nARG U\nUSER ${U}\n")}  # known at build time only
    root = rules_of("ARG R=root\nFROM alpine:3.20\nARG R\nUSER ${R}\n")
    assert [f.evidence["hadolint"] for f in root if f.rule == "runs-as-root"] == ["DL3002"]
