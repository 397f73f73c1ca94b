"""The sim's registry through the production `RegistryImageReader`, reached as a mirror of the registry
the scenario's pods name (CORONER_REGISTRY_MIRRORS), over HTTP."""

import base64
import hashlib
import threading
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from bot.images.mirrors import parse_mirrors
from bot.images.registry_auth import Credential, RegistryAuth
from bot.images.registry_reader import RegistryImageReader
from bot.ports import ImageReadError
from bot.settings import load_settings
from bot.sim.scenario import load_scenario
from bot.sim.server import running_sim
from bot.wiring import image_reader
from tests.doubles.loopback import serving_http

REF = "registry.internal:5000/checkout-api:2024.06.03-1"
PREVIOUS = "registry.internal:5000/checkout-api:2024.05.28-2"


@pytest.fixture(scope="module")
def sim():
    with running_sim("crashloop-bad-config") as server:
        yield server


@pytest.fixture
def reader(sim, monkeypatch):
    """The reader `coroner diagnose` builds, from the line the sim prints."""
    name, _, value = sim.mirror_setting().partition("=")
    monkeypatch.setenv(name, value)
    return image_reader(load_settings())


def test_the_printed_setting_names_every_registry_of_the_scenario(sim):
    assert sim.mirror_setting() == f"CORONER_REGISTRY_MIRRORS=registry.internal:5000={sim.url}"


def test_manifest_and_layers_through_the_mirror_match_the_scenario(sim, reader):
    evidence = load_scenario("crashloop-bad-config").image(REF)
    manifest = reader.manifest(REF)
    assert manifest.ref == REF
    assert manifest.config == evidence.manifest.config
    assert [h.created_by for h in manifest.history] == [h.created_by for h in evidence.manifest.history]
    assert len(manifest.layers) == len(evidence.manifest.layers)
    # plain tars (the default): the blob is the tar, so its digest is its diff id
    assert all(not layer.compressed and layer.diff_id == layer.digest for layer in manifest.layers)
    for served, recorded in zip(manifest.layers, evidence.manifest.layers, strict=True):
        files = {f.path: f for f in reader.layer_files(REF, served)}
        listed = {f.path: f for f in evidence.layer_files[recorded.digest]}
        assert {p: (f.size_bytes, f.kind) for p, f in files.items() if p in listed} == {
            p: (f.size_bytes, f.kind) for p, f in listed.items()}
        assert sum(f.size_bytes for f in files.values()) == recorded.size_bytes  # topped up to the declared size
    assert all(path.startswith("/v2/checkout-api/") for path in sim.paths() if path.startswith("/v2/"))


def test_digests_are_those_of_the_served_bytes(sim, reader):
    manifest = reader.manifest(REF)
    body = httpx.get(f"{sim.url}/v2/checkout-api/manifests/2024.06.03-1").content
    assert manifest.digest == "sha256:" + hashlib.sha256(body).hexdigest()
    for layer in manifest.layers:
        blob = httpx.get(f"{sim.url}/v2/checkout-api/blobs/{layer.digest}").content
        assert len(blob) == layer.size_bytes and layer.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert reader.manifest(f"registry.internal:5000/checkout-api@{manifest.digest}").layers == manifest.layers
    assert reader.manifest(PREVIOUS).digest != manifest.digest


def test_an_unknown_tag_is_named_with_the_mirrored_registry(reader):
    with pytest.raises(ImageReadError) as err:
        reader.manifest("registry.internal:5000/checkout-api:does-not-exist")
    assert "registry.internal:5000/checkout-api:does-not-exist not found" in str(err.value)


def test_without_the_mirror_the_registry_is_unreachable(monkeypatch):
    monkeypatch.delenv("CORONER_REGISTRY_MIRRORS", raising=False)
    with pytest.raises(ImageReadError, match="registry registry.internal:5000 is unreachable"):
        image_reader(load_settings()).manifest(REF)


def _basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_the_mirror_gets_its_own_credentials_never_the_mirrored_registrys(sim):
    """A pull-through cache that wants Basic auth, in front of the sim's registry."""
    seen: list[str | None] = []
    lock = threading.Lock()
    mirror_secret = _basic("mirror-user", "mirror-pass")

    class Cache(BaseHTTPRequestHandler):
        def do_GET(self):
            with lock:
                seen.append(self.headers.get("Authorization"))
            if self.headers.get("Authorization") != mirror_secret:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="cache"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            upstream = httpx.get(sim.url + self.path)
            self.send_response(upstream.status_code)
            for name in ("Content-Type", "Docker-Content-Digest"):
                if name in upstream.headers:
                    self.send_header(name, upstream.headers[name])
            self.send_header("Content-Length", str(len(upstream.content)))
            self.end_headers()
            self.wfile.write(upstream.content)

        def log_message(self, *args):
            pass

    with serving_http(Cache) as cache:
        host = cache.url.removeprefix("http://")
        auth = RegistryAuth({"registry.internal:5000": Credential("origin-user", "origin-pass"),
                             host: Credential("mirror-user", "mirror-pass")})
        reader = RegistryImageReader(auth=auth, mirrors=parse_mirrors(f"registry.internal:5000={cache.url}"))
        manifest = reader.manifest(REF)
        assert sum(1 for _ in reader.layer_files(REF, manifest.layers[-1])) > 0
        assert seen[0] is None and set(seen[1:]) == {mirror_secret}
        unauthorised = RegistryImageReader(auth=RegistryAuth({"registry.internal:5000": Credential("o", "p")}),
                                           mirrors=parse_mirrors(f"registry.internal:5000={cache.url}"))
        with pytest.raises(ImageReadError, match=rf"registry {host} \(mirror of registry.internal:5000\) refused "
                                                 r"access to checkout-api: it wants credentials"):
            unauthorised.manifest(REF)
        assert _basic("o", "p") not in seen
