"""Render the postmortem view with jinja2, and hash the result for versioning.

Escaping is the renderer's job, not the template author's: `finalize` escapes every plain string that a
`{{ }}` prints, passes `Md` through, writes datetimes in the timeline's style, and refuses `None`. It
redacts credentials first (`bot.redact`), in plain strings and in `Md` alike, so no template can print one.
Together with `StrictUndefined`, a typo or a missing optional check in an overriding template fails
loudly instead of shipping a draft with a hole in it.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
)

from bot.ports import CoronerError
from bot.postmortem.markdown import Md, code, fenced, inline, table_cell, table_code
from bot.postmortem.view import PostmortemView
from bot.redact import redact
from bot.render.values import stamp
from bot.store.repositories import (
    content_hash as content_hash,  # the store's version key, re-exported for the CLI
)
from bot.units import human_bytes

TEMPLATE = "postmortem.md.j2"


class PostmortemRenderError(CoronerError):
    """A template could not be rendered; the message names the template and the line when known."""


def _finalize(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises here, naming what is missing
    if isinstance(value, Md):
        return Md(redact(value))
    if isinstance(value, str):
        return inline(redact(value))  # before escaping: `DB\_PASSWORD` would hide the name from the patterns
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return stamp(value)
    if value is None:
        raise PostmortemRenderError("the template printed None: guard optional values with {% if %}")
    raise PostmortemRenderError(f"the template printed a {type(value).__name__}: print its fields instead")


@functools.lru_cache(maxsize=8)
def make_environment(templates_dir: Path | None = None) -> Environment:
    """Templates in `templates_dir` (Settings.templates_dir) win over the packaged ones, name by name.

    Cached per directory: compiling the template costs more than rendering it. jinja2 still notices an
    edited template (`auto_reload` compares modification times), so previews stay live.
    """
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir is not None:
        loaders.append(FileSystemLoader(str(templates_dir)))
    loaders.append(PackageLoader("bot.postmortem", "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=False,  # Markdown, not HTML: `finalize` does the escaping
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["code"] = code
    env.filters["bytes"] = lambda n: Md(human_bytes(n))
    env.filters["refs"] = lambda refs: Md(", ".join(inline(r) for r in refs))
    env.filters["md"] = inline
    env.filters["fence"] = fenced
    env.filters["table_code"] = table_code
    env.filters["cell"] = table_cell
    return env


_BLANK_RUNS = re.compile(r"\n{3,}")


def render_postmortem(view: PostmortemView, *, templates_dir: Path | None = None, template: str = TEMPLATE) -> str:
    """The draft as Markdown. Blank-line runs are collapsed and the text ends with one newline, so
    small template whitespace changes do not change the hash."""
    env = make_environment(templates_dir)
    try:
        text = env.get_template(template).render(pm=view)
    except jinja2.TemplateSyntaxError as exc:
        raise PostmortemRenderError(f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        raise PostmortemRenderError(f"template not found: {exc.name}") from exc
    except jinja2.UndefinedError as exc:
        raise PostmortemRenderError(f"{template}{_template_line(exc)}: {exc.message}") from exc
    return _BLANK_RUNS.sub("\n\n", text).strip("\n") + "\n"


def _template_line(exc: BaseException) -> str:
    """The template line of a runtime error: jinja2 maps it onto the traceback's template frames."""
    tb = exc.__traceback__
    line = ""
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            line = f":{tb.tb_lineno}"
        tb = tb.tb_next
    return line
