"""Credentials out of everything Coroner prints, posts or stores: one `redact`, applied at every sink.

Dockerfiles, image histories and command lines carry credentials in a handful of shapes, and each is
masked where it stands, keeping the words around it so the line still reads:

- `NAME=value` and `ENV NAME value` when NAME names a secret (`DB_PASSWORD`, `API_TOKEN`, `AUTH`):
  `DB_PASSWORD=***`. Matching is broad (`AUTHOR=me` is masked too: hiding a harmless value costs little),
  except for names of a place (`TOKEN_FILE`, `PASSWORD_PATH`, `SECRET_DIR`): a path is not a secret.
- the password of a URL, `https://ci:***@git.example.com`, and the whole user part of an http(s) URL
  without one, `https://***@github.com` (a token passed as the user); `ssh://git@host` is left alone.
- `curl -u user:***` (and `--user`, `--proxy-user`, `-U`), `mysql -p***`, `sshpass -p ***`,
  `docker login -p ***`.
- an option named for a secret, with `=` or a space: `--password=***`, `--token ***`,
  `--registry-password ***`. `--password-file=/run/secrets/db` and `--password-stdin` are kept.
- `Authorization: Bearer ***` and the token headers (`Private-Token`, `X-Api-Key`, `X-Auth-Token`, …).
- tokens recognisable by their shape wherever they stand (`ghp_…`, `glpat-…`, `AKIA…`, `xoxb-…`,
  `sk-…`), and private key blocks.

A value that is a reference (`$TOKEN`, `${PASSWORD}`) is no secret and stays. `values` masks given
literal values too, wherever they appear: a secret the caller knows (from a finding) may be reused on
a line no pattern recognises. The function is idempotent: redacting twice changes nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

REDACTED = "***"

# Every pattern is linear in the text: no nested quantifiers, and each scan that looks ahead for an
# option is bounded. Text from an image's history is untrusted and may be megabytes long.

# Words that make a variable name a secret's name, anywhere in it (broad on purpose, see above).
_SECRET_WORD = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH",
                          re.I)
# Names of where a secret lives, not of the secret.
_PLACE_SUFFIX = re.compile(r"[_.-](FILE|PATH|DIR)$", re.I)
_VALUE = r"(\"[^\"]*\"|'[^']*'|[^\s\"';&|]+)"
# NAME=value (any NAME: whether it names a secret is decided by `names_a_secret`), as in ENV, ARG, the
# legacy builder's `|2 NAME=value /bin/sh -c` prefix, a shell line or a query string.
ASSIGNMENT = re.compile(rf"(?<![A-Za-z0-9_.-])([A-Za-z0-9_.-]+)={_VALUE}")
# `ENV NAME value` (the old space form).
ENV_SPACE = re.compile(r"(?im)(\bENV[ \t]+)([A-Za-z0-9_.-]+)[ \t]+(?![^\n]*=)(\S[^\n]*)$")
TOKEN = re.compile(
    r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{20,}|sk_live_[A-Za-z0-9]{16,}|npm_[A-Za-z0-9]{30,}"
    r"|AIza[0-9A-Za-z_-]{35}"
)
PRIVATE_KEY = re.compile(
    r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.S
)
# scheme://user:password@  (the password runs to the last `@` before the path)
_URL_PASSWORD = re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,30}://[^\s/:@'\"]*:)([^\s/'\"]+)@")
# https://token@  (no password: the user part is the credential)
_URL_USER = re.compile(r"(?i)\b(https?://)([^\s/:@'\"]+)@")
# Options whose meaning depends on the command: `-u user:pass` is curl's credential (`docker run -u
# 1000:1000` is not), `-p` a password only for mysql (attached: `mysql -p db` prompts) and the logins.
# One left-to-right pass: a command word opens a scope that the next `\n ; & |` closes.
_SCOPED = re.compile(
    r"(?P<sep>[\n;&|])"
    r"|\b(?P<curl>curl)\b"
    r"|\b(?P<mysql>mysql|mysqladmin|mysqldump|mariadb)\b"
    r"|\b(?P<login>sshpass|docker[ \t]+login|podman[ \t]+login|helm[ \t]+registry[ \t]+login)\b"
    r"|\s(?:-u|-U|--user|--proxy-user)(?:\s+|=)?[\"']?[^\s:\"']*:(?P<userpass>[^\s\"']+)"
    r"|\s-p(?P<attached>[^\s\"';&|]+)"
    r"|\s-p[ \t]+(?P<spaced>[^\s\"';&|]+)"
)
_OPTION = re.compile(
    r"(?i)(--(?:[a-z0-9]+-)*(?:password|passwd|pass|passphrase|pwd|token|secret|api-?key|apikey|access-?key"
    r"|secret-?key|private-?key|credentials?)(?:=|[ \t]+))" + _VALUE
)
_HEADER = re.compile(
    r"(?i)\b((?:proxy-)?authorization\s*:\s*(?:(?:bearer|basic|token|digest|bot)\s+)?"
    r"|(?:private-token|x-api-key|api-key|x-auth-token|x-access-token|x-vault-token)\s*:\s*)([^\s\"']+)"
)


def is_reference(value: str) -> bool:
    """`$TOKEN`, `${PASSWORD}`, an empty value, or one already masked: nothing to hide."""
    stripped = value.strip("\"'")
    return not stripped or stripped.startswith("$") or stripped == REDACTED


def _masked(group: int) -> Callable[[re.Match[str]], str]:
    """A substitution that replaces match group `group` with `***` (unless it is a reference)."""

    def sub(m: re.Match[str]) -> str:
        whole = m.group(0)
        if is_reference(m.group(group)):
            return whole
        return whole[: m.start(group) - m.start()] + REDACTED + whole[m.end(group) - m.start() :]

    return sub


def names_a_secret(name: str) -> bool:
    """Broad: any name holding a secret word (`DB_PASSWORD`, `npm_config__authToken`, `AUTHOR`), except
    the name of a place (`TOKEN_FILE`)."""
    return bool(_SECRET_WORD.search(name)) and not _PLACE_SUFFIX.search(name)


def _assignment(m: re.Match[str]) -> str:
    if not names_a_secret(m.group(1)) or is_reference(m.group(2)):
        return m.group(0)
    return f"{m.group(1)}={REDACTED}"


def _env_space(m: re.Match[str]) -> str:
    if not names_a_secret(m.group(2)) or is_reference(m.group(3)):
        return m.group(0)
    return f"{m.group(1)}{m.group(2)} {REDACTED}"


def _scoped(text: str) -> str:
    out: list[str] = []
    pos = 0
    command = ""
    for m in _SCOPED.finditer(text):
        kind = m.lastgroup
        assert kind is not None  # every alternative of _SCOPED is a named group
        if kind == "sep":
            command = ""
        elif kind in ("curl", "mysql", "login"):
            command = kind
        elif (kind, command) in (("userpass", "curl"), ("attached", "mysql"), ("attached", "login"),
                                 ("spaced", "login")) and not is_reference(m.group(kind)):
            out += [text[pos : m.start(kind)], REDACTED]
            pos = m.end(kind)
    return "".join(out) + text[pos:] if out else text


def redact(text: str, *, values: Collection[str] = ()) -> str:
    """`text` with every credential it holds replaced by `***` (see the module docstring)."""
    if not text:
        return text
    for value in sorted((v for v in values if v and v != REDACTED), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    text = PRIVATE_KEY.sub(REDACTED, text)
    text = TOKEN.sub(REDACTED, text)
    for pattern in (_URL_PASSWORD, _URL_USER, _HEADER, _OPTION):
        text = pattern.sub(_masked(2), text)
    text = _scoped(text)
    text = ASSIGNMENT.sub(_assignment, text)
    return ENV_SPACE.sub(_env_space, text)


J = TypeVar("J")


def redact_json(value: J) -> J:
    """Every string in a JSON-like structure (dicts, lists, tuples) redacted; keys and other values kept."""
    return _redact_any(value)


def _redact_any(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: _redact_any(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_any(v) for v in value)
    return value
