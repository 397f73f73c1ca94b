"""Whether containers that exit at once are built for another CPU architecture than their nodes.

The kernel refuses to run a binary of another architecture with "exec format error"; the runtime reports
the container as exited (Error, status 1 or 255), which says nothing of why. Two readings tell it: the
image's own platform (its config's `os`/`architecture`, through the image reader) against the nodes'
(`status.nodeInfo`), and, when the image cannot be read, those words in what the container or the
kubelet left (the termination message, which `FallbackToLogsOnError` fills with the log's tail, and the
pod's Warning events).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.checks import facts
from bot.checks.context import CheckContext
from bot.cluster.snapshots import ContainerSnapshot, EventSnapshot, NodeSnapshot, PodSnapshot
from bot.images.model import ImageManifest
from bot.ports import ClusterReadError

EXEC_FORMAT = "exec format error"
MAX_IMAGES = 3  # distinct images read: a crash loop runs one image, sometimes a sidecar's too


@dataclass(frozen=True)
class Platforms:
    """What is known of the looping containers' platform against their nodes'."""

    node_platforms: tuple[str, ...]  # "linux/amd64" of the nodes the looping pods run on
    exec_format_error: bool  # the words were seen (termination message, waiting message, events)
    image: str | None = None  # the image found built for another platform
    image_platform: str | None = None  # its "os/arch"
    unread: str | None = None  # why the images could not be read, when none could

    def evidence(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.image_platform:
            out |= {"image_platform": self.image_platform, "platform_image": self.image}
        if self.exec_format_error:
            out["exec_format_error"] = True
        if out:
            out["node_platforms"] = list(self.node_platforms)
            if self.unread and not self.image_platform:
                out["image_unread"] = self.unread
        return out

    @property
    def nodes_text(self) -> str:
        return ", ".join(self.node_platforms) or "unknown"


def said(texts: Iterable[str | None]) -> bool:
    return any(EXEC_FORMAT in (t or "").lower() for t in texts)


def image_platform(manifest: ImageManifest) -> str | None:
    if not manifest.architecture:
        return None
    return f"{manifest.os or 'linux'}/{manifest.architecture}"


def foreign(manifest: ImageManifest, node_platforms: Iterable[str]) -> str | None:
    """The image's "os/arch" when no node listed can run it: its own platform is none of theirs, and it is
    not an index that also offers one of theirs (a node pulls its own platform's image from an index)."""
    mine = image_platform(manifest)
    nodes = set(node_platforms)
    if mine is None or not nodes or mine in nodes or nodes & set(manifest.platforms):
        return None
    return mine


def of_crash_loop(ctx: CheckContext, looping: list[tuple[PodSnapshot, ContainerSnapshot]],
                  events: list[EventSnapshot]) -> Platforms:
    pods = {p.name for p, _ in looping}
    node_platforms = nodes_platforms(ctx, {p.node_name for p, _ in looping if p.node_name})
    words = said([c.last_terminated.message for _, c in looping if c.last_terminated is not None]
                 + [c.state_message for _, c in looping]
                 + [e.message for e in events if e.involved_kind == "Pod" and e.involved_name in pods])
    errors = []
    for image in sorted({c.image for _, c in looping})[:MAX_IMAGES]:
        read = facts.image_manifest(ctx, image)
        if read.manifest is None:
            errors.append(read.error or "unread")
            continue
        if (platform := foreign(read.manifest, node_platforms)) is not None:
            return Platforms(node_platforms, words, image, platform)
    return Platforms(node_platforms, words, unread="; ".join(errors) or None)


def nodes_platforms(ctx: CheckContext, names: set[str]) -> tuple[str, ...]:
    """The platforms of the named nodes, else of every node (pods not placed yet run where any may)."""
    try:
        nodes: dict[str, NodeSnapshot] = facts.nodes_by_name(ctx)
    except ClusterReadError:
        return ()  # nodes unreadable (the nodes check reports it): no platform to compare with
    chosen = [nodes[n] for n in names if n in nodes] or list(nodes.values())
    return tuple(sorted({n.platform for n in chosen if n.platform}))
