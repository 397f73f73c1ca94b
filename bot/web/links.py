"""Signed, expiring links to the postmortem web view: no cookies, no login, the link is the credential.

A link is `{base}/postmortems/{incident_id}?exp=<unix seconds>&sig=<hex HMAC-SHA256>`. The MAC covers
the path and the expiry, never the host: the bot behind a proxy sees another host than the one in
`CORONER_PUBLIC_URL`, and the same link must work there. A purpose prefix keeps these MACs apart from
anything else that one day shares the secret.

The secret never enters a message, a repr or a log line here.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from bot.ports import CoronerError
from bot.render.order import utc

if TYPE_CHECKING:
    from bot.settings import Settings

PURPOSE = b"coroner-postmortem-link-v1"
_EXPIRY = re.compile(r"[0-9]{1,12}")  # unix seconds; twelve digits reach the year 33658
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


class WebSecretError(CoronerError):
    """The web view's signing secret is unusable (empty)."""


class LinkFailure(enum.StrEnum):
    MISSING = "missing"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"


# What a person holding the link is told. Short, and the same whatever the secret is.
_FAILURE_TEXT = {
    LinkFailure.MISSING: "this link has no signature: open the postmortem from its Slack message",
    LinkFailure.MALFORMED: "this link is damaged: open the postmortem from its Slack message",
    LinkFailure.BAD_SIGNATURE: "this link is not valid: open the postmortem from its Slack message",
    LinkFailure.EXPIRED: "this link has expired: ask Coroner in the incident's Slack thread for a fresh one",
}


class LinkRejected(CoronerError):
    """A postmortem link that does not open the page; `reason` says why, the message says it to a person."""

    def __init__(self, reason: LinkFailure) -> None:
        super().__init__(_FAILURE_TEXT[reason])
        self.reason = reason


def postmortem_path(incident_id: str) -> str:
    """The URL path of an incident's page; the id is percent-encoded so that no id can add a path segment."""
    return f"/postmortems/{quote(incident_id, safe='')}"


def _mac(*, incident_id: str, exp: int, secret: str) -> str:
    message = b"\n".join((PURPOSE, postmortem_path(incident_id).encode("utf-8"), str(exp).encode("ascii")))
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def require_secret(secret: str) -> None:
    """Refuse an empty key: an HMAC keyed with nothing is signed by anyone."""
    if not secret:
        raise WebSecretError("the web view's signing secret is empty: set CORONER_WEB_SECRET")


def sign_link(*, base_url: str, incident_id: str, secret: str, expires_at: datetime) -> str:
    """The signed URL of an incident's postmortem page, valid until `expires_at` (naive counts as UTC)."""
    require_secret(secret)
    exp = int(utc(expires_at).timestamp())
    query = urlencode({"exp": exp, "sig": _mac(incident_id=incident_id, exp=exp, secret=secret)})
    return f"{base_url.rstrip('/')}{postmortem_path(incident_id)}?{query}"


def verify_link(*, incident_id: str, exp: str | None, sig: str | None, secret: str, now: datetime) -> None:
    """Accept the link's `exp` and `sig` query values for `incident_id`, or raise `LinkRejected`.

    The signature is checked before the expiry, so "expired" is only ever said of a link we signed.
    """
    require_secret(secret)
    if not exp or not sig:
        raise LinkRejected(LinkFailure.MISSING)
    if not _EXPIRY.fullmatch(exp) or not _SIGNATURE.fullmatch(sig):
        raise LinkRejected(LinkFailure.MALFORMED)
    expected = _mac(incident_id=incident_id, exp=int(exp), secret=secret)
    if not hmac.compare_digest(expected, sig):
        raise LinkRejected(LinkFailure.BAD_SIGNATURE)
    if utc(now).timestamp() >= int(exp):
        raise LinkRejected(LinkFailure.EXPIRED)


@dataclass(frozen=True)
class PostmortemLinks:
    """Signs links for Slack messages: `links.url(incident_id, now=clock())`.

    Built once from the settings (`CORONER_PUBLIC_URL`, `CORONER_WEB_SECRET`,
    `CORONER_WEB_LINK_TTL_SECONDS`); the secret is kept out of the repr.
    """

    base_url: str
    secret: str = field(repr=False)
    ttl: timedelta

    def __post_init__(self) -> None:
        require_secret(self.secret)

    @classmethod
    def from_settings(cls, settings: Settings) -> PostmortemLinks | None:
        """None when `CORONER_WEB_SECRET` is unset: the web view is off and Slack shows no link."""
        if settings.web_secret is None:
            return None
        return cls(base_url=settings.public_url, secret=settings.web_secret.get_secret_value(),
                   ttl=timedelta(seconds=settings.web_link_ttl_seconds))

    def url(self, incident_id: str, *, now: datetime) -> str:
        return sign_link(base_url=self.base_url, incident_id=incident_id, secret=self.secret,
                         expires_at=now + self.ttl)
