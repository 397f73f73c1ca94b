"""Playbook YAML: which checks run on which trigger, with typed parameters. Validated on load.

```yaml
name: diagnose
description: What an SRE runs by hand when a service misbehaves.
triggers: [diagnose]                    # or pagerduty:incident.triggered, ...
timeout_seconds: 60                     # the whole run
check_timeout_seconds: 30               # default per check
checks:
  - check: disk
    timeout_seconds: 45                 # overrides the default for this check
    params: {summary: auto}
```
Every error names the file and the field (`diagnose.yaml: checks[1].params.warn_percent: ...`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.engine.registry import CHECKS
from bot.ports import CoronerError
from bot.yamlfile import load_yaml

TRIGGER = re.compile(r"^(diagnose|pagerduty:[a-z][a-z0-9_.]*)$")
DEFAULT_PLAYBOOK = "diagnose"


class PlaybookError(CoronerError):
    """A playbook that does not load; the message names the file and the field."""

    exit_code = 2


class _CheckEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    check: str
    params: dict[str, Any] = Field(default_factory=dict)
    timeout_seconds: float | None = Field(default=None, gt=0)


class _PlaybookFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    triggers: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(default=60.0, gt=0)
    check_timeout_seconds: float = Field(default=30.0, gt=0)
    checks: list[_CheckEntry] = Field(min_length=1)

    @field_validator("triggers")
    @classmethod
    def _known_triggers(cls, triggers: list[str]) -> list[str]:
        for trigger in triggers:
            if not TRIGGER.match(trigger):
                raise ValueError(f"unknown trigger {trigger!r}: use 'diagnose' or 'pagerduty:<event_type>'")
        return triggers


@dataclass(frozen=True)
class PlaybookStep:
    check: str
    params: BaseModel
    timeout_seconds: float


@dataclass(frozen=True)
class Playbook:
    name: str
    description: str
    triggers: tuple[str, ...]
    timeout_seconds: float
    steps: tuple[PlaybookStep, ...]
    source: str = "<memory>"


def _loc(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_playbook(data: Any, *, source: str) -> Playbook:
    """Validate an already-parsed YAML document."""
    try:
        raw = _PlaybookFile.model_validate(data)
    except ValidationError as exc:
        raise PlaybookError(_format_errors(source, exc.errors())) from None
    problems: list[str] = []
    steps: list[PlaybookStep] = []
    for index, entry in enumerate(raw.checks):
        where = f"checks[{index}]"
        spec = CHECKS.get(entry.check)
        if spec is None:
            close = difflib.get_close_matches(entry.check, CHECKS, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else f" (known: {', '.join(CHECKS)})"
            problems.append(f"{source}: {where}.check: unknown check {entry.check!r}{hint}")
            continue
        try:
            params = spec.params.model_validate(entry.params)
        except ValidationError as exc:
            problems.append(_format_errors(source, exc.errors(), prefix=f"{where}.params"))
            continue
        steps.append(PlaybookStep(entry.check, params, entry.timeout_seconds or raw.check_timeout_seconds))
    if problems:
        raise PlaybookError("; ".join(problems))
    return Playbook(
        name=raw.name,
        description=raw.description,
        triggers=tuple(raw.triggers),
        timeout_seconds=raw.timeout_seconds,
        steps=tuple(steps),
        source=source,
    )


def _format_errors(source: str, errors: list[Any], prefix: str = "") -> str:
    parts = []
    for err in errors:
        loc = _loc(err["loc"])
        field = f"{prefix}.{loc}" if prefix and loc else (prefix or loc or "(top level)")
        parts.append(f"{source}: {field}: {err['msg']}")
    return "; ".join(parts)


def load_playbook(path: Path) -> Playbook:
    data = load_yaml(path, error=PlaybookError)
    return parse_playbook(data, source=str(path))


def load_playbooks(directory: Path) -> dict[str, Playbook]:
    """Every `*.yaml`/`*.yml` in the directory; all errors are reported together."""
    if not directory.is_dir():
        raise PlaybookError(f"{directory}: not a directory")
    playbooks: dict[str, Playbook] = {}
    problems: list[str] = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            playbook = load_playbook(path)
        except PlaybookError as exc:
            problems.append(str(exc))
            continue
        if playbook.name in playbooks:
            problems.append(f"{path}: name: {playbook.name!r} is already defined in {playbooks[playbook.name].source}")
            continue
        playbooks[playbook.name] = playbook
    if problems:
        raise PlaybookError("; ".join(problems))
    if not playbooks:
        raise PlaybookError(f"{directory}: no playbooks (*.yaml) found")
    return playbooks


def select_playbook(playbooks: dict[str, Playbook], *, name: str | None = None, trigger: str | None = None) -> Playbook:
    """By name, else the first (by name) whose triggers include `trigger`, else the default `diagnose`."""
    if name is not None:
        if name not in playbooks:
            close = difflib.get_close_matches(name, playbooks, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(playbooks))}"
            raise PlaybookError(f"no playbook named {name!r}{hint}")
        return playbooks[name]
    if trigger is not None:
        for pname in sorted(playbooks):
            if trigger in playbooks[pname].triggers:
                return playbooks[pname]
    if DEFAULT_PLAYBOOK in playbooks:
        return playbooks[DEFAULT_PLAYBOOK]
    raise PlaybookError(f"no playbook for trigger {trigger or 'diagnose'!r} and no {DEFAULT_PLAYBOOK!r} playbook")
