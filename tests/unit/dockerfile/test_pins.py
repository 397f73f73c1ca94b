"""package-unpinned: which words of an install are packages, and which of those carry a version."""

from __future__ import annotations

import pytest

from bot.dockerfile.parser import parse
from bot.dockerfile.rules import lint


def unpinned(run: str) -> list[tuple[str, list[str]]]:
    """(hadolint code, packages) of each package-unpinned finding of one RUN."""
    found = lint(parse(f"FROM debian:12-slim\nRUN {run}\n"))
    return [(f.evidence["hadolint"], f.evidence["packages"]) for f in found if f.rule == "package-unpinned"]


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        # apt: options between and after packages are not packages; `=` pins, `/release` does not
        ("apt-get install curl --no-install-recommends wget -y", [("DL3008", ["curl", "wget"])]),
        ("apt-get -y install --no-install-recommends curl=7.88.1 git/bookworm-backports",
         [("DL3008", ["git/bookworm-backports"])]),
        ("apt-get install -o Dpkg::Options::=--force-confnew -t bookworm -y vim", [("DL3008", ["vim"])]),
        ("apt install --yes curl", [("DL3008", ["curl"])]),
        # apk: `--virtual NAME` takes a value; `~` and `>` pin, `@edge` does not
        ("apk add --no-cache --virtual .build-deps gcc musl-dev~1.2 libffi>3 tini@community",
         [("DL3018", ["gcc", "tini@community"])]),
        # pip: specifiers, extras and markers
        ("pip install --no-cache-dir -U pip 'requests[socks]' 'attrs; python_version<\"3.9\"'",
         [("DL3013", ["pip", "requests[socks]", "attrs; python_version<\"3.9\""])]),
        ("python3 -m pip install flask==3.0.3 django~=5.0 numpy>=1.26 rich -r requirements.txt",
         [("DL3013", ["rich"])]),
        # npm: `@version`, scopes, moving dist-tags
        ("npm install -g typescript@5.4.5 @types/node eslint@latest @scope/x@1", [("DL3016", ["@types/node", "eslint@latest"])]),
        ("npm add left-pad", [("DL3016", ["left-pad"])]),
    ],
)
def test_unpinned_packages_are_reported(run: str, expected: list[tuple[str, list[str]]]) -> None:
    assert unpinned(run) == expected


@pytest.mark.parametrize(
    "run",
    [
        "apt-get install -y --no-install-recommends curl=${CURL_VERSION} wget=1.21.3-1+b2",
        "apt-get install -y ./app.deb /tmp/other.deb",
        "apt-get install -y $PACKAGES \"${BUILD_DEPS}\"",
        "apt-get update && apt-get upgrade -y",
        "apk add --no-cache curl=8.5.0-r0 ./local.apk",
        "apk update",
        "pip install -r requirements.txt",
        "pip install --no-cache-dir . ./lib /wheels/app-1.0-py3-none-any.whl",
        "pip install -e . git+https://github.com/org/repo@v1.2 https://example.com/x.tar.gz",
        "pip install -c constraints.txt flask requests",
        "pip install 'app @ https://example.com/app.zip'",
        "pip install app @ https://example.com/app.zip",
        "pip download flask",
        "pip3 install --user poetry==1.8.3",
        "npm install",
        "npm ci --omit=dev",
        "npm install --omit=dev --no-audit",
        "npm install ./local-pkg user/repo github:user/repo#v1 https://example.com/p.tgz",
        "yarn add left-pad",
    ],
)
def test_pinned_or_not_a_package(run: str) -> None:
    assert unpinned(run) == []


def test_one_finding_per_manager_and_run() -> None:
    assert unpinned("apt-get update && apt-get install -y curl && pip install flask && apt-get install -y git=1:2.39.2-1 jq") == [
        ("DL3008", ["curl", "jq"]), ("DL3013", ["flask"])]


def test_builder_stages_are_judged_too() -> None:
    text = "FROM debian:12-slim AS build\nRUN apt-get install -y gcc\nFROM scratch\nCOPY --from=build /a /a\n"
    assert [f.evidence["line"] for f in lint(parse(text)) if f.rule == "package-unpinned"] == [2]


def test_hadolint_ignore_of_one_manager_keeps_the_other() -> None:
    text = ("FROM python:3.12-slim\n# hadolint ignore=DL3008\n"
            "RUN apt-get install -y curl && pip install flask\n")
    found = [f.evidence["hadolint"] for f in lint(parse(text)) if f.rule == "package-unpinned"]
    assert found == ["DL3013"]


def test_finding_is_low_and_not_fixable_with_a_way_to_find_the_version() -> None:
    [f] = [f for f in lint(parse("FROM alpine:3.20\nRUN apk add curl\n")) if f.rule == "package-unpinned"]
    assert f.severity.value == "low" and f.evidence["fixable"] is False
    assert "apk policy PKG" in (f.remediation or "")
