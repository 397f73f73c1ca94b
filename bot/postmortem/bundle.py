"""An evidence bundle: everything a postmortem is drafted from, as one JSON document.

The shape reuses the domain types' own `to_json()` output, so a bundle can be written by any stage
(`{"incident": Incident.to_json(), "timeline": [...], "findings": [...], "rollback_candidates": [...],
"image": <coroner image --format json>, "dockerfile_fix": {"diff", "notes", "path", "rules"}}`) and
rendered with `coroner postmortem render`. Errors name the field, because a bundle is often hand-edited
while working on a template.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from bot.dockerfile.estimate import SizeEstimate
from bot.domain import (
    CauseLink,
    Confidence,
    Finding,
    Incident,
    ProbableCause,
    RollbackCandidate,
    RollbackDecision,
    Severity,
    Target,
    TimelineEntry,
)
from bot.ports import CoronerError
from bot.postmortem.evidence import DockerfileFix, ImageSummary

T = TypeVar("T")


class BundleError(CoronerError):
    """The evidence bundle is malformed; the message names the field."""


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def _opt_time(value: Any) -> datetime | None:
    return None if value is None else _time(value)


def _incident(d: Mapping[str, Any]) -> Incident:
    return Incident(
        id=str(d["id"]),
        source=str(d.get("source", "cli")),
        external_id=d.get("external_id"),
        title=str(d["title"]),
        service=d.get("service"),
        status=str(d.get("status", "resolved")),
        urgency=d.get("urgency"),
        created_at=_time(d["created_at"]),
        resolved_at=_opt_time(d.get("resolved_at")),
        number=d.get("number"),
        html_url=d.get("html_url"),
    )


def _timeline(d: Mapping[str, Any]) -> TimelineEntry:
    at = _time(d["at"])
    key = str(d.get("key") or f"{at.isoformat()}:{d['text']}")
    return TimelineEntry(at=at, source=str(d["source"]), text=str(d["text"]), key=key)


def _finding(d: Mapping[str, Any]) -> Finding:
    return Finding(
        rule=str(d["rule"]),
        severity=Severity(d["severity"]),
        title=str(d["title"]),
        evidence=dict(d.get("evidence") or {}),
        remediation=d.get("remediation"),
        check=d.get("check"),
    )


def candidate_from_json(d: Mapping[str, Any]) -> RollbackCandidate:
    return RollbackCandidate(
        revision=int(d["revision"]),
        image=str(d["image"]),
        size_bytes=d.get("size_bytes"),
        healthy=bool(d["healthy"]),
        live_from=_opt_time(d.get("live_from")),
        live_until=_opt_time(d.get("live_until")),
        recommended=bool(d.get("recommended", False)),
        undo_command=str(d.get("undo_command") or ""),
        patch=tuple(d.get("patch") or ()),
    )


def _fix(d: Mapping[str, Any]) -> DockerfileFix:
    return DockerfileFix(
        diff=str(d["diff"]),
        notes=tuple(str(n) for n in d.get("notes") or ()),
        path=str(d.get("path") or "Dockerfile"),
        rules=tuple(str(r) for r in d.get("rules") or ()),
        dockerignore=d.get("dockerignore"),
        dockerignore_path=str(d.get("dockerignore_path") or ".dockerignore"),
        size_estimate=SizeEstimate.from_json(d["size_estimate"]) if d.get("size_estimate") else None,
    )


def cause_from_json(d: Mapping[str, Any]) -> ProbableCause:
    return ProbableCause(
        summary=str(d["summary"]),
        chain=tuple(CauseLink(str(link["role"]), str(link["text"]), tuple(str(r) for r in link.get("rules") or ()))
                    for link in d.get("chain") or ()),
        supporting=tuple(str(r) for r in d.get("supporting") or ()),
        ruled_out=tuple(str(r) for r in d.get("ruled_out") or ()),
        confidence=Confidence(d.get("confidence", "low")),
        candidates=tuple(str(c) for c in d.get("candidates") or ()),
    )


def decision_from_json(d: Mapping[str, Any]) -> RollbackDecision:
    revision = d.get("revision")
    return RollbackDecision(recommended=bool(d["recommended"]), revision=int(revision) if revision is not None else None,
                            reason=str(d.get("reason") or ""),
                            implicated_by=tuple(str(r) for r in d.get("implicated_by") or ()))


def target_from_json(d: Mapping[str, Any]) -> Target:
    return Target(context=d.get("context"), namespace=str(d["namespace"]), kind=str(d.get("kind", "Deployment")),
                  name=str(d["name"]))


def _parse(where: str, parse: Callable[[Mapping[str, Any]], T], value: Any) -> T:
    try:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected an object, got {type(value).__name__}")
        return parse(value)
    except KeyError as exc:
        raise BundleError(f"{where}: missing field {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise BundleError(f"{where}: {exc}") from exc


def _list(data: Mapping[str, Any], key: str, parse: Callable[[Mapping[str, Any]], T]) -> list[T]:
    items = data.get(key) or []
    if not isinstance(items, list):
        raise BundleError(f"{key}: expected a list")
    return [_parse(f"{key}[{i}]", parse, item) for i, item in enumerate(items)]


def load_bundle(data: Any) -> dict[str, Any]:
    """The keyword arguments of `build_view`, parsed from a bundle."""
    if not isinstance(data, Mapping):
        raise BundleError("the bundle must be a JSON object")
    if "incident" not in data:
        raise BundleError("incident: missing")
    return {
        "incident": _parse("incident", _incident, data["incident"]),
        "timeline": _list(data, "timeline", _timeline),
        "findings": _list(data, "findings", _finding),
        "rollback_candidates": _list(data, "rollback_candidates", candidate_from_json),
        "image": _parse("image", ImageSummary.from_json, data["image"]) if data.get("image") else None,
        "dockerfile_fix": (
            _parse("dockerfile_fix", _fix, data["dockerfile_fix"]) if data.get("dockerfile_fix") else None
        ),
        # The diagnosis's own decisions (issue 9); without them `build_view` falls back.
        "cause": _parse("cause", cause_from_json, data["cause"]) if data.get("cause") else None,
        "rollback": _parse("rollback", decision_from_json, data["rollback"]) if data.get("rollback") else None,
        "target": _parse("target", target_from_json, data["target"]) if data.get("target") else None,
    }
