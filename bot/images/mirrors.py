"""Registry mirrors: pull-through caches that serve another registry's repositories at the same paths.

`CORONER_REGISTRY_MIRRORS=registry.internal:5000=http://127.0.0.1:5001,docker.io=https://hub-cache.example.net`
makes the registry reader read every image of `registry.internal:5000` from `http://127.0.0.1:5001/v2/...`.
Requests, and credentials, go to the mirror as to any registry: a credential is looked up under the
mirror's own host[:port], never sent because the mirrored registry has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.images.reference import DOCKER_HUB, ImageRef, is_registry_host

# The names Docker Hub goes by in references and configs; all of them are the one registry.
HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})


class MirrorError(ValueError):
    """A mirror setting that cannot be used; the message names the entry and what is wrong with it
    (`load_settings` puts the variable's name in front)."""


@dataclass(frozen=True)
class Mirror:
    url: str  # scheme://host[:port][/path], no trailing slash
    host: str  # host[:port] of the URL: where requests and credentials go

    def route(self, ref: ImageRef) -> ImageRef:
        return ImageRef(registry=self.host, repository=ref.repository, reference=ref.reference, endpoint=self.url,
                        mirror_of=ref.registry)


def _mirror(entry: str, url_text: str) -> Mirror:
    parts = urlsplit(url_text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise MirrorError(f"{entry!r}: the mirror must be an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise MirrorError(f"{entry!r}: no credentials in the URL (put them in CORONER_REGISTRY_AUTH "
                          "under the mirror's host)")
    if parts.query or parts.fragment:
        raise MirrorError(f"{entry!r}: the mirror URL takes no query or fragment")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        raise MirrorError(f"{entry!r}: the mirror URL has an invalid port") from None
    if not is_registry_host(parts.netloc):
        raise MirrorError(f"{entry!r}: {parts.netloc!r} is not a host[:port]")
    return Mirror(url=f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}", host=parts.netloc)


def parse_mirrors(text: str | None) -> dict[str, Mirror]:
    """`host[:port]=URL` entries, comma-separated; empty or unset is no mirrors. Raises `MirrorError`."""
    mirrors: dict[str, Mirror] = {}
    for raw in (text or "").split(","):
        entry = raw.strip()
        if not entry:
            continue
        registry, sep, url_text = entry.partition("=")
        registry, url_text = registry.strip(), url_text.strip()
        if not sep or not registry or not url_text:
            raise MirrorError(f"{entry!r} is not registry=URL (e.g. registry.internal:5000=http://127.0.0.1:5001)")
        if "://" in registry or not is_registry_host(registry):
            raise MirrorError(f"{entry!r}: {registry!r} is not a registry host[:port]")
        key = DOCKER_HUB if registry in HUB_NAMES else registry
        if key in mirrors:
            raise MirrorError(f"registry {registry} has two mirrors")
        mirrors[key] = _mirror(entry, url_text)
    return mirrors


def route(ref: ImageRef, mirrors: Mapping[str, Mirror]) -> ImageRef:
    """`ref` read through its registry's mirror, if it has one."""
    mirror = mirrors.get(ref.registry)
    return mirror.route(ref) if mirror is not None else ref
