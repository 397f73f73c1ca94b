"""Registry credentials, scoped per host.

Any registry named in any pod spec is contacted, so a password is a thing to keep from hosts that did
not earn it. A credential belongs to one registry host (`host[:port]`) and is sent:

- to that host, only after it asked (a 401 with a Basic challenge, or to its own token service);
- to the token realm its Bearer challenge names, only when that realm is the registry's own origin, or
  HTTPS on the same registrable domain (`registry-1.docker.io` -> `https://auth.docker.io`, by the
  Public Suffix List), or an origin the operator allowed explicitly (`trusted_realms`);
- never along a redirect (the reader follows those without any Authorization header).

`load_registry_auth` reads `CORONER_REGISTRY_AUTH`: a JSON object `{"host": {"username": ..., "password":
...}}`, or a Docker `config.json` (`{"auths": {"host": {"auth": base64(user:password)}}}`), given inline
or as the path of such a file (a mounted `kubernetes.io/dockerconfigjson` Secret works as is).
"""

from __future__ import annotations

import binascii
import base64
import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from bot.images.reference import DOCKER_HUB, base_url, host_of

# The names Docker's own tools file Docker Hub credentials under.
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})


@dataclass(frozen=True)
class Credential:
    username: str
    password: str = field(repr=False)


def _host_key(key: str) -> str:
    """`https://Registry.example.com/v1/` -> `registry.example.com`: config.json keys may be URLs."""
    text = key.strip()
    if "://" in text:
        text = urlsplit(text).netloc
    return text.split("/", 1)[0].lower()


def _normalise_host(key: str) -> str:
    """A host key as the reader looks it up: no default port, Docker Hub's names folded into its API host."""
    text = _host_key(key)
    if text.endswith(":443"):
        text = text[:-4]
    return DOCKER_HUB if text in _HUB_ALIASES else text


def _origin(url: str) -> tuple[str, str, int] | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return parts.scheme, parts.hostname.lower(), port


@lru_cache(maxsize=1)
def _public_suffixes():  # type: ignore[no-untyped-def]
    from publicsuffixlist import PublicSuffixList  # the list ships inside the package: no download

    return PublicSuffixList()


def registrable_domain(host: str) -> str:
    """`auth.docker.io` -> `docker.io`; an IP address or a single-label name is its own domain."""
    host = host.lower().strip("[]")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    return _public_suffixes().privatesuffix(host) or host


class RegistryAuth:
    """Credentials by registry host, and the rule for which token realms may receive them."""

    def __init__(self, credentials: Mapping[str, Credential] | None = None, *, trusted_realms: Iterable[str] = ()) -> None:
        self._credentials = {_normalise_host(host): cred for host, cred in (credentials or {}).items()}
        self._trusted = {origin for origin in map(_origin, trusted_realms) if origin is not None}

    def __repr__(self) -> str:
        return f"RegistryAuth(hosts={sorted(self._credentials)})"

    def for_registry(self, registry: str) -> Credential | None:
        return self._credentials.get(_normalise_host(registry))

    def realm_may_receive(self, registry: str, realm: str) -> bool:
        """Whether `registry`'s credentials may go to the token service at `realm` (a URL)."""
        target = _origin(realm)
        own = _origin(base_url(registry))
        if target is None or own is None:
            return False
        if target == own or target in self._trusted:
            return True
        return target[0] == "https" and registrable_domain(target[1]) == registrable_domain(host_of(registry))


class RegistryAuthError(ValueError):
    """`CORONER_REGISTRY_AUTH` does not parse; the message never contains a secret."""


def _credential(host: str, entry: object) -> Credential:
    if not isinstance(entry, dict):
        raise RegistryAuthError(f"the entry for {host} is not an object with username and password")
    username, password = entry.get("username"), entry.get("password")
    if isinstance(username, str) and isinstance(password, str) and username:
        return Credential(username, password)
    encoded = entry.get("auth")
    if isinstance(encoded, str):
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise RegistryAuthError(f"the auth of {host} is not base64 of user:password") from None
        user, colon, secret = decoded.partition(":")
        if colon and user:
            return Credential(user, secret)
        raise RegistryAuthError(f"the auth of {host} is not base64 of user:password")
    raise RegistryAuthError(f"the entry for {host} needs username and password (or auth)")


def parse_registry_auth(text: str) -> dict[str, Credential]:
    """Host -> credential from either JSON form (see the module's docstring)."""
    try:
        document = json.loads(text)
    except ValueError:
        raise RegistryAuthError("is not valid JSON") from None  # the text holds passwords: never quoted
    if not isinstance(document, dict):
        raise RegistryAuthError("must be a JSON object of host -> {username, password}")
    entries = document.get("auths") if "auths" in document else document
    if not isinstance(entries, dict):
        raise RegistryAuthError("auths must be an object of host -> {auth}")
    # credsStore and credHelpers name programs to run: Coroner never runs them, so they are ignored.
    return {_host_key(host): _credential(host, entry) for host, entry in entries.items()}


def load_registry_auth(value: str) -> dict[str, Credential]:
    """`value` is inline JSON, or the path of a JSON file (a Docker config.json)."""
    if value.lstrip().startswith("{"):
        return parse_registry_auth(value)
    try:
        text = Path(value).read_text(encoding="utf-8")
    except OSError as exc:
        # Not quoted: a value that is neither JSON nor a path may be a mistyped secret.
        raise RegistryAuthError(f"is neither a JSON object nor a readable file ({exc.strerror})") from None
    return parse_registry_auth(text)
