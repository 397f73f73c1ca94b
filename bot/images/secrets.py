"""Secrets in image metadata: found by name, never printed. Every text Coroner shows from an image's
history, config or Dockerfile goes through `redact` first."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.dockerfile.rules import is_secret_name

REDACTED = "***"

_SECRET_NAME = r"[A-Za-z0-9_.-]*(?:SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH)[A-Za-z0-9_.-]*"
# NAME=value, as in `ENV`, `ARG`, the legacy builder's `|2 NAME=value /bin/sh -c` prefix, or a shell line.
_ASSIGNMENT = re.compile(rf"(?i)(?<![A-Za-z0-9_])({_SECRET_NAME})=(\"[^\"]*\"|'[^']*'|[^\s\"']+)")
# `ENV NAME value` (the old space form).
_ENV_SPACE = re.compile(rf"(?i)(\bENV\s+)({_SECRET_NAME})\s+(?!.*=)(\S.*)$")
_TOKENS = re.compile(
    r"(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9]{20,}|-----BEGIN [A-Z ]*PRIVATE KEY-----)"
)


@dataclass(frozen=True)
class SecretHit:
    name: str  # the variable's name, or the kind of token; never the value


def _is_reference(value: str) -> bool:
    stripped = value.strip("\"'")
    return not stripped or stripped.startswith("$")


def find_secrets(text: str) -> list[SecretHit]:
    # Redaction is broad (AUTHOR=me is masked too: hiding a harmless value costs little), but a finding
    # needs the Dockerfile doctor's precise words, or ENV AUTHOR=me would be a critical secret.
    hits = [SecretHit(m.group(1)) for m in _ASSIGNMENT.finditer(text)
            if not _is_reference(m.group(2)) and is_secret_name(m.group(1))]
    hits += [SecretHit(m.group(2)) for m in _ENV_SPACE.finditer(text)
             if not _is_reference(m.group(3)) and is_secret_name(m.group(2))]
    hits += [SecretHit("token " + m.group(1)[:4] + "…") for m in _TOKENS.finditer(text)]
    seen: dict[str, SecretHit] = {}
    for hit in hits:
        seen.setdefault(hit.name, hit)
    return list(seen.values())


def redact(text: str | None) -> str:
    if not text:
        return text or ""
    text = _ASSIGNMENT.sub(lambda m: m.group(0) if _is_reference(m.group(2)) else f"{m.group(1)}={REDACTED}", text)
    text = _ENV_SPACE.sub(lambda m: m.group(0) if _is_reference(m.group(3)) else f"{m.group(1)}{m.group(2)} {REDACTED}", text)
    return _TOKENS.sub(REDACTED, text)
