"""CORONER_REGISTRY_MIRRORS: parsing, the one-line errors, and routing a reference to its mirror."""

import pytest

from bot.images.mirrors import MirrorError, parse_mirrors, route
from bot.images.reference import DOCKER_HUB, parse_reference
from bot.settings import SettingsError, load_settings


def test_entries_by_registry_host():
    mirrors = parse_mirrors(" registry.internal:5000=http://127.0.0.1:5001/ ,docker.io=https://hub.example.net/cache")
    assert set(mirrors) == {"registry.internal:5000", DOCKER_HUB}
    assert (mirrors["registry.internal:5000"].url, mirrors["registry.internal:5000"].host) == (
        "http://127.0.0.1:5001", "127.0.0.1:5001")
    assert mirrors[DOCKER_HUB].url == "https://hub.example.net/cache"
    assert parse_mirrors("") == {} and parse_mirrors(None) == {}


def test_a_reference_goes_to_its_registrys_mirror_only():
    mirrors = parse_mirrors("registry.internal:5000=http://127.0.0.1:5001,docker.io=https://hub.example.net/cache")
    routed = route(parse_reference("registry.internal:5000/team/api:1.2"), mirrors)
    assert (routed.registry, routed.repository, routed.reference) == ("127.0.0.1:5001", "team/api", "1.2")
    assert routed.base_url == "http://127.0.0.1:5001" and routed.mirror_of == "registry.internal:5000"
    assert routed.label == "127.0.0.1:5001 (mirror of registry.internal:5000)"
    hub = route(parse_reference("redis:7"), mirrors)
    assert hub.base_url == "https://hub.example.net/cache" and hub.repository == "library/redis"
    other = parse_reference("ghcr.io/acme/app:1")
    assert route(other, mirrors) is other and other.base_url == "https://ghcr.io"


@pytest.mark.parametrize(("value", "message"), [
    ("registry.internal:5000", "is not registry=URL"),
    ("=http://x", "is not registry=URL"),
    ("registry.internal:5000=", "is not registry=URL"),
    ("http://registry.internal=http://x", "is not a registry host"),
    ("bad host=http://x", "is not a registry host"),
    ("r.example=ftp://m.example", "http:// or https:// URL"),
    ("r.example=m.example:5000", "http:// or https:// URL"),
    ("r.example=http://user:pw@m.example", "no credentials in the URL"),
    ("r.example=http://m.example/?x=1", "no query or fragment"),
    ("r.example=http://m.example:99999", "invalid port"),
    ("r.example=http://m.example,r.example=http://n.example", "has two mirrors"),
    ("docker.io=http://m.example,index.docker.io=http://n.example", "has two mirrors"),
])
def test_bad_values_are_refused_naming_the_entry(value, message):
    with pytest.raises(MirrorError, match=message):
        parse_mirrors(value)


def test_settings_refuse_a_bad_value_in_one_line(monkeypatch):
    monkeypatch.setenv("CORONER_REGISTRY_MIRRORS", "registry.internal:5000=ftp://127.0.0.1:5001")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value).startswith("CORONER_REGISTRY_MIRRORS: ")
    assert "\n" not in str(err.value) and "http:// or https://" in str(err.value)
    monkeypatch.setenv("CORONER_REGISTRY_MIRRORS", "registry.internal:5000=http://127.0.0.1:5001")
    assert load_settings().registry_mirror_map()["registry.internal:5000"].host == "127.0.0.1:5001"
