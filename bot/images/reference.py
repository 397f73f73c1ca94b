"""Image references (`registry:port/name:tag@digest`) split the way the distribution spec needs them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

DOCKER_HUB = "registry-1.docker.io"


@dataclass(frozen=True)
class ImageRef:
    registry: str
    repository: str
    reference: str  # a tag or a digest

    @property
    def is_loopback(self) -> bool:
        host = self.registry.rsplit(":", 1)[0] if not self.registry.startswith("[") else self.registry[1:].split("]")[0]
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @property
    def base_url(self) -> str:
        # Loopback registries speak plain HTTP (as dockerd itself allows); everything else is TLS.
        return f"{'http' if self.is_loopback else 'https'}://{self.registry}"


def parse_reference(ref: str) -> ImageRef:
    if not ref or any(c.isspace() for c in ref):
        raise ValueError(f"not an image reference: {ref!r}")
    name, digest = (ref.split("@", 1) + [""])[:2] if "@" in ref else (ref, "")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, name
        if "/" not in path:
            path = f"library/{path}"
    tag = ""
    if ":" in path.rsplit("/", 1)[-1]:
        path, tag = path.rsplit(":", 1)
    if not path:
        raise ValueError(f"not an image reference: {ref!r}")
    return ImageRef(registry=registry, repository=path, reference=digest or tag or "latest")
