"""Image config JSON (the OCI/Docker `config` object) to our model types; shared by both readers.

A registry's config blob is untrusted JSON: a field of the wrong type is a `MalformedDocument` that
names the field, never an AttributeError deep in a rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.images.model import HistoryEntry, ImageConfig
from bot.images.timeparse import parse_time


class MalformedDocument(ValueError):
    """A manifest, index or config whose shape is not the spec's; the message names the field."""


def expect(value: object, kind: type | tuple[type, ...], field: str) -> Any:
    """`value` if it is of `kind` (null counts as missing and gives None), else `MalformedDocument`."""
    if value is None:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # JSON's true and false are Python bools, which are also ints: a boolean is never a number here.
    if isinstance(value, kinds) and isinstance(value, bool) == (bool in kinds):
        return value
    wanted = " or ".join(_JSON_NAMES.get(k, k.__name__) for k in kinds)
    raise MalformedDocument(f"{field} is {_JSON_NAMES.get(type(value), type(value).__name__)}, not {wanted}")


_JSON_NAMES: dict[type, str] = {dict: "an object", list: "an array", str: "a string", int: "a number",
                                float: "a number", bool: "a boolean"}


def _strings(value: object, field: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    items = expect(value, list, field)
    return tuple(expect(item, str, f"{field}[{i}]") or "" for i, item in enumerate(items))


def image_config(config: object) -> ImageConfig:
    """`config` is the inner `config` (Docker's `Config`) object: User, Env, Healthcheck, ..."""
    fields: Mapping[str, Any] = expect(config, dict, "config") or {}
    healthcheck = expect(fields.get("Healthcheck"), dict, "config.Healthcheck") or {}
    test = _strings(healthcheck.get("Test"), "config.Healthcheck.Test")
    labels = expect(fields.get("Labels"), dict, "config.Labels") or {}
    ports = expect(fields.get("ExposedPorts"), dict, "config.ExposedPorts") or {}
    return ImageConfig(
        user=expect(fields.get("User"), str, "config.User") or None,
        entrypoint=_strings(fields.get("Entrypoint"), "config.Entrypoint"),
        cmd=_strings(fields.get("Cmd"), "config.Cmd"),
        env=_strings(expect(fields.get("Env"), list, "config.Env"), "config.Env") or (),
        working_dir=expect(fields.get("WorkingDir"), str, "config.WorkingDir") or None,
        labels={str(k): str(v) for k, v in labels.items()},
        healthcheck=test or None,
        exposed_ports=tuple(sorted(str(port) for port in ports)),
    )


def history_entries(history: object) -> tuple[HistoryEntry, ...]:
    entries = []
    for i, item in enumerate(expect(history, list, "history") or ()):
        where = f"history[{i}]"
        fields: Mapping[str, Any] = expect(item, dict, where) or {}
        entries.append(
            HistoryEntry(
                created_by=expect(fields.get("created_by"), str, f"{where}.created_by") or "",
                created=parse_time(fields.get("created")),
                empty_layer=bool(expect(fields.get("empty_layer"), bool, f"{where}.empty_layer")),
                comment=expect(fields.get("comment"), str, f"{where}.comment") or None,
            )
        )
    return tuple(entries)
