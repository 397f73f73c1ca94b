"""Image config JSON (the OCI/Docker `config` object) to our model types; shared by both readers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.images.model import HistoryEntry, ImageConfig
from bot.images.timeparse import parse_time


def _strings(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)  # type: ignore[union-attr]


def image_config(config: Mapping[str, Any] | None) -> ImageConfig:
    """`config` is the inner `config` (Docker's `Config`) object: User, Env, Healthcheck, ..."""
    config = config or {}
    healthcheck = config.get("Healthcheck") or {}
    test = healthcheck.get("Test") if isinstance(healthcheck, Mapping) else None
    return ImageConfig(
        user=config.get("User") or None,
        entrypoint=_strings(config.get("Entrypoint")),
        cmd=_strings(config.get("Cmd")),
        env=tuple(config.get("Env") or ()),
        working_dir=config.get("WorkingDir") or None,
        labels=dict(config.get("Labels") or {}),
        healthcheck=_strings(test) if test else None,
        exposed_ports=tuple(sorted((config.get("ExposedPorts") or {}).keys())),
    )


def history_entries(history: list[Mapping[str, Any]] | None) -> tuple[HistoryEntry, ...]:
    return tuple(
        HistoryEntry(
            created_by=str(item.get("created_by") or ""),
            created=parse_time(item.get("created")),
            empty_layer=bool(item.get("empty_layer", False)),
            comment=item.get("comment") or None,
        )
        for item in history or ()
    )
