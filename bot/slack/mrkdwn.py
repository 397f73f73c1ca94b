"""Slack mrkdwn for untrusted text.

Slack parses `<...>` as links and mentions (`<!channel>`, `<@U123>`, `<#C1>`), and `&` starts an entity,
so any text Coroner did not write itself (PagerDuty titles, event messages, service names typed by a
user) goes through `escape` before it reaches a `mrkdwn` text object. Slack documents exactly these
three replacements; formatting characters (`*`, `_`, `~`) cannot ping anyone and are left alone.
Plain `@channel` only notifies with `link_names=1`, which Coroner never sends.
"""

from __future__ import annotations

import re

from bot.printable import clip


def escape(text: str) -> str:
    """`&`, `<`, `>` as Slack entities: `"<!channel> & co"` -> `"&lt;!channel&gt; &amp; co"`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_BACKTICKS = re.compile(r"`+")


def code(text: str) -> str:
    """An inline code span. Slack has no escape for a backtick inside code, so backticks become `'`."""
    flat = " ".join(text.split())
    return "`" + escape(_BACKTICKS.sub("'", flat)) + "`" if flat else ""


def one_line(text: str) -> str:
    """Escaped and folded onto one line, so untrusted text cannot start a quote or a list."""
    return escape(" ".join(text.split()))


def truncate(text: str, limit: int, *, marker: str = "…") -> str:
    """Cut to `limit` characters, never in the middle of an entity such as `&amp;` nor of an escape such
    as `\\x1b` (`bot.printable.clip`)."""
    if len(text) <= limit:
        return text
    cut = clip(text, max(0, limit - len(marker)), marker="")
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + marker
