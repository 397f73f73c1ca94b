"""Block Kit for an incident's life in Slack: the live root message, its thread lines, and the
postmortem review notice. Built from our own typed values; every untrusted string is escaped, and the
ones that quote a diagnosis (the probable cause, timeline lines) are redacted first (`bot.redact`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain import Incident, TimelineEntry
from bot.redact import redact
from bot.render.values import stamp
from bot.slack.blocks import FALLBACK_TEXT_MAX, SECTION_TEXT_MAX, SlackMessage, context, header, section
from bot.slack.mrkdwn import code, escape, one_line, truncate

ACK_ACTION_ID = "coroner_pd_acknowledge"
RESOLVE_ACTION_ID = "coroner_pd_resolve"
OPEN_DRAFT_ACTION_ID = "coroner_pm_open"
START_REVIEW_ACTION_ID = "coroner_pm_start_review"
APPROVE_ACTION_ID = "coroner_pm_approve"
REQUEST_CHANGES_ACTION_ID = "coroner_pm_request_changes"
REQUEST_CHANGES_CALLBACK_ID = "coroner_pm_request_changes_modal"
REVIEW_ACTION_IDS = (START_REVIEW_ACTION_ID, APPROVE_ACTION_ID, REQUEST_CHANGES_ACTION_ID)

_STATUS_EMOJI = {"triggered": ":rotating_light:", "acknowledged": ":eyes:", "resolved": ":white_check_mark:"}


def elapsed_text(start: datetime, now: datetime) -> str:
    seconds = max(0, int((now - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _button(action_id: str, text: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action_id,
                              "text": {"type": "plain_text", "text": text}, "value": value[:2000]}
    if style:
        button["style"] = style
    return button


def root_message(incident: Incident, *, now: datetime, pagerduty_buttons: bool) -> SlackMessage:
    """The incident's root message, edited in place as PagerDuty reports changes."""
    emoji = _STATUS_EMOJI.get(incident.status, ":rotating_light:")
    title = one_line(incident.title) or incident.id
    facts = [
        f"*Service:* {code(incident.service or '?')}",
        f"*Status:* {escape(incident.status)}",
        f"*Urgency:* {escape(incident.urgency or '?')}" + (f" · *Priority:* {escape(incident.priority)}"
                                                           if incident.priority else ""),
        f"*Assignee:* {escape(incident.assignee or 'unassigned')}",
    ]
    since = incident.created_at
    if incident.status == "resolved" and incident.resolved_at is not None:
        facts.append(f"*Duration:* {elapsed_text(since, incident.resolved_at)}")
    else:
        facts.append(f"*Open for:* {elapsed_text(since, now)} (since {stamp(since)} UTC)")
    if incident.html_url:
        facts.append(f"<{escape(incident.html_url)}|Open in PagerDuty>")
    blocks: list[dict[str, Any]] = [
        header(f"{incident.status.capitalize()}: {incident.title or incident.id}"),
        section(truncate(f"{emoji} *{title}*\n" + "\n".join(facts), SECTION_TEXT_MAX), block_id="incident"),
    ]
    if incident.probable_cause:
        blocks.append(section(truncate(f":mag: *Probable cause:* {one_line(redact(incident.probable_cause))}",
                                       SECTION_TEXT_MAX), block_id="probable_cause"))
    else:
        blocks.append(context("Coroner is diagnosing; the findings will land in this thread."))
    if pagerduty_buttons and incident.status != "resolved":
        value = json.dumps({"incident_id": incident.id})
        elements = [_button(RESOLVE_ACTION_ID, "Resolve", value, style="primary")]
        if incident.status == "triggered":
            elements.insert(0, _button(ACK_ACTION_ID, "Acknowledge", value))
        blocks.append({"type": "actions", "block_id": "pagerduty_actions", "elements": elements})
    text = truncate(f"{incident.status}: {one_line(incident.title)} ({one_line(incident.service or '?')})",
                    FALLBACK_TEXT_MAX)
    return SlackMessage(text=text, blocks=blocks)


def thread_line(entry: TimelineEntry) -> SlackMessage:
    line = one_line(redact(entry.text))  # redacted before the cut: half a credential matches no pattern
    text = f"`[{stamp(entry.at)}]` {truncate(line, 2800)}"
    return SlackMessage(text=truncate(line, FALLBACK_TEXT_MAX), blocks=[section(text)])


@dataclass(frozen=True)
class ReviewNotice:
    """A postmortem version as the review notice shows it."""

    incident_id: str
    title: str
    version: int
    status: str  # draft | in_review | changes_requested | approved
    url: str | None
    last_change: str | None = None  # "approved by <@U123>" etc.; already mrkdwn


def review_notice(notice: ReviewNotice) -> SlackMessage:
    value = json.dumps({"incident_id": notice.incident_id, "version": notice.version})
    lines = [f":memo: *Postmortem draft v{notice.version}* for {one_line(notice.title)}",
             f"*State:* `{notice.status}`"]
    if notice.last_change:
        lines.append(notice.last_change)
    blocks: list[dict[str, Any]] = [section("\n".join(lines), block_id="postmortem")]
    elements: list[dict[str, Any]] = []
    if notice.url:
        elements.append({"type": "button", "action_id": OPEN_DRAFT_ACTION_ID,
                         "text": {"type": "plain_text", "text": "Open draft"}, "url": notice.url[:3000]})
    if notice.status == "draft":
        elements.append(_button(START_REVIEW_ACTION_ID, "Start review", value))
    if notice.status in ("draft", "in_review"):
        elements.append(_button(APPROVE_ACTION_ID, "Approve", value, style="primary"))
        elements.append(_button(REQUEST_CHANGES_ACTION_ID, "Request changes", value))
    if elements:
        blocks.append({"type": "actions", "block_id": "postmortem_actions", "elements": elements})
    text = f"Postmortem draft v{notice.version} ({escape(notice.status)}): {one_line(notice.title)}"
    return SlackMessage(text=truncate(text, FALLBACK_TEXT_MAX), blocks=blocks)


def request_changes_modal(*, incident_id: str, version: int, channel: str | None, message_ts: str | None) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": REQUEST_CHANGES_CALLBACK_ID,
        "private_metadata": json.dumps({"incident_id": incident_id, "version": version, "channel": channel,
                                        "message_ts": message_ts}),
        "title": {"type": "plain_text", "text": "Request changes"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [{
            "type": "input", "block_id": "comment",
            "label": {"type": "plain_text", "text": f"What should change in v{version}?"},
            "element": {"type": "plain_text_input", "action_id": "text", "multiline": True, "max_length": 3000},
        }],
    }
