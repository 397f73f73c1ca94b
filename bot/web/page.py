"""The postmortem as a web page: one self-contained HTML document, readable offline, with no script.

The draft is untrusted text (a PagerDuty title, a container's log line, a reviewer's comment), so:
markdown-it-py renders it with raw HTML off, jinja2 autoescapes every value the template prints, and the
only Markup that enters the template is what the Markdown renderer made. The stylesheet is inline and
pinned by its hash in `CONTENT_SECURITY_POLICY`, which allows nothing else: no script, no image, no font,
no request of any kind.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup, escape

from bot.render.order import utc
from bot.render.values import stamp

TEMPLATE = "postmortem.html.j2"
STYLESHEET = "postmortem.css"
PAGE_IDS = ("pm-title", "pm-state", "pm-draft", "pm-history", "pm-contents")  # the template's own ids
_ALIGN = re.compile(r"text-align:(left|center|right)")
_TASK = re.compile(r"\[([ xX])\] ")
_HUNK = re.compile(r"@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


@dataclass(frozen=True)
class ReviewEvent:
    """One step of the review: `action` is the state it moved to (`in_review`, `approved`, `draft`) or
    `changes_requested`; `comment` is what the reviewer wrote, if anything."""

    at: datetime
    actor: str
    action: str
    version: int
    comment: str | None = None


@dataclass(frozen=True)
class PostmortemPage:
    """What the web view shows of an incident's latest postmortem version.

    `status` is the version's review state (`draft`, `in_review`, `approved`, `changes_requested`);
    `generated_at` is when Coroner drafted this version.
    """

    incident_id: str
    title: str
    service: str | None
    version: int
    status: str
    markdown: str
    history: tuple[ReviewEvent, ...]
    generated_at: datetime


@dataclass(frozen=True)
class Label:
    text: str
    css: str  # a class suffix made here, never from input


# The review vocabulary, in people's words. An unknown state still shows, under a neutral colour.
STATES: dict[str, Label] = {
    "draft": Label("Draft", "draft"),
    "in_review": Label("In review", "in-review"),
    "approved": Label("Approved", "approved"),
    "changes_requested": Label("Changes requested", "changes-requested"),
}
ACTIONS: dict[str, Label] = {
    "draft": Label("Sent back to draft", "draft"),
    "in_review": Label("Submitted for review", "in-review"),
    "approved": Label("Approved", "approved"),
    "changes_requested": Label("Requested changes", "changes-requested"),
}


def _label(table: dict[str, Label], key: str) -> Label:
    return table.get(key) or Label(key.replace("_", " ").capitalize() or "Unknown", "other")


@functools.lru_cache(maxsize=1)
def _stylesheet() -> str:
    return (resources.files("bot.web") / "templates" / STYLESHEET).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def content_security_policy() -> str:
    """Only the page's own stylesheet may apply; everything else (scripts included) is refused."""
    digest = base64.b64encode(hashlib.sha256(_stylesheet().encode("utf-8")).digest()).decode("ascii")
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


# ---- Markdown -------------------------------------------------------------------------------------------

def _diff_classes(lines: Sequence[str]) -> Iterator[str]:
    """What each line of a unified diff does. Inside a hunk its header's line counts decide, so a removed
    `-- comment` line (`--- comment`) is a removal, not a file header; outside one, the leading character."""
    old = new = 0  # lines the current hunk still holds on each side
    for line in lines:
        if old > 0 or new > 0:
            if line.startswith("-"):
                old -= 1
                yield "del"
            elif line.startswith("+"):
                new -= 1
                yield "add"
            elif line.startswith("\\"):
                yield "note"  # "\ No newline at end of file"
            else:
                old, new = old - 1, new - 1
                yield "ctx"
        elif hunk := _HUNK.match(line):
            old, new = int(hunk.group(1) or 1), int(hunk.group(2) or 1)
            yield "hunk"
        elif line.startswith(("--- ", "+++ ")):
            yield "file"
        elif line.startswith(("+", "-")):
            yield "add" if line.startswith("+") else "del"  # a hand-written diff without hunk headers
        elif line.startswith("\\"):
            yield "note"
        else:
            yield "ctx"  # context, or git's "diff --git" and "index" lines


def highlight_diff(text: str) -> Markup:
    """A unified diff as HTML, one escaped line per span, classed by what the line does."""
    lines = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
    spans = "".join(
        f'<span class="line {css}">{escape(line)}</span>' for line, css in zip(lines, _diff_classes(lines), strict=True)
    )
    return Markup(f'<pre class="diff"><code>{spans}</code></pre>\n')


def _fence(renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    language = token.info.split(maxsplit=1)[0] if token.info.strip() else ""
    if language in ("diff", "patch"):
        return str(highlight_diff(token.content))
    return str(renderer.fence(tokens, idx, options, env))


@functools.lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # "commonmark" with html off: a `<script>` in the draft is text. Tables and strikethrough are GFM,
    # which the draft's template writes. Links keep markdown-it's own check (no javascript: URLs).
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("fence", _fence)
    return md


@dataclass(frozen=True)
class Section:
    anchor: str  # the heading's id, for the page's contents
    text: str


@dataclass(frozen=True)
class RenderedDraft:
    html: Markup
    sections: tuple[Section, ...]  # the second-level headings, in order


def _slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    taken.add(slug)
    return slug


def _plain(inline: Token) -> str:
    return "".join(child.content for child in inline.children or () if child.type in ("text", "code_inline"))


def _mark_task(tokens: Sequence[Token], item: int) -> None:
    """`- [ ] text` (the draft's action items) becomes a list item classed `task` or `task done`, with the
    brackets dropped: the stylesheet draws the box, so no form control enters the page."""
    if item + 2 >= len(tokens) or tokens[item + 1].type != "paragraph_open":
        return
    children = tokens[item + 2].children or []
    if not children or children[0].type != "text":
        return
    box = _TASK.match(children[0].content)
    if box is None:
        return
    children[0].content = children[0].content[box.end():]
    tokens[item].attrSet("class", "task done" if box.group(1) in "xX" else "task")


def render_markdown(text: str, *, drop_title: bool = False) -> RenderedDraft:
    """The draft's body as HTML, its `##` headings given ids so that the contents can link to them.
    With `drop_title`, a leading `# heading` is left out (the page header shows the title)."""
    md = _markdown()
    env: dict[str, Any] = {}
    tokens = md.parse(text, env)
    if drop_title and len(tokens) >= 3 and tokens[0].type == "heading_open" and tokens[0].tag == "h1":
        tokens = tokens[3:]
    taken: set[str] = set(PAGE_IDS)
    sections = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h2":
            title = _plain(tokens[i + 1])
            token.attrSet("id", _slug(title, taken))
            sections.append(Section(str(token.attrGet("id")), title))
        elif token.type == "list_item_open":
            _mark_task(tokens, i)
        elif token.type in ("th_open", "td_open") and (align := _ALIGN.fullmatch(str(token.attrGet("style") or ""))):
            # markdown-it aligns cells with a style attribute, which the CSP refuses: use a class.
            token.attrs.pop("style")
            token.attrSet("class", f"align-{align.group(1)}")
    return RenderedDraft(Markup(md.renderer.render(tokens, md.options, env)), tuple(sections))


# ---- The page -------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("bot.web", "templates"),
        undefined=StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_page(page: PostmortemPage) -> str:
    """The complete HTML document for `page`."""
    history = sorted(page.history, key=lambda e: (utc(e.at), e.version))
    return _environment().get_template(TEMPLATE).render(
        page=page,
        state=_label(STATES, page.status),
        history=[(event, _label(ACTIONS, event.action)) for event in history],
        draft=render_markdown(page.markdown, drop_title=True),
        stylesheet=Markup(_stylesheet()),
        stamp=stamp,
    )
