"""add-url-without-checksum: `ADD https://…` fetches whatever the server returns at build time.

BuildKit verifies a download when ADD names its digest (`ADD --checksum=sha256:<hex> <url> <dest>`,
Dockerfile syntax 1.6 and later). Without it, a changed or compromised file enters the image unnoticed,
and the step is not reproducible. The digest cannot be derived from the Dockerfile, so this has no fix.

A URL is a Git source, not a download, when BuildKit's gitutil.ParseGitRef says so: `git://`, `git@…`,
`ssh://`, or http(s) whose path ends in `.git` (`https://github.com/o/r.git#v1.2`). `--checksum` there
names a commit, not a file digest (syntax 1.18), so those are not reported.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from bot.dockerfile.parser import Dockerfile
from bot.dockerfile.rules.edits import Fixer
from bot.dockerfile.rules.state import Check, State, copy_sources

_HTTP = re.compile(r"^https?://", re.I)
_SYNTAX_VERSION = re.compile(r"dockerfile(?:-upstream)?:(\d+)(?:\.(\d+))?")


def is_git_url(source: str) -> bool:
    if source.startswith(("git://", "git@", "ssh://")):
        return True
    return bool(_HTTP.match(source)) and urlsplit(source).path.endswith(".git")


def download_urls(sources: list[str]) -> list[str]:
    """The http(s) sources of an ADD that BuildKit downloads as files (Git sources excluded)."""
    return [s for s in sources if _HTTP.match(s) and not is_git_url(s)]


def _syntax_note(d: Dockerfile) -> str:
    """What the `# syntax=` line needs for `--checksum`: BuildKit 1.6 or later."""
    syntax = d.directives.get("syntax")
    if syntax is None:
        return " `--checksum` needs `# syntax=docker/dockerfile:1.6` (or newer) as the first line."
    m = _SYNTAX_VERSION.search(syntax)
    if m and (int(m.group(1)), int(m.group(2) or 99)) < (1, 6):
        return f" `--checksum` needs Dockerfile syntax 1.6 or newer: the file asks for `{syntax}`."
    return ""


def _check_add_url(st: State) -> None:
    d = st.dockerfile
    for ins in d.instructions:
        if ins.keyword != "ADD" or ins.heredocs or ins.flag("checksum"):
            continue
        urls = download_urls(copy_sources(ins))
        if not urls:
            continue
        if d.legacy_builder:  # Windows images: the legacy builder has no --checksum
            remedy = ("Download in a RUN and compare `Get-FileHash` with the published SHA-256 "
                      "(the legacy builder that builds Windows images has no ADD --checksum).")
        else:
            remedy = (f"`ADD --checksum=sha256:<hex> {urls[0]} …`; get the digest from the publisher, or with "
                      f"`curl -fsSL {urls[0]} | sha256sum` from a download you trust." + _syntax_note(d))
        st.add("add-url-without-checksum", ins,
               f"ADD downloads {urls[0]} without --checksum: whatever the server returns goes into the image",
               remediation=remedy, urls=urls)


CHECKS: tuple[Check, ...] = (_check_add_url,)
FIXERS: tuple[Fixer, ...] = ()
WHY_LEFT: dict[str, str] = {
    "add-url-without-checksum": "the file's digest is not known here",
}
