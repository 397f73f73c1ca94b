"""The Slack sink: a `Diagnosis` as Block Kit, for `/diagnose` and the incident's thread.

It leads with the probable cause (`Diagnosis.cause`), lists the findings in the diagnosis's order, one
section per severity, shows the rollback decision as decided (`Diagnosis.rollback`: nothing is inferred
from a finding's evidence) and the tail of the folded timeline. Every untrusted string is escaped and
redacted first. What does not fit Slack's limits is cut and replaced by a "… N more" note, most severe
findings first, so the cut never hides the critical ones.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.domain import Finding, RollbackCandidate, Severity
from bot.redact import redact, redact_json
from bot.render.blame import DOCKERFILE_CHECK, image_blamed
from bot.render.timeline import fold
from bot.render.values import format_value, stamp
from bot.slack.blocks import (
    BUTTON_TEXT_MAX,
    BUTTON_VALUE_MAX,
    FALLBACK_TEXT_MAX,
    MAX_BLOCKS,
    ROLLBACK_ACTION_ID,
    SECTION_TEXT_MAX,
    TOTAL_CHARS_BUDGET,
    SlackMessage,
    blocks_size,
    context,
    divider,
    header,
    mrkdwn_text,
    section,
)
from bot.slack.mrkdwn import code, escape, one_line, truncate
from bot.units import human_bytes

if TYPE_CHECKING:
    from bot.engine.diagnose import Diagnosis

FINDING_LINE_MAX = 600
EVIDENCE_FACTS = 6
EVIDENCE_LINE_MAX = 240
TIMELINE_ENTRIES = 10
CANDIDATES_SHOWN = 5

SEVERITY_EMOJI = {
    Severity.CRITICAL: ":red_circle:",
    Severity.HIGH: ":large_orange_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.LOW: ":large_blue_circle:",
    Severity.INFO: ":white_circle:",
}


def _clean(text: str) -> str:
    """One line, credentials redacted, mrkdwn escaped: how any string from the evidence is shown."""
    return one_line(redact(text))


def _finding_line(finding: Finding, *, hygiene: bool = False) -> str:
    """`hygiene`: the finding is the Dockerfile's lint and the image is not the cause: said on the line, so
    a High lint finding is not read as the incident's cause (the order stays the diagnosis's)."""
    line = f"• *{_clean(finding.title)}*  {code(finding.rule)}" + ("  _hygiene, not this cause_" if hygiene else "")
    evidence = redact_json(dict(finding.evidence))
    # Chat gets the scalar facts only; nested evidence (image lists, patches) is in the JSON and the draft.
    scalars = [k for k in sorted(evidence) if isinstance(evidence[k], str | int | float | bool)]
    if scalars:
        facts = ", ".join(f"{k}={format_value(k, evidence[k])}" for k in scalars[:EVIDENCE_FACTS])
        line += f"\n      {truncate(one_line(facts), EVIDENCE_LINE_MAX)}"
    return truncate(line, FINDING_LINE_MAX)


def _target_text(d: Diagnosis) -> str:
    t = d.target
    parts = [f"{one_line(t.kind)} {code(truncate(f'{t.namespace}/{t.name}', 300))}"]
    if t.context:
        parts.append(f"context {code(t.context)}")
    parts.append(f"{d.duration_ms} ms")
    return " · ".join(parts)


def _counts_text(findings: Sequence[Finding]) -> str:
    counts = [(s, sum(1 for f in findings if f.severity is s)) for s in Severity]
    shown = [f"{n} {s.value}" for s, n in counts if n]
    return ", ".join(shown) if shown else "no findings"


def _cause_blocks(d: Diagnosis) -> list[dict[str, Any]]:
    cause = d.cause
    if cause is None:
        return []
    if cause.chain or not cause.candidates:  # a chain, or a finding of its own ("no fault found in ...")
        text = f":mag: *Probable cause* ({escape(cause.confidence.value)} confidence): {_clean(cause.summary)}"
    else:
        candidates = "\n".join(f"• {_clean(c)}" for c in cause.candidates)
        text = f":mag: *Probable cause:* the evidence does not single out one cause.\n{candidates}"
    return [section(truncate(text, SECTION_TEXT_MAX), block_id="probable_cause")]


def _rollback_blocks(d: Diagnosis, *, offer_rollback: bool) -> list[dict[str, Any]]:
    decision = d.rollback
    chosen = next((c for c in d.rollback_candidates if decision.recommended and c.revision == decision.revision),
                  None)
    if not d.rollback_candidates and not decision.recommended:
        return []
    if chosen is not None:
        lines = [f":white_check_mark: *Roll back to revision {chosen.revision}:* {_clean(decision.reason)}"]
        if chosen.undo_command:
            lines.append(f"      {code(chosen.undo_command)}")
    else:
        lines = [f"*Rollback not recommended:* {_clean(decision.reason)}"]
    others = sorted((c for c in d.rollback_candidates if c is not chosen), key=lambda c: -c.revision)
    for c in others[:CANDIDATES_SHOWN]:
        size = human_bytes(c.size_bytes) if c.size_bytes is not None else "size unknown"
        lines.append(f"• revision {c.revision}: {code(c.image)} ({size}) {'healthy' if c.healthy else 'not healthy'}")
    if len(others) > CANDIDATES_SHOWN:
        lines.append(f"… {len(others) - CANDIDATES_SHOWN} more revisions")
    blocks = [section("\n".join(lines), block_id="rollback")]
    # The button's rollback (`ClusterRollbacker`) undoes a Deployment; a StatefulSet or DaemonSet gets the
    # recommendation and its `kubectl rollout undo` command only.
    if offer_rollback and chosen is not None and d.target.kind == "Deployment":
        blocks.append(rollback_actions(d, chosen))
    return blocks


def rollback_actions(d: Diagnosis, candidate: RollbackCandidate) -> dict[str, Any]:
    """The opt-in "Roll back to revision N" button. Its value only names the revision and the target:
    clicking it asks for confirmation and reaches the bot, which decides; nothing runs here."""
    t = d.target
    value = json.dumps({"revision": candidate.revision, "context": t.context, "namespace": t.namespace,
                        "name": t.name, "kind": t.kind}, sort_keys=True)
    confirm = f"Roll {code(f'{t.namespace}/{t.name}')} back to revision {candidate.revision} ({code(candidate.image)})?"
    return {
        "type": "actions",
        "block_id": "rollback_actions",
        "elements": [{
            "type": "button",
            "action_id": ROLLBACK_ACTION_ID,
            "text": {"type": "plain_text",
                     "text": truncate(f"Roll back to revision {candidate.revision}", BUTTON_TEXT_MAX)},
            "value": value[:BUTTON_VALUE_MAX],
            "style": "danger",
            "confirm": {
                "title": {"type": "plain_text", "text": "Roll back?"},
                "text": mrkdwn_text(truncate(confirm, 300)),
                "confirm": {"type": "plain_text", "text": "Roll back"},
                "deny": {"type": "plain_text", "text": "Cancel"},
            },
        }],
    }


def _timeline_blocks(d: Diagnosis, limit: int) -> list[dict[str, Any]]:
    moments = fold(d.timeline)
    if not moments or limit <= 0:
        return []
    shown = moments[-limit:]
    lines = ["*Timeline* (UTC, repeats folded)"]
    if len(moments) > len(shown):
        lines.append(f"… {len(moments) - len(shown)} earlier lines")
    lines += [f"`[{stamp(m.first)}]` {truncate(_clean(m.line), 300)}" for m in shown]
    return [section("\n".join(lines), block_id="timeline")]


def diagnosis_message(d: Diagnosis, *, offer_rollback: bool = False, timeline_limit: int = TIMELINE_ENTRIES
                      ) -> SlackMessage:
    """The answer to `/diagnose SERVICE` and the diagnosis in an incident's thread.

    `offer_rollback` adds the "Roll back to revision N" button, only when the decision recommends one; it
    is off unless the operator opted in.
    """
    service = _clean(d.service)
    head = [header(f"Diagnosis: {redact(d.service)}"), context(_target_text(d), _counts_text(d.findings)),
            *_cause_blocks(d)]
    rollback = _rollback_blocks(d, offer_rollback=offer_rollback)
    # The findings come first: a long timeline gives up entries before it can crowd them out.
    limit = timeline_limit
    while True:
        tail = [divider(), *rollback, *_timeline_blocks(d, limit)]
        if limit == 0 or blocks_size(head) + blocks_size(tail) <= TOTAL_CHARS_BUDGET // 2:
            break
        limit //= 2

    def more_note(omitted: int) -> dict[str, Any]:
        full = code(f"coroner diagnose {truncate(d.service, 100)} --format json")
        return context(f"… {omitted} more findings not shown. Full list: {full}")

    reserve = blocks_size([more_note(len(d.findings))]) + 2
    hygiene = d.cause is not None and not image_blamed(d.cause, d.rollback)
    body, omitted = _finding_sections(d.findings, head=head, tail=tail, reserve=reserve, hygiene=hygiene)
    if omitted:
        body.append(more_note(omitted))
    elif not d.findings:
        body.append(section(":white_check_mark: No findings."))
    text = truncate(f"Diagnosis of {service}: {_counts_text(d.findings)}", FALLBACK_TEXT_MAX)
    return SlackMessage(text=text, blocks=[*head, *body, *tail])


def _finding_sections(findings: Sequence[Finding], *, head: list[dict[str, Any]], tail: list[dict[str, Any]],
                      reserve: int, hygiene: bool = False) -> tuple[list[dict[str, Any]], int]:
    """Pack finding lines into sections, one run per severity, until blocks or characters run out.

    Returns the sections and how many findings did not fit.
    """
    block_room = MAX_BLOCKS - len(head) - len(tail) - 1
    char_room = TOTAL_CHARS_BUDGET - blocks_size(head) - blocks_size(tail) - reserve
    done: list[dict[str, Any]] = []
    done_size = 0
    current: list[str] = []
    current_severity: Severity | None = None
    shown = 0
    for finding in findings:
        severity = finding.severity
        line = _finding_line(finding, hygiene=hygiene and finding.check == DOCKERFILE_CHECK)
        grown = [*current, line]
        if severity is current_severity and len("\n".join(grown)) <= SECTION_TEXT_MAX:
            proposal, new_block = grown, False
        else:
            heading = [f"{SEVERITY_EMOJI[severity]} *{severity.value.capitalize()}*"]
            proposal, new_block = (heading if severity is not current_severity else []) + [line], True
        closing = blocks_size([section("\n".join(current))]) + 2 if new_block and current else 0
        blocks = len(done) + (2 if new_block and current else 1)
        size = done_size + closing + blocks_size([section("\n".join(proposal))]) + 2
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
