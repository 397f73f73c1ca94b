"""The production `Clock` (see `bot.ports.Clock`): tests pass their own fixed or stepping clocks instead."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """Aware UTC wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)
