"""Renderings of Dockerfile findings: terminal text, a JSON list, and SARIF 2.1.0 for code scanning."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot import __version__
from bot.dockerfile.catalog import RULES, level
from bot.domain import Finding
from bot.printable import printable
from bot.redact import redact, redact_json
from bot.units import human_bytes

if TYPE_CHECKING:
    from bot.dockerfile.context import ContextAudit

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def finding_json(f: Finding) -> dict[str, Any]:
    ev = dict(f.evidence)
    return {
        "rule": f.rule,
        "severity": f.severity.value,
        "level": level(f.severity),
        "file": ev.get("file"),
        "line": ev.get("line"),
        "end_line": ev.get("end_line"),
        "message": f.title,
        "hadolint": ev.get("hadolint"),
        "fixable": bool(ev.get("fixable")),
        "remediation": f.remediation,
        "evidence": {k: v for k, v in ev.items() if k not in ("file", "line", "end_line", "hadolint", "fixable")},
    }


def to_json(findings: Sequence[Finding]) -> str:
    return json.dumps(redact_json([finding_json(f) for f in _ordered(findings)]), indent=2)


def _ordered(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (str(f.evidence.get("file")), int(f.evidence.get("line") or 0), f.severity.rank, f.rule))


def to_text(findings: Sequence[Finding], *, audits: Sequence[ContextAudit] = (), color: bool = False) -> str:
    lines = []
    for f in _ordered(findings):
        ev = f.evidence
        code = f" {ev['hadolint']}" if ev.get("hadolint") else ""
        fix = " [fixable]" if ev.get("fixable") else ""
        sev = f.severity.value
        if color:
            sev = {"critical": "\x1b[1;91m", "high": "\x1b[91m", "medium": "\x1b[93m", "low": "\x1b[93m"}.get(sev, "\x1b[92m") + sev + "\x1b[0m"
        # Titles may quote the Dockerfile and paths come from the build context: a control character in
        # either must not reach the terminal (an escape sequence retitles or clears it).
        where = printable(f"{ev.get('file')}:{ev.get('line')}")
        lines.append(f"{where} {f.rule}{code} {sev}: {printable(f.title, escape_backslash=False)}{fix}")
    for a in audits:
        lines.append("")
        lines.append(f"build context {printable(str(a.root))}: {human_bytes(a.sent_bytes)} in {a.sent_files} files sent"
                     + (f" with {a.dockerignore}" if a.dockerignore else " (no .dockerignore)")
                     + f"; {human_bytes(a.total_bytes)} in {a.total_files} files without it")
        for e in a.largest:
            kind = f" [{e.kind}]" if e.kind else ""
            ignored = "" if e.sent_bytes == e.total_bytes else f" (of {human_bytes(e.total_bytes)}; rest ignored)"
            lines.append(f"  {human_bytes(e.sent_bytes):>10}  {printable(e.path)}{kind}{ignored}")
        for s in a.secrets:
            lines.append(f"  secret-looking file sent: {printable(s)}")
        for u in a.unreadable:
            lines.append(f"  unreadable, not measured: {printable(u)}")
    if findings:
        fixable = sum(1 for f in findings if f.evidence.get("fixable"))
        lines.append(f"{len(findings)} finding(s), {fixable} fixable with `coroner fix`")
    return redact("\n".join(lines)) + ("\n" if lines else "")


def to_sarif(findings: Sequence[Finding]) -> str:
    rule_index = {r.id: i for i, r in enumerate(RULES)}
    rules = [
        {
            "id": r.id,
            "name": "".join(part.capitalize() for part in r.id.split("-")),
            "shortDescription": {"text": r.message},
            "fullDescription": {"text": r.message + (f" (hadolint {', '.join(r.hadolint)})" if r.hadolint else "")},
            "help": {"text": f"{r.message}. See docs/rules/{r.id}.md."},
            "defaultConfiguration": {"level": level(r.severity)},
            "properties": {"tags": ["dockerfile"], "severity": r.severity.value, "hadolint": list(r.hadolint)},
        }
        for r in RULES
    ]
    results = []
    for f in _ordered(findings):
        ev = f.evidence
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": rule_index[f.rule],
            "level": level(f.severity),
            "message": {"text": f.title + (f". {f.remediation}" if f.remediation else "")},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": _artifact(str(ev.get("file"))),
                        "region": {"startLine": int(ev.get("line") or 1), "endLine": int(ev.get("end_line") or ev.get("line") or 1)},
                    }
                }
            ],
            "properties": {"severity": f.severity.value, "hadolint": ev.get("hadolint"), "fixable": bool(ev.get("fixable"))},
        }
        results.append(result)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "coroner", "version": __version__, "rules": rules}},
                "results": redact_json(results),
                "columnKind": "utf16CodeUnits",
            }
        ],
    }
    return json.dumps(doc, indent=2)


def _uri(path: str) -> str:
    from urllib.parse import quote

    path = path.replace("\\", "/")
    return quote(path[2:] if path.startswith("./") else path)


def _artifact(path: str) -> dict[str, str]:
    """Code scanning resolves a relative uri against %SRCROOT% (the checkout). An absolute path is made
    relative to the working directory when it lies below it; otherwise it becomes a file:// URI, which
    SARIF forbids to pair with a uriBaseId."""
    import os
    from pathlib import Path

    if os.path.isabs(path):
        try:
            path = str(Path(path).relative_to(Path.cwd()))
        except ValueError:
            return {"uri": Path(path).as_uri()}
    return {"uri": _uri(path), "uriBaseId": "%SRCROOT%"}
