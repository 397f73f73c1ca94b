"""Block Kit building blocks and Slack's limits, and the small messages: a postmortem notice, an error.

The diagnosis message is the Slack sink of `bot.render` (`bot/render/slack.py`). Every untrusted string
goes through `mrkdwn.escape`. Every message stays inside Slack's documented limits (REFERENCE.md §2.4) and
inside a total-size margin, because Slack rejects `msg_blocks_too_long` well before the documented limits
add up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.redact import redact
from bot.slack.mrkdwn import code, escape, one_line, truncate

MAX_BLOCKS = 50
SECTION_TEXT_MAX = 3000
HEADER_TEXT_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
CONTEXT_ELEMENTS_MAX = 10
FALLBACK_TEXT_MAX = 3000
# Serialized size of all blocks. Slack answered msg_blocks_too_long at ~13 K characters while every
# documented limit held (slackapi/bolt-js#2509); 11 K leaves room for what Slack adds.
TOTAL_CHARS_BUDGET = 11_000
ROLLBACK_ACTION_ID = "coroner_rollback"


@dataclass(frozen=True)
class SlackMessage:
    """`text` is the notification fallback (also shown where blocks are not); `blocks` the message."""

    text: str
    blocks: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def blocks_size(blocks: Sequence[Mapping[str, Any]]) -> int:
    return len(json.dumps(list(blocks)))  # as slack_sdk sends it: default separators, ASCII escapes


def mrkdwn_text(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def section(text: str, *, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": mrkdwn_text(truncate(text, SECTION_TEXT_MAX))}
    if block_id:
        block["block_id"] = block_id
    return block


def header(text: str) -> dict[str, Any]:
    """Headers are plain text, where Slack parses no mentions. A zero-width space after each `<` makes
    sure of it without changing what people see (entities would show literally in plain text)."""
    plain = truncate(" ".join(text.split()).replace("<", "<\u200b"), HEADER_TEXT_MAX)
    return {"type": "header", "text": {"type": "plain_text", "text": plain}}


def context(*texts: str) -> dict[str, Any]:
    elements = [mrkdwn_text(truncate(t, SECTION_TEXT_MAX)) for t in texts[:CONTEXT_ELEMENTS_MAX]]
    return {"type": "context", "elements": elements}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


@dataclass(frozen=True)
class PostmortemNotice:
    """A postmortem draft is ready (or changed status)."""

    incident_id: str
    incident_title: str
    version: int
    status: str  # draft | in_review | approved
    content_hash: str
    service: str | None = None
    url: str | None = None
    summary: str | None = None


def postmortem_message(notice: PostmortemNotice) -> SlackMessage:
    notice = replace(notice, incident_title=redact(notice.incident_title),
                     summary=redact(notice.summary) if notice.summary else notice.summary)
    title = one_line(notice.incident_title)
    facts = [
        f"incident {code(notice.incident_id)}",
        f"version {notice.version}",
        f"status *{escape(notice.status)}*",
        f"sha256 {code(notice.content_hash[:12])}",
    ]
    if notice.service:
        facts.insert(1, f"service {code(notice.service)}")
    blocks: list[dict[str, Any]] = [
        header(f"Postmortem {notice.status.replace('_', ' ')}: {notice.incident_title}"),
        section(f"*{title}*\n" + " · ".join(facts)),
    ]
    if notice.summary:
        blocks.append(section(truncate(escape(notice.summary), SECTION_TEXT_MAX)))
    if notice.url:
        blocks.append(
            {
                "type": "actions",
                "block_id": "postmortem_actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "coroner_postmortem_open",
                        "text": {"type": "plain_text", "text": "Review the draft"},
                        "url": notice.url[:3000],
                    }
                ],
            }
        )
    text = truncate(f"Postmortem {escape(notice.status)} (v{notice.version}): {title}", FALLBACK_TEXT_MAX)
    return SlackMessage(text=text, blocks=blocks)


def error_message(text: str, *, emoji: str = ":warning:") -> SlackMessage:
    """`text` is already mrkdwn (callers escape what they did not write)."""
    text = redact(text)
    return SlackMessage(text=truncate(text, FALLBACK_TEXT_MAX), blocks=[section(f"{emoji} {text}")])
