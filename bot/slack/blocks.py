"""Block Kit messages built from neutral data: a diagnosis, a postmortem notice, an error.

Builders take JSON-shaped data (`DiagnosisLike.to_json()`), so they do not depend on how the engine
builds a diagnosis. Every untrusted string goes through `mrkdwn.escape`. Every message stays inside
Slack's documented limits (REFERENCE.md §2.4) and inside a total-size margin, because Slack rejects
`msg_blocks_too_long` well before the documented limits add up: what does not fit is cut and replaced
by a "… N more" note, most severe findings first, so the cut never hides the critical ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from bot.domain import RollbackCandidate, Severity
from bot.redact import redact, redact_json
from bot.render.values import format_value, stamp
from bot.slack.mrkdwn import code, escape, one_line, truncate
from bot.units import human_bytes

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
FINDING_LINE_MAX = 600
EVIDENCE_FACTS = 6
EVIDENCE_LINE_MAX = 240
TIMELINE_ENTRIES = 10
ROLLBACK_ACTION_ID = "coroner_rollback"

SEVERITY_EMOJI = {
    Severity.CRITICAL: ":red_circle:",
    Severity.HIGH: ":large_orange_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.LOW: ":large_blue_circle:",
    Severity.INFO: ":white_circle:",
}


@runtime_checkable
class DiagnosisLike(Protocol):
    """What the Slack surface needs from a diagnosis: its JSON (`coroner diagnose --format json` shape)
    with `service`, `target`, `findings[]`, `rollback_candidates[]` and `timeline[]`."""

    def to_json(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class SlackMessage:
    """`text` is the notification fallback (also shown where blocks are not); `blocks` the message."""

    text: str
    blocks: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def _size(blocks: Sequence[Mapping[str, Any]]) -> int:
    return len(json.dumps(list(blocks)))  # as slack_sdk sends it: default separators, ASCII escapes


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def section(text: str, *, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": _mrkdwn(truncate(text, SECTION_TEXT_MAX))}
    if block_id:
        block["block_id"] = block_id
    return block


def header(text: str) -> dict[str, Any]:
    """Headers are plain text, where Slack parses no mentions. A zero-width space after each `<` makes
    sure of it without changing what people see (entities would show literally in plain text)."""
    plain = truncate(" ".join(text.split()).replace("<", "<\u200b"), HEADER_TEXT_MAX)
    return {"type": "header", "text": {"type": "plain_text", "text": plain}}


def context(*texts: str) -> dict[str, Any]:
    elements = [_mrkdwn(truncate(t, SECTION_TEXT_MAX)) for t in texts[:CONTEXT_ELEMENTS_MAX]]
    return {"type": "context", "elements": elements}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def _data(diagnosis: DiagnosisLike | Mapping[str, Any]) -> dict[str, Any]:
    """The diagnosis JSON, with the rollback candidates' `recommended` and `undo_command` restored.

    The documented JSON lists candidates with only revision, image, size and health. The recommendation
    is taken from the domain objects when the diagnosis carries them (`rollback_candidates` of
    `RollbackCandidate`), else from the `rollback-candidate` finding's evidence.
    """
    # Redacted before anything is cut to Slack's limits: a credential cut in half no longer matches.
    data = redact_json(dict(diagnosis.to_json() if isinstance(diagnosis, DiagnosisLike) else diagnosis))
    objects = getattr(diagnosis, "rollback_candidates", None)
    if objects and all(isinstance(c, RollbackCandidate) for c in objects):
        data["rollback_candidates"] = redact_json([c.to_json() for c in objects])
        return data
    candidates = [dict(c) for c in data.get("rollback_candidates") or []]
    if candidates and not any(c.get("recommended") for c in candidates):
        evidence = next(
            (
                f.get("evidence") or {}
                for f in data.get("findings") or []
                if f.get("rule") == "rollback-candidate" and "revision" in (f.get("evidence") or {})
            ),
            None,
        )
        for c in candidates:
            if evidence is not None and c.get("revision") == evidence["revision"]:
                c["recommended"] = True
                c.setdefault("undo_command", evidence.get("undo_command") or "")
    data["rollback_candidates"] = candidates
    return data


def _severity(raw: Any) -> Severity:
    try:
        return Severity(str(raw))
    except ValueError:
        return Severity.INFO


def _finding_line(finding: Mapping[str, Any]) -> str:
    title = one_line(str(finding.get("title") or finding.get("message") or ""))
    line = f"• *{title}*  {code(str(finding.get('rule', '?')))}"
    evidence = finding.get("evidence")
    evidence = evidence if isinstance(evidence, Mapping) else {}
    # Chat gets the scalar facts only; nested evidence (image lists, patches) is in the JSON and the draft.
    scalars = [k for k in sorted(evidence) if isinstance(evidence[k], str | int | float | bool)]
    if scalars:
        facts = ", ".join(f"{k}={format_value(k, evidence[k])}" for k in scalars[:EVIDENCE_FACTS])
        line += f"\n      {truncate(one_line(facts), EVIDENCE_LINE_MAX)}"
    return truncate(line, FINDING_LINE_MAX)


def _when(raw: Any) -> str:
    if isinstance(raw, datetime):
        return stamp(raw)
    try:
        return stamp(datetime.fromisoformat(str(raw)))
    except ValueError:
        return one_line(str(raw))


def _target_text(data: Mapping[str, Any]) -> str:
    target = data.get("target") or {}
    workload = f"{target.get('namespace', '?')}/{target.get('name') or data.get('service', '?')}"
    parts = [f"{one_line(str(target.get('kind', 'Deployment')))} {code(truncate(workload, 300))}"]
    if target.get("context"):
        parts.append(f"context {code(str(target['context']))}")
    if data.get("duration_ms") is not None:
        parts.append(f"{int(data['duration_ms'])} ms")
    return " · ".join(parts)


def _counts(findings: Sequence[Mapping[str, Any]]) -> list[tuple[Severity, int]]:
    counts = [(s, sum(1 for f in findings if _severity(f.get("severity")) is s)) for s in Severity]
    return [(s, n) for s, n in counts if n]


def _counts_text(findings: Sequence[Mapping[str, Any]]) -> str:
    counts = _counts(findings)
    if not counts:
        return "no findings"
    return ", ".join(f"{n} {s.value}" for s, n in counts)


def _rollback_blocks(data: Mapping[str, Any], *, offer_rollback: bool) -> list[dict[str, Any]]:
    candidates = sorted(
        data.get("rollback_candidates") or [],
        key=lambda c: (not c.get("recommended"), not c.get("healthy"), -int(c.get("revision") or 0)),
    )
    if not candidates:
        return []
    lines = ["*Rollback candidates*"]
    for c in candidates[:5]:
        size = human_bytes(c["size_bytes"]) if c.get("size_bytes") is not None else "size unknown"
        if c.get("recommended"):
            mark = ":white_check_mark: recommended"
        else:
            mark = "healthy" if c.get("healthy") else "not healthy"
        lines.append(f"• revision {int(c.get('revision') or 0)}: {code(str(c.get('image', '?')))} ({size}) {mark}")
        if c.get("recommended") and c.get("undo_command"):
            lines.append(f"      {code(str(c['undo_command']))}")
    if len(candidates) > 5:
        lines.append(f"… {len(candidates) - 5} more revisions")
    blocks = [section("\n".join(lines), block_id="rollback")]
    recommended = next((c for c in candidates if c.get("recommended")), None)
    if offer_rollback and recommended is not None:
        blocks.append(rollback_actions(data, recommended))
    return blocks


def rollback_actions(data: Mapping[str, Any], candidate: Mapping[str, Any]) -> dict[str, Any]:
    """The opt-in "Roll back to revision N" button. Its value only names the revision and the target:
    clicking it asks for confirmation and reaches the bot, which decides; nothing runs here."""
    revision = int(candidate["revision"])
    target = data.get("target") or {}
    workload = f"{target.get('namespace', '?')}/{target.get('name') or data.get('service', '?')}"
    value = json.dumps(
        {
            "revision": revision,
            "context": target.get("context"),
            "namespace": target.get("namespace"),
            "name": target.get("name") or data.get("service"),
            "kind": target.get("kind", "Deployment"),
        },
        sort_keys=True,
    )
    return {
        "type": "actions",
        "block_id": "rollback_actions",
        "elements": [
            {
                "type": "button",
                "action_id": ROLLBACK_ACTION_ID,
                "text": {"type": "plain_text", "text": truncate(f"Roll back to revision {revision}", BUTTON_TEXT_MAX)},
                "value": value[:BUTTON_VALUE_MAX],
                "style": "danger",
                "confirm": {
                    "title": {"type": "plain_text", "text": "Roll back?"},
                    "text": _mrkdwn(
                        truncate(
                            f"Roll {code(workload)} back to revision {revision} "
                            f"({code(str(candidate.get('image', '?')))})?",
                            300,
                        )
                    ),
                    "confirm": {"type": "plain_text", "text": "Roll back"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            }
        ],
    }


def _timeline_blocks(data: Mapping[str, Any], limit: int) -> list[dict[str, Any]]:
    entries = list(data.get("timeline") or [])
    if not entries or limit <= 0:
        return []
    shown = entries[-limit:]
    lines = ["*Timeline* (UTC)"]
    if len(entries) > len(shown):
        lines.append(f"… {len(entries) - len(shown)} earlier entries")
    for e in shown:
        lines.append(f"`[{_when(e.get('at'))}]` {truncate(one_line(str(e.get('text', ''))), 300)}")
    return [section("\n".join(lines), block_id="timeline")]


def diagnosis_message(
    diagnosis: DiagnosisLike | Mapping[str, Any],
    *,
    offer_rollback: bool = False,
    timeline_limit: int = TIMELINE_ENTRIES,
) -> SlackMessage:
    """The answer to `/diagnose SERVICE`: findings by severity, the rollback candidates, the timeline tail.

    `offer_rollback` adds the "Roll back to revision N" button; it is off unless the operator opted in.
    """
    data = _data(diagnosis)
    service = str(data.get("service") or (data.get("target") or {}).get("name") or "?")
    # Stable: within a severity, keep the engine's order (it sorts by evidence).
    findings = sorted(data.get("findings") or [], key=lambda f: _severity(f.get("severity")).rank)
    head = [header(f"Diagnosis: {service}"), context(_target_text(data), _counts_text(findings))]
    rollback = _rollback_blocks(data, offer_rollback=offer_rollback)
    # The findings come first: a long timeline gives up entries before it can crowd them out.
    limit = timeline_limit
    while True:
        tail = [divider(), *rollback, *_timeline_blocks(data, limit)]
        if limit == 0 or _size(head) + _size(tail) <= TOTAL_CHARS_BUDGET // 2:
            break
        limit //= 2

    def more_note(omitted: int) -> dict[str, Any]:
        full = code(f"coroner diagnose {truncate(service, 100)} --format json")
        return context(f"… {omitted} more findings not shown. Full list: {full}")

    body, omitted = _finding_sections(findings, head=head, tail=tail, reserve=_size([more_note(len(findings))]) + 2)
    if omitted:
        body.append(more_note(omitted))
    elif not findings:
        body.append(section(":white_check_mark: No findings."))
    text = truncate(f"Diagnosis of {one_line(service)}: {_counts_text(findings)}", FALLBACK_TEXT_MAX)
    return SlackMessage(text=text, blocks=[*head, *body, *tail])


def _finding_sections(
    findings: Sequence[Mapping[str, Any]], *, head: list[dict[str, Any]], tail: list[dict[str, Any]], reserve: int
) -> tuple[list[dict[str, Any]], int]:
    """Pack finding lines into sections, one run per severity, until blocks or characters run out.

    Returns the sections and how many findings did not fit.
    """
    block_room = MAX_BLOCKS - len(head) - len(tail) - 1
    char_room = TOTAL_CHARS_BUDGET - _size(head) - _size(tail) - reserve
    done: list[dict[str, Any]] = []
    done_size = 0
    current: list[str] = []
    current_severity: Severity | None = None
    shown = 0
    for finding in findings:
        severity = _severity(finding.get("severity"))
        line = _finding_line(finding)
        grown = [*current, line]
        if severity is current_severity and len("\n".join(grown)) <= SECTION_TEXT_MAX:
            proposal, new_block = grown, False
        else:
            heading = [f"{SEVERITY_EMOJI[severity]} *{severity.value.capitalize()}*"]
            proposal, new_block = (heading if severity is not current_severity else []) + [line], True
        closing = _size([section("\n".join(current))]) + 2 if new_block and current else 0
        blocks = len(done) + (2 if new_block and current else 1)
        size = done_size + closing + _size([section("\n".join(proposal))]) + 2
        if blocks > block_room or size > char_room:
            break
        if new_block and current:
            done.append(section("\n".join(current)))
            done_size += closing
        current, current_severity = proposal, severity
        shown += 1
    if current:
        done.append(section("\n".join(current)))
    return done, len(findings) - shown


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
