"""Logging: one handler on the root logger, installed by the CLI entry point (`bot.cli.main`) and nowhere else.

Modules only do `log = logging.getLogger(__name__)` and pass data through `extra=`. Two formats:
`text` for a terminal, `json` (one object per line) for a log pipeline. Both carry every `extra=` field
and the fields of the enclosing `log_context(...)`, so each line of a job names its job and incident
without every call site repeating them.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:  # annotations only: `bot.cli` imports this module, and `coroner lint` must start fast
    from bot.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

_FIELDS: ContextVar[Mapping[str, object]] = ContextVar("coroner_log_fields", default=MappingProxyType({}))

# What a bare LogRecord carries; anything else on a record came from `extra=` or from the context.
# `color_message` is uvicorn's: the message again, with terminal colour codes for its own formatter.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime", "color_message"
}

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add `fields` (job_id=..., incident_id=...) to every record emitted inside, from any module.

    Nested contexts add to the outer one. Threads start with an empty context: code that hands work to
    a thread wraps the function with `carry_log_context`."""
    token = _FIELDS.set({**_FIELDS.get(), **fields})
    try:
        yield
    finally:
        _FIELDS.reset(token)


def carry_log_context(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn`, run with the log fields of the caller (for `Thread(target=...)` and `pool.map`)."""
    fields = _FIELDS.get()

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        # The fields, not the Context object: one Context cannot be entered by two threads at once.
        token = _FIELDS.set(fields)
        try:
            return fn(*args, **kwargs)
        finally:
            _FIELDS.reset(token)

    return run


class ContextFilter(logging.Filter):
    """Copies the `log_context` fields onto each record; a field given with `extra=` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _FIELDS.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The `extra=` and context fields of a record, in the order they were set."""
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRIBUTES and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then every extra and context field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra may be a datetime, a Path or a SecretStr (which prints as stars).
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic line, followed by the extra and context fields as key=value."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # logging's name
        line = super().formatMessage(record)
        fields = " ".join(f"{key}={value}" for key, value in record_fields(record).items())
        return f"{line} [{fields}]" if fields else line


class _StderrHandler(logging.StreamHandler[Any]):
    """Writes to whatever `sys.stderr` is when a record is emitted, not when the handler was made: click's
    test runner and pytest swap it, and a handler holding a closed stream fails on every later record."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> Any:
        return sys.stderr


def level_for(settings_level: str, verbose: int) -> int:
    """CORONER_LOG_LEVEL, made more verbose by -v (INFO) and -vv (DEBUG), never less."""
    level = logging.getLevelNamesMapping()[settings_level]
    if verbose >= 2:
        return logging.DEBUG
    if verbose == 1:
        return min(level, logging.INFO)
    return level


def configure_logging(settings: Settings | None, *, verbose: int = 0) -> None:
    """Install Coroner's handler on the root logger (replacing the one a previous call installed).

    `settings` None: the command reads no settings (`coroner lint`), so the level comes from -v alone."""
    level = level_for(settings.log_level if settings else "WARNING", verbose)
    handler = _StderrHandler()
    handler.set_name("coroner")
    handler.setFormatter(JsonFormatter() if settings and settings.log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "coroner"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # urllib3 logs every connection retry as a WARNING: an unreachable API server would print a screen
    # of them before Coroner's own one-line error. They are shown at DEBUG only.
    logging.getLogger("urllib3").setLevel(logging.DEBUG if level <= logging.DEBUG else logging.ERROR)
