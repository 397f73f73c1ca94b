"""Secrets baked into the image through ENV or ARG."""

from __future__ import annotations

import re

from bot.dockerfile.rules.edits import Fixer
from bot.dockerfile.rules.state import Check, State


_SECRET_WORDS = re.compile(
    r"(^|_)(PASSWORD|PASSWD|PASS|SECRET|TOKEN|APIKEY|API_KEY|ACCESS_KEY|SECRET_KEY|PRIVATE_KEY|AUTH_KEY|"
    r"CREDENTIALS?|AUTH)($|_)",
    re.I,
)


_NOT_SECRET_SUFFIX = re.compile(r"_(FILE|PATH|DIR|URL|ENABLED|HOST|PORT|USER|USERNAME|NAME|TYPE|ID)$", re.I)


def is_secret_name(name: str) -> bool:
    """A variable named for a secret (`DB_PASSWORD`, `GITHUB_TOKEN`), not for where one lives (`TOKEN_FILE`).
    The image autopsy's secret-in-history uses the same words, so both features agree."""
    return bool(_SECRET_WORDS.search(name)) and not _NOT_SECRET_SUFFIX.search(name)


def _check_secrets(st: State) -> None:
    for ins in st.dockerfile.instructions:
        if ins.keyword not in ("ENV", "ARG"):
            continue
        for key, value in ins.pairs:
            if not is_secret_name(key):
                continue
            literal = value is not None and value != "" and not value.startswith("$")
            if ins.keyword == "ENV" and not literal:
                continue
            what = "with a literal value" if literal else "(build-arg values are recorded in the image history)"
            st.add("secret-in-env", ins, f"{ins.keyword} {key} looks like a secret {what}", name=key,
                   remediation="Pass secrets with RUN --mount=type=secret, or at run time from a secret store.")


CHECKS: tuple[Check, ...] = (_check_secrets,)
FIXERS: tuple[Fixer, ...] = ()
# Why `coroner fix` leaves a finding of these rules alone (said in its notes).
WHY_LEFT: dict[str, str] = {
    "secret-in-env": "a secret must be rotated and passed with RUN --mount=type=secret; the value is not printed",
}
