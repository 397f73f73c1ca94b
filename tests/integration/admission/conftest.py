"""Fixtures of the admission tests; the harness (registry images, the HTTPS webhook) is in harness.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.admission.certs import write_certificates
from bot.server import TlsFiles
# The images feature's real services: Debian's docker-registry on loopback and an image built by dockerd.
from tests.integration.images.conftest import built_image, registry, registry_url  # noqa: F401
from tests.integration.admission.harness import (
    BASE,
    Registry,
    RegistryDouble,
    Webhook,
    app_layer,
    grown_layer,
    running_webhook,
)


@pytest.fixture(scope="module")
def images() -> Iterator[Registry]:
    double = RegistryDouble()
    served = Registry(double)
    served.add("checkout", "v1", [BASE, app_layer("v1")])
    served.add("checkout", "v2", [BASE, grown_layer(10)])
    served.add("checkout", "v3", [BASE, app_layer("v3")])
    yield served
    double.close()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    out = tmp_path_factory.mktemp("certs")
    written = write_certificates(out, service="coroner-webhook", namespace="coroner", extra_names=["127.0.0.1"])
    return TlsFiles(written.cert, written.key)


@pytest.fixture
def webhook(tmp_path: Path, images: Registry, certificates: TlsFiles) -> Iterator[Webhook]:
    with running_webhook(tmp_path, images, certificates, database_url=f"sqlite:///{tmp_path / 'coroner.db'}") as hook:
        yield hook
