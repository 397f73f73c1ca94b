"""The JSON sink: what `coroner diagnose --format json` prints and what a diagnosis posts as data.

Exactly the documented keys: service, target, findings, rollback_candidates, rollback, cause, timeline,
duration_ms.
Credentials in any string are redacted (`bot.redact`): this JSON is printed and posted.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from bot.redact import redact_json

if TYPE_CHECKING:
    from bot.engine.diagnose import Diagnosis


def diagnosis_json(d: Diagnosis) -> dict[str, Any]:
    return redact_json({
        "service": d.service,
        "target": d.target.to_json(),
        "findings": [
            {"rule": f.rule, "severity": f.severity.value, "title": f.title, "evidence": _jsonable(f.evidence)}
            for f in d.findings
        ],
        "rollback_candidates": [
            {"revision": c.revision, "image": c.image, "size_bytes": c.size_bytes, "healthy": c.healthy}
            for c in d.rollback_candidates
        ],
        "rollback": d.rollback.to_json(),
        "cause": d.cause.to_json() if d.cause is not None else None,
        "timeline": [{"at": e.at.isoformat(), "source": e.source, "text": e.text} for e in d.timeline],
        "duration_ms": d.duration_ms,
    })


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
