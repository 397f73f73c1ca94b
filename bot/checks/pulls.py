"""Lenient parsing of kubelet image-pull event messages (REFERENCE §3.7).

The `Pulled` message grew over the years: a duration since 2020, "including waiting" since 1.25, the
image size around 1.30. Every part is optional here; what is absent is None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.images.reference import parse_reference

_PULLED = re.compile(
    r'Successfully pulled image "(?P<image>[^"]+)"'
    r'(?:\s+in\s+(?P<pull>[0-9.]+[a-zµ]+(?:[0-9.]+[a-zµ]+)*))?'
    r'(?:\s*\((?P<total>[0-9.]+[a-zµ]+(?:[0-9.]+[a-zµ]+)*)\s+including waiting\))?'
    r'(?:.*?Image size:\s*(?P<size>\d+)\s*bytes)?',
    re.IGNORECASE | re.DOTALL,
)
_ALREADY = re.compile(r'Container image "(?P<image>[^"]+)" already present on machine', re.IGNORECASE)
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(h|ms|us|µs|ns|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


# A pull slower than this, pull included or waiting for the node's pull slot, is slow: every new pod waits
# that long (the workload check's `slow_pull_seconds` default, and what tells the HPA check a pull is strained).
SLOW_PULL_SECONDS = 60.0


@dataclass(frozen=True)
class PullRecord:
    image: str
    seconds: float | None  # the pull itself
    total_seconds: float | None  # including waiting for the pull slot
    size_bytes: int | None
    cached: bool = False


def go_duration(text: str | None) -> float | None:
    """`1m32.5s` -> 92.5; None when nothing parses."""
    if not text:
        return None
    parts = _DURATION_PART.findall(text)
    if not parts:
        return None
    return sum(float(value) * _UNIT[unit] for value, unit in parts)


def parse_pulled(message: str) -> PullRecord | None:
    already = _ALREADY.search(message)
    if already:
        return PullRecord(already["image"], None, None, None, cached=True)
    match = _PULLED.search(message)
    if not match:
        return None
    size = match["size"]
    return PullRecord(
        image=match["image"],
        seconds=go_duration(match["pull"]),
        total_seconds=go_duration(match["total"]),
        size_bytes=int(size) if size else None,
    )


_REGISTRY_ERRORS = (
    ("503", re.compile(r"503 Service Unavailable|status code 503|\b503\b", re.I)),
    ("502", re.compile(r"502 Bad Gateway|\b502\b", re.I)),
    ("500", re.compile(r"500 Internal Server Error|\b500\b", re.I)),
    ("504", re.compile(r"504 Gateway Time-?out|\b504\b", re.I)),
    ("rate-limited", re.compile(r"toomanyrequests|429 Too Many Requests|rate limit", re.I)),
    ("connection refused", re.compile(r"connection refused", re.I)),
    ("connection reset", re.compile(r"connection reset", re.I)),
    ("timeout", re.compile(r"i/o timeout|TLS handshake timeout|context deadline exceeded|Client\.Timeout|request canceled", re.I)),
    ("unexpected EOF", re.compile(r"unexpected EOF", re.I)),
    ("DNS", re.compile(r"no such host|server misbehaving", re.I)),
)
_URL_HOST = re.compile(r"https?://([^/\"\s]+)/v2/")
_IMAGE_IN_QUOTES = re.compile(r'image "([^"]+)"')


# The registry refused the credentials (or had none): a registry-side or credential failure, which hits
# every workload pulling from it with the same secret, not a fault of the image the revision names.
_AUTH_ERRORS = (
    ("401 Unauthorized", re.compile(r"\b401\b|unauthorized|authentication required|no basic auth credentials", re.I)),
    ("403 Forbidden", re.compile(r"\b403\b|forbidden|denied: requested access to the resource is denied", re.I)),
)
# Docker Hub answers a repository that does not exist as if it were private ("pull access denied,
# repository does not exist or may require authorization"): most often a typo in the image, so not the
# registry's doing.
_NOT_THERE = re.compile(r"does not exist|not found|manifest unknown|name unknown", re.I)


def registry_auth_kind(message: str) -> str | None:
    """"401 Unauthorized" or "403 Forbidden" when a pull error says the registry refused the credentials;
    None for anything else, and for a refusal that may be a repository that does not exist."""
    if _NOT_THERE.search(message):
        return None
    for kind, pattern in _AUTH_ERRORS:
        if pattern.search(message):
            return kind
    return None


# A tag that is an image index (a multi-arch manifest list) without the node's platform: the runtime finds
# the index and no entry it may run. containerd does not name the platform it wanted; Docker and CRI-O do.
_NO_PLATFORM = (
    re.compile(r"no matching manifest for (?P<platform>[\w./-]+) in the manifest list entries", re.I),  # Docker
    re.compile(r'no image found in (?:manifest list|image index) for architecture "?(?P<arch>[\w]+)"?, '
               r'variant "?(?P<variant>[\w]*)"?, OS "?(?P<os>[\w]+)"?', re.I),  # CRI-O (containers/image)
    re.compile(r"no match for platform in manifest", re.I),  # containerd
)


@dataclass(frozen=True)
class PlatformMissing:
    """A pull failed because the image offers no variant for the node's platform."""

    platform: str | None  # "linux/amd64" when the runtime names it (Docker, CRI-O); None for containerd


def platform_missing(message: str) -> PlatformMissing | None:
    for pattern in _NO_PLATFORM:
        match = pattern.search(message)
        if match is None:
            continue
        found = match.groupdict()
        if found.get("platform"):
            return PlatformMissing(found["platform"])
        if found.get("arch"):
            variant = f"/{found['variant']}" if found.get("variant") else ""
            return PlatformMissing(f"{found['os']}/{found['arch']}{variant}")
        return PlatformMissing(None)
    return None


def image_registry(image: str) -> str | None:
    """`registry.internal:5000/app:1.2` -> `registry.internal:5000`; `nginx` -> Docker Hub's host; None
    for what is not an image reference."""
    try:
        return parse_reference(image).registry
    except ValueError:
        return None


def image_repository(image: str) -> str | None:
    """`registry.internal:5000/team/app:1.2` -> `registry.internal:5000/team/app`: where the pull goes,
    without the tag or digest."""
    try:
        ref = parse_reference(image)
    except ValueError:
        return None
    return f"{ref.registry}/{ref.repository}"


def registry_error_kind(message: str) -> str | None:
    """What kind of registry-side failure a pull error message shows, if any."""
    for kind, pattern in _REGISTRY_ERRORS:
        if pattern.search(message):
            return kind
    return None


def registry_host(message: str) -> str | None:
    url = _URL_HOST.search(message)
    if url:
        return url.group(1)
    image = _IMAGE_IN_QUOTES.search(message)
    if image:
        first = image.group(1).split("/", 1)[0]
        if "/" in image.group(1) and ("." in first or ":" in first or first == "localhost"):
            return first
        return "docker.io"
    return None
