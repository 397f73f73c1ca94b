"""add-url-without-checksum: which ADD sources are downloads, and what the remediation asks for."""

from __future__ import annotations

import pytest

from bot.dockerfile.fix import fix
from bot.dockerfile.parser import parse
from bot.dockerfile.rules import lint
from bot.domain import Finding

SUM = "sha256:" + "ab" * 32


def unverified(text: str) -> list[Finding]:
    return [f for f in lint(parse(text)) if f.rule == "add-url-without-checksum"]


@pytest.mark.parametrize("add", [
    "ADD https://example.com/tool-1.2.tgz /opt/",
    "ADD http://example.com/tool /usr/local/bin/tool",
    "ADD --chmod=755 https://github.com/krallin/tini/releases/download/v0.19.0/tini /tini",
    'ADD ["https://example.com/a b.tgz", "/opt/"]',
    "ADD https://example.com/releases/${VERSION}/tool.tgz /opt/",
    "ADD https://example.com/repo.git.tar.gz /opt/",  # a tarball whose name holds .git, not a repository
])
def test_a_download_without_checksum_is_reported(add: str) -> None:
    (f,) = unverified(f"FROM alpine:3.20\n{add}\n")
    assert f.evidence["line"] == 2 and f.evidence["urls"][0].startswith("http")
    assert f.evidence["fixable"] is False
    assert "sha256sum" in (f.remediation or "") and "1.6" in (f.remediation or "")


@pytest.mark.parametrize("add", [
    f"ADD --checksum={SUM} https://example.com/tool-1.2.tgz /opt/",
    "ADD https://github.com/moby/buildkit.git#v0.13.0 /src",
    "ADD --keep-git-dir=true https://github.com/moby/buildkit.git /src",
    "ADD git@github.com:moby/buildkit.git#v0.13.0 /src",
    "ADD git://example.com/repo /src",
    "ADD rootfs.tar.gz /",
    "ADD app /app",
    "COPY https-notes.txt /opt/",
])
def test_verified_git_and_local_sources_are_quiet(add: str) -> None:
    assert unverified(f"# syntax=docker/dockerfile:1.6\nFROM alpine:3.20\n{add}\n") == []


def test_the_remediation_names_what_the_syntax_line_needs() -> None:
    (none,) = unverified("FROM alpine:3.20\nADD https://example.com/a /a\n")
    assert "# syntax=docker/dockerfile:1.6" in (none.remediation or "")
    (old,) = unverified("# syntax=docker/dockerfile:1.4\nFROM alpine:3.20\nADD https://example.com/a /a\n")
    assert "docker/dockerfile:1.4" in (old.remediation or "")
    (new,) = unverified("# syntax=docker/dockerfile:1\nFROM alpine:3.20\nADD https://example.com/a /a\n")
    assert "syntax" not in (new.remediation or "")


def test_windows_images_are_told_the_legacy_builder_has_no_checksum() -> None:
    (f,) = unverified("FROM mcr.microsoft.com/windows/servercore:ltsc2022\nADD https://example.com/a.zip C:/a.zip\n")
    assert "Get-FileHash" in (f.remediation or "")


def test_fix_leaves_it_with_the_reason() -> None:
    text = "FROM alpine:3.20\nADD https://example.com/a.tgz /opt/\n"
    r = fix(text)
    assert "ADD https://example.com/a.tgz /opt/" in r.text
    assert "add-url-without-checksum (line 2): left alone, the file's digest is not known here" in r.notes
