"""The one payload codec every command uses: a frozen dataclass <-> the job row's JSON payload."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Self, TypeVar

from bot.ports import CoronerError

T = TypeVar("T")


class JobPayloadError(CoronerError):
    """A job's payload does not match its command: a field was renamed, dropped or mistyped."""


def to_payload(command: Any) -> dict[str, Any]:
    return dataclasses.asdict(command)


def from_payload(command_type: type[T], payload: Mapping[str, Any]) -> T:
    """Strict decoding: exactly the dataclass's fields, each of its declared simple type."""
    fields = {f.name: f for f in dataclasses.fields(command_type)}  # type: ignore[arg-type]
    unknown = sorted(set(payload) - set(fields))
    missing = sorted(name for name, f in fields.items() if name not in payload and _required(f))
    if unknown or missing:
        problems = [f"unknown {', '.join(unknown)}" if unknown else "", f"missing {', '.join(missing)}" if missing else ""]
        raise JobPayloadError(f"{command_type.__name__} payload: {'; '.join(p for p in problems if p)}")
    for name, value in payload.items():
        expected = _runtime_type(fields[name])
        if expected is not None and value is not None and not isinstance(value, expected):
            raise JobPayloadError(f"{command_type.__name__} payload: {name} must be {expected.__name__}, "
                                  f"not {type(value).__name__}")
    return command_type(**payload)


def _required(field: dataclasses.Field[Any]) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _runtime_type(field: dataclasses.Field[Any]) -> type | None:
    # Annotations are strings under `from __future__ import annotations`; commands use only these.
    text = str(field.type).replace(" ", "")
    base = text.split("|")[0]
    return {"str": str, "int": int, "bool": bool}.get(base)


class JobCommand:
    """Base of the commands: each is a frozen dataclass, and this is its payload codec."""

    def to_payload(self) -> dict[str, Any]:
        return to_payload(self)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return from_payload(cls, payload)
