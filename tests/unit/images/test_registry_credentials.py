"""Credentials are scoped per registry host. Each double is one host:port and records the Authorization
header of every request it receives, so these tests see exactly where a password went."""

import base64
import json
from collections.abc import Iterator

import pytest
from tests.doubles.images import RegistryDouble, basic_header, tar_bytes

from bot.images.registry_auth import Credential, RegistryAuth, load_registry_auth
from bot.images.registry_reader import RegistryImageReader
from bot.ports import ImageReadError
from bot.settings import SettingsError, load_settings

HISTORY = [{"created_by": "/bin/sh -c #(nop) ADD file:abc in / "}]
LAYERS = [tar_bytes([("bin/", None), ("bin/sh", b"x" * 100)])]
ALICE = ("alice", "pw-of-alice")


@pytest.fixture
def doubles() -> Iterator[list[RegistryDouble]]:
    made: list[RegistryDouble] = []
    yield made
    for double in made:
        double.close()


def make(doubles, **kwargs) -> RegistryDouble:
    double = RegistryDouble(**kwargs)
    doubles.append(double)
    double.add_image("app", "v1", LAYERS, HISTORY)
    return double


def host(double: RegistryDouble) -> str:
    return f"127.0.0.1:{double.port}"


def auth_for(double: RegistryDouble, **kwargs) -> RegistryAuth:
    return RegistryAuth({host(double): Credential(*ALICE)}, **kwargs)


def read_all(reader: RegistryImageReader, ref: str) -> list[str]:
    manifest = reader.manifest(ref)
    return [e.path for layer in manifest.layers for e in reader.layer_files(ref, layer)]


def authorizations(double: RegistryDouble) -> list[str]:
    return [value for _, value in double.seen if value is not None]


def test_credentials_go_to_their_registry_and_no_other(doubles):
    mine, other = make(doubles, basic=ALICE), make(doubles, basic=("bob", "pw-of-bob"))
    reader = RegistryImageReader(auth=auth_for(mine))
    assert "bin/sh" in read_all(reader, f"{host(mine)}/app:v1")
    assert set(authorizations(mine)) == {basic_header(*ALICE)}
    with pytest.raises(ImageReadError, match=f"registry {host(other)} refused access to app: it wants credentials"):
        reader.manifest(f"{host(other)}/app:v1")
    assert authorizations(other) == []


def test_after_a_basic_challenge_other_hosts_get_nothing_unasked(doubles):
    mine, open_registry = make(doubles, basic=ALICE), make(doubles)
    reader = RegistryImageReader(auth=auth_for(mine))
    read_all(reader, f"{host(mine)}/app:v1")
    assert "bin/sh" in read_all(reader, f"{host(open_registry)}/app:v1")
    assert authorizations(open_registry) == []


def test_a_token_realm_on_another_port_gets_no_credentials(doubles):
    tokens = make(doubles, token="t0ken")
    mine = make(doubles, token="t0ken")
    mine.realm = f"http://{host(tokens)}/token"
    reader = RegistryImageReader(auth=auth_for(mine))
    assert "bin/sh" in read_all(reader, f"{host(mine)}/app:v1")  # the anonymous token is enough here
    assert len(tokens.token_requests) == 1
    assert authorizations(tokens) == []
    assert set(authorizations(mine)) == {"Bearer t0ken"}


def test_the_registry_s_own_token_service_gets_the_credentials(doubles):
    mine = make(doubles, token="t0ken")
    reader = RegistryImageReader(auth=auth_for(mine))
    read_all(reader, f"{host(mine)}/app:v1")
    token_calls = [value for path, value in mine.seen if path.startswith("/token")]
    assert token_calls == [basic_header(*ALICE)]


def test_an_explicitly_allowed_realm_gets_the_credentials(doubles):
    tokens = make(doubles, token="t0ken")
    mine = make(doubles, token="t0ken")
    mine.realm = f"http://{host(tokens)}/token"
    reader = RegistryImageReader(auth=auth_for(mine, trusted_realms=(f"http://{host(tokens)}",)))
    read_all(reader, f"{host(mine)}/app:v1")
    assert authorizations(tokens) == [basic_header(*ALICE)]


@pytest.mark.parametrize("mode", ["basic", "bearer"])
def test_a_redirect_is_followed_without_credentials(doubles, mode):
    storage = make(doubles)
    mine = make(doubles, basic=ALICE) if mode == "basic" else make(doubles, token="t0ken")
    mine.redirect_blobs_to = f"http://{host(storage)}"
    for digest, blob in mine.blobs.items():
        storage.blobs[digest] = blob
    reader = RegistryImageReader(auth=auth_for(mine))
    assert "bin/sh" in read_all(reader, f"{host(mine)}/app:v1")
    assert storage.blob_requests, "the blobs were read from where the registry sent us"
    assert authorizations(storage) == []


# -- the policy for token realms --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("registry", "realm", "allowed"),
    [
        ("registry-1.docker.io", "https://auth.docker.io/token", True),
        ("registry.example.com", "https://registry.example.com:8443/token", True),
        ("registry.example.com", "https://auth.example.com/token", True),
        ("registry.example.com", "http://auth.example.com/token", False),  # plain HTTP
        ("registry.example.com", "https://auth.example.net/token", False),  # another domain
        ("registry.example.com", "https://example.com.evil.net/token", False),
        ("team-a.github.io", "https://team-b.github.io/token", False),  # github.io is a public suffix
        ("registry.example.co.uk", "https://evil.co.uk/token", False),
        ("10.0.0.5:5000", "https://10.0.0.5:5001/token", True),
        ("10.0.0.5:5000", "https://10.0.0.6/token", False),
        ("127.0.0.1:5000", "http://127.0.0.1:5000/token", True),  # the registry's own origin
        ("127.0.0.1:5000", "http://127.0.0.1:5001/token", False),
        ("registry.example.com", "ftp://registry.example.com/token", False),
    ],
)
def test_which_token_realms_may_receive_a_registry_s_credentials(registry, realm, allowed):
    auth = RegistryAuth({registry: Credential(*ALICE)})
    assert auth.realm_may_receive(registry, realm) is allowed


def test_an_allowed_realm_is_matched_by_origin():
    auth = RegistryAuth({"r.example.com": Credential(*ALICE)}, trusted_realms=("https://sso.corp.test",))
    assert auth.realm_may_receive("r.example.com", "https://sso.corp.test/oauth/token")
    assert not auth.realm_may_receive("r.example.com", "https://sso.corp.test:444/oauth/token")
    assert not auth.realm_may_receive("r.example.com", "http://sso.corp.test/oauth/token")


def test_credentials_are_looked_up_by_host_with_docker_hub_aliases():
    auth = RegistryAuth({"docker.io": Credential(*ALICE), "r.example.com:443": Credential("b", "c")})
    assert auth.for_registry("registry-1.docker.io") == Credential(*ALICE)
    assert auth.for_registry("r.example.com") == Credential("b", "c")
    assert auth.for_registry("r.example.com:5000") is None
    assert "pw-of-alice" not in repr(auth)


# -- configuration ----------------------------------------------------------------------------------


def test_registry_auth_maps_hosts_to_credentials():
    text = json.dumps({"r.example.com": {"username": "alice", "password": "pw-of-alice"}})
    assert load_registry_auth(text) == {"r.example.com": Credential(*ALICE)}


def test_registry_auth_reads_a_docker_config_json(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"alice:pw-of-alice").decode()},
        "r.example.com:5000": {"username": "bob", "password": "pw:with:colons"},
        "https://ghcr.io": {"auth": base64.b64encode(b"carol:pw-c").decode()},
    }, "credsStore": "desktop"}))
    auth = load_registry_auth(str(config))
    assert auth == {
        "index.docker.io": Credential(*ALICE),
        "r.example.com:5000": Credential("bob", "pw:with:colons"),
        "ghcr.io": Credential("carol", "pw-c"),
    }
    assert RegistryAuth(auth).for_registry("registry-1.docker.io") == Credential(*ALICE)


@pytest.mark.parametrize(
    "value",
    ['{"r.example.com": {"username": "alice"}}', '{"r.example.com": "alice:pw-of-alice"}', "[1, 2]",
     '{"auths": {"r.example.com": {"auth": "!!not-base64!!"}}}', '{"r.example.com": {"username": "a", "password": "pw-of-alice"',
     "/nonexistent/config.json"],
)
def test_a_bad_registry_auth_is_one_line_naming_the_variable_and_not_the_secret(monkeypatch, value):
    monkeypatch.setenv("CORONER_REGISTRY_AUTH", value)
    with pytest.raises(SettingsError, match="CORONER_REGISTRY_AUTH") as info:
        load_settings()
    assert "\n" not in str(info.value) and "pw-of-alice" not in str(info.value)


def test_the_legacy_username_needs_the_host_it_belongs_to(monkeypatch):
    monkeypatch.setenv("CORONER_REGISTRY_USERNAME", "alice")
    monkeypatch.setenv("CORONER_REGISTRY_PASSWORD", "pw-of-alice")
    with pytest.raises(SettingsError, match="CORONER_REGISTRY_HOST"):
        load_settings()


def test_settings_build_a_reader_whose_credentials_are_scoped(monkeypatch, doubles):
    from bot.readers import image_reader

    mine, other = make(doubles, basic=ALICE), make(doubles, basic=("bob", "pw-of-bob"))
    monkeypatch.setenv("CORONER_REGISTRY_USERNAME", "alice")
    monkeypatch.setenv("CORONER_REGISTRY_PASSWORD", "pw-of-alice")
    monkeypatch.setenv("CORONER_REGISTRY_HOST", host(mine))
    monkeypatch.setenv("CORONER_REGISTRY_AUTH", json.dumps({host(other): {"username": "bob", "password": "pw-of-bob"}}))
    reader = image_reader(load_settings(), source="registry")
    read_all(reader, f"{host(mine)}/app:v1")
    read_all(reader, f"{host(other)}/app:v1")
    assert set(authorizations(mine)) == {basic_header(*ALICE)}
    assert set(authorizations(other)) == {basic_header("bob", "pw-of-bob")}
