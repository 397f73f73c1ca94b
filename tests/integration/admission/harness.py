"""The admission webhook as the API server meets it: `coroner serve`'s app over HTTPS (certificates from
`coroner certs`' code, the client verifying against its CA), images in a loopback OCI registry double
serving real layers, the cluster in the sim through the official client, Slack as its Web API double.
`stall` puts a stalling proxy between the webhook and the sim: the API server's answers to the matching
paths never come.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import random
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.server import TlsFiles, serving
from bot.settings import Settings
from bot.sim.scenario import load_scenario
from bot.sim.kubeconfig import write_kubeconfig
from bot.sim.server import running_sim
from bot.store.records import AuditRecord
from bot.wiring import Services, build, build_app
from bot.worker import start_workers
from tests.doubles.admission_reviews import review, workload
from tests.doubles.images import RegistryDouble, sha, tar_bytes
from tests.doubles.slack_web import SlackDouble, running_slack_web
from tests.doubles.stalling_proxy import stalling_proxy
from tests.integration.paged import wait_until

NAMESPACE, NAME = "payments", "checkout-api"  # crashloop-bad-config: three healthy nodes, 80 GiB each
CHANNEL = "#checkout"
MB = 1_000_000
SLOW_BLOB_SECONDS = 3.5


def _bytes(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)  # incompressible: the registry serves real megabytes


BASE = tar_bytes([("bin/", None), ("bin/app", _bytes(1, 150_000))])
HISTORY = [{"created_by": "/bin/sh -c #(nop) ADD file:base in / "}, {"created_by": "/bin/sh -c #(nop) COPY dir:src in /app "}]


def app_layer(version: str) -> bytes:
    return tar_bytes([("app/", None), ("app/main.py", f"print('{version}')\n".encode() * 50)])


def grown_layer(seed: int) -> bytes:
    """The outage's mistake, small: `COPY . .` without a .dockerignore (a .git pack, test data)."""
    return tar_bytes([("app/", None), ("app/main.py", b"print('v2')\n"),
                      ("app/.git/", None), ("app/.git/HEAD", b"ref: refs/heads/main\n"),
                      ("app/.git/objects/pack/pack-1.pack", _bytes(seed, 3 * MB)),
                      ("app/data/users.csv", _bytes(seed + 1, 2 * MB))])


@dataclass
class Registry:
    double: RegistryDouble

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.double.port}"

    def ref(self, name: str, tag: str) -> str:
        return f"{self.host}/{name}:{tag}"

    def reads(self) -> int:
        return len(self.double.seen)

    def layer_reads(self) -> int:
        """Layer blobs served (a manifest read also fetches the image's small config blob)."""
        layers = {layer["digest"] for _, body in self.double.manifests.values()
                  for layer in json.loads(body).get("layers", [])}
        return sum(1 for digest in self.double.blob_requests if digest in layers)

    def add(self, name: str, tag: str, layers: list[bytes]) -> str:
        self.double.add_image(name, tag, layers, HISTORY)
        return self.ref(name, tag)

    def add_slow(self, name: str, tag: str, layer: bytes, *, stall: float) -> str:
        """An image whose last layer's blob answers only after `stall` seconds (a slow registry)."""
        blob = gzip.compress(layer, compresslevel=1)

        def slowly() -> Iterator[bytes]:
            time.sleep(stall)
            yield blob

        self.double.add_image(name, tag, [BASE], HISTORY, streamed=[(sha(blob), len(blob), slowly)],
                              streamed_gzip=True)
        return self.ref(name, tag)


@dataclass
class Webhook:
    url: str
    ca: Path
    services: Services
    registry: Registry
    slack: SlackDouble
    client: httpx.Client
    stalled: list[str]  # the API server paths the stalling proxy held (`stall`)

    def post(self, document: Any) -> httpx.Response:
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        return self.client.post("/admission/validate", content=body, headers={"Content-Type": "application/json"})

    def timed(self, document: Any) -> tuple[httpx.Response, float]:
        started = time.perf_counter()
        response = self.post(document)
        return response, time.perf_counter() - started

    def warm(self, old_image: str, new_image: str, *, new: int = 2) -> None:
        """Fill the autopsy cache with both images, as a first review does (a dry run: no record), and wait
        for the background autopsies (`new`: how many of the two are not cached yet): on a loaded machine
        the first review may have answered fail-open."""
        known = self.cached()
        sent = self.change(old_image, new_image)
        sent["request"]["dryRun"] = True
        answer = self.post(sent)
        assert answer.status_code == 200
        wait_until(lambda: self.cached() >= known + new, timeout=60,
                   what=f"the autopsies of {old_image}, {new_image} "
                        f"({self.services.admission_gate().autopsies.running()} still running; {answer.text})")

    def audit(self) -> list[AuditRecord]:
        with self.services.store.unit_of_work() as uow:
            return [r for r in uow.audit.list(limit=1000) if r.action.startswith("admission.")]

    def cached(self) -> int:
        with self.services.store.unit_of_work() as uow:
            return uow.image_autopsies.count()

    def change(self, old_image: str, new_image: str, *, namespace: str = NAMESPACE, **options: Any) -> dict[str, Any]:
        annotations = options.pop("annotations", None)
        return review(workload(new_image, namespace=namespace, name=NAME, annotations=annotations, **options),
                      workload(old_image, namespace=namespace, name=NAME, **options))


@contextlib.contextmanager
def running_webhook(tmp_path: Path, images: Registry, certificates: TlsFiles, *, database_url: str,
                    stall: str | None = None, **settings: Any) -> Iterator[Webhook]:
    scenario = load_scenario("crashloop-bad-config")
    for name, mode in (("staging", "warn"), ("sandbox", "off"), ("strict", "deny")):
        scenario.namespaces.append({"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": name, "labels": {"coroner.dev/gate-mode": mode}}})
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(f"services:\n  {NAME}:\n    namespace: {NAMESPACE}\n    slack_channel: '{CHANNEL}'\n")
    stop = threading.Event()
    with running_sim(scenario) as sim, running_slack_web() as slack, contextlib.ExitStack() as stack:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        stalled: list[str] = []
        if stall is not None:
            proxy = stack.enter_context(stalling_proxy(sim.url, stall=stall))
            kubeconfig, stalled = write_kubeconfig(kubeconfig, proxy.url), proxy.stalled
        config = Settings(database_url=database_url, kubeconfig=kubeconfig,
                          catalog_file=catalog, slack_bot_token="xoxb-test", slack_api_url=slack.api_url,
                          gate_min_growth_bytes=1 * MB, **settings)
        services = build(config)
        services.store.upgrade()
        url = stack.enter_context(serving(build_app(services, pending_sweep_seconds=1.0), tls=certificates))
        workers = start_workers(services.store, lambda name: services.handlers(worker=name), count=1, stop=stop,
                                idle_seconds=0.05)
        ca = certificates.cert.parent / "ca.crt"
        client = stack.enter_context(httpx.Client(base_url=url, verify=ssl.create_default_context(cafile=ca),
                                                  timeout=10))
        try:
            yield Webhook(url=url, ca=ca, services=services, registry=images, slack=slack, client=client,
                          stalled=stalled)
        finally:
            stop.set()
            for thread in workers:
                thread.join(timeout=10)
            services.store.dispose()
