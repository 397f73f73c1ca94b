"""Postmortem drafts: evidence in, a byte-stable Markdown draft out (no LLM, no clock).

    view = build_view(incident=..., timeline=[...], findings=[...], rollback_candidates=[...],
                      image=ImageSummary(...), dockerfile_fix=DockerfileFix(...))
    markdown = render_postmortem(view, templates_dir=settings.templates_dir)
    version_key = content_hash(markdown)
"""

from bot.postmortem.evidence import DockerfileFix, ImageSummary, LayerSummary, PathSize
from bot.postmortem.render import PostmortemRenderError, content_hash, make_environment, render_postmortem
from bot.postmortem.view import PostmortemView, build_view

__all__ = [
    "DockerfileFix",
    "ImageSummary",
    "LayerSummary",
    "PathSize",
    "PostmortemRenderError",
    "PostmortemView",
    "build_view",
    "content_hash",
    "make_environment",
    "render_postmortem",
]
