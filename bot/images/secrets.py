"""Secrets in image metadata: found by name, never printed. Every text Coroner shows from an image's
history, config or Dockerfile goes through `bot.redact.redact` (re-exported here) first; the patterns
that find a secret are the ones that mask it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.dockerfile.rules import is_secret_name
from bot.redact import ASSIGNMENT, ENV_SPACE, PRIVATE_KEY, REDACTED, TOKEN, is_reference, redact

__all__ = ["REDACTED", "SecretHit", "find_secrets", "redact"]


@dataclass(frozen=True)
class SecretHit:
    name: str  # the variable's name, or the kind of token; never the value


def find_secrets(text: str) -> list[SecretHit]:
    # Redaction is broad (AUTHOR=me is masked too: hiding a harmless value costs little), but a finding
    # needs the Dockerfile doctor's precise words, or ENV AUTHOR=me would be a critical secret.
    hits = [SecretHit(m.group(1)) for m in ASSIGNMENT.finditer(text)
            if not is_reference(m.group(2)) and is_secret_name(m.group(1))]
    hits += [SecretHit(m.group(2)) for m in ENV_SPACE.finditer(text)
             if not is_reference(m.group(3)) and is_secret_name(m.group(2))]
    hits += [SecretHit("token " + m.group(0)[:4] + "…") for m in (*TOKEN.finditer(text), *PRIVATE_KEY.finditer(text))]
    seen: dict[str, SecretHit] = {}
    for hit in hits:
        seen.setdefault(hit.name, hit)
    return list(seen.values())
