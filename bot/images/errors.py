"""Errors of the images feature that callers may want to tell apart from a plain `ImageReadError`."""

from __future__ import annotations

from bot.ports import ImageReadError


class ByteBudgetExceeded(ImageReadError):
    """Reading this layer would exceed the reader's download budget; the walk skips its contents."""
