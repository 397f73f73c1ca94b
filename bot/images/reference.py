"""Image references (`registry:port/name:tag@digest`) split the way the distribution spec needs them.

A reference comes from a pod spec or a user, and a digest from a registry's own documents: both end up
in a URL path, so both are checked against the grammar of distribution's `reference` package first.
A digest is `sha256:<64 hex>` or `sha512:<128 hex>`, the two algorithms the OCI image spec registers;
anything else (`../../admin/delete?all=1`) is refused before any request is built.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

DOCKER_HUB = "registry-1.docker.io"
MAX_NAME_LENGTH = 255  # distribution's NameTotalLengthMax

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = re.compile(rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[0-9a-fA-F:.]+\])(?::[0-9]{{1,5}})?")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}")


def is_digest(value: object) -> bool:
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


def check_digest(value: object, what: str) -> str:
    """`value` if it is a digest, else `ValueError` naming `what` (the value is shown truncated)."""
    if not is_digest(value):
        shown = repr(value)[:80]
        raise ValueError(f"{what} {shown} is not a digest (sha256:<64 hex> or sha512:<128 hex>)")
    return value  # type: ignore[return-value]


def host_of(registry: str) -> str:
    """`registry.example.com:5000` -> `registry.example.com`; `[::1]:5000` -> `::1`."""
    if registry.startswith("["):
        return registry[1:].split("]", 1)[0]
    return registry.rsplit(":", 1)[0]


def is_loopback(registry: str) -> bool:
    host = host_of(registry)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url(registry: str) -> str:
    # Loopback registries speak plain HTTP (as dockerd itself allows); everything else is TLS.
    return f"{'http' if is_loopback(registry) else 'https'}://{registry}"


def is_registry_host(text: str) -> bool:
    """`host[:port]` as a reference's registry part may be written (`registry.internal:5000`, `[::1]:5000`)."""
    return _HOST.fullmatch(text) is not None


@dataclass(frozen=True)
class ImageRef:
    """`registry` is the host[:port] requests and credentials go to. Read through a mirror, that is the
    mirror's host, `endpoint` its base URL and `mirror_of` the registry the reference names."""

    registry: str
    repository: str
    reference: str  # a tag or a digest
    endpoint: str | None = None
    mirror_of: str | None = None

    @property
    def is_loopback(self) -> bool:
        return is_loopback(self.registry)

    @property
    def base_url(self) -> str:
        return self.endpoint or base_url(self.registry)

    @property
    def label(self) -> str:
        """How messages name the registry: `registry.internal:5000`, or `127.0.0.1:5001 (mirror of ...)`."""
        return f"{self.registry} (mirror of {self.mirror_of})" if self.mirror_of else self.registry


def parse_reference(ref: str) -> ImageRef:
    """Raises `ValueError("not an image reference: ...")` for anything outside distribution's grammar."""

    def refuse(why: str) -> ValueError:
        return ValueError(f"not an image reference: {ref!r} ({why})")

    if not ref or any(c.isspace() for c in ref):
        raise refuse("empty or contains spaces")
    name, at, digest = ref.partition("@")
    if at and not is_digest(digest):
        raise refuse("the part after @ is not a digest")
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        registry, path = first, rest
        if not _HOST.fullmatch(registry):
            raise refuse(f"{registry!r} is not a registry host")
    else:
        registry, path = DOCKER_HUB, name
    tag = ""
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
        if not _TAG.fullmatch(tag):
            raise refuse(f"{tag!r} is not a tag")
    if not _PATH.fullmatch(path):
        raise refuse("the repository must be lowercase words separated by / . _ or -")
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if len(path) > MAX_NAME_LENGTH:
        raise refuse(f"the repository is longer than {MAX_NAME_LENGTH} characters")
    return ImageRef(registry=registry, repository=path, reference=digest or tag or "latest")


def same_repository(a: str, b: str) -> bool:
    """Whether two references name the same repository (`r.io/app:v1`, `r.io/app@sha256:...`); a text
    that is not a reference shares none."""
    try:
        first, second = parse_reference(a), parse_reference(b)
    except ValueError:
        return False
    return (first.registry, first.repository) == (second.registry, second.repository)
