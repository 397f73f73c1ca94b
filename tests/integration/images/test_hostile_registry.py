"""Hostile layers pushed to Debian's real docker-registry through its upload API, then read back by
`RegistryImageReader`: the registry stores and serves the bytes as given, as any registry a pod names may."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.doubles.images import deep_layer, pax_layer
from tests.integration.images.oci_push import digest_of, push_image

from bot.images.autopsy import autopsy
from bot.images.registry_reader import RegistryImageReader
from bot.ports import ImageReadError


def _push_image(registry_url: str, layer: bytes) -> str:
    name, tag = f"hostile-{uuid.uuid4().hex[:8]}", "v1"
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [digest_of(layer)]},
                         "history": [{"created_by": "/bin/sh -c #(nop) ADD file:hostile in / "}]}).encode()
    with httpx.Client(base_url=f"http://{registry_url}", timeout=30) as client:
        push_image(client, name, tag, config=config, layers=[layer])
    return f"{registry_url}/{name}:{tag}"


def test_a_pax_loop_from_a_real_registry_is_one_line_naming_the_layer(registry_url):
    ref = _push_image(registry_url, pax_layer(b"0 path=x\n"))
    with pytest.raises(ImageReadError, match=r"layer 0 \(sha256:[0-9a-f]{64}\) of hostile-\w+ is unreadable: PAX record") as info:
        autopsy(RegistryImageReader(), ref)
    assert "\n" not in str(info.value)


@pytest.mark.slow  # pushes and walks a 2,000-deep tree
def test_a_directory_thousands_deep_from_a_real_registry_is_walked(registry_url):
    ref = _push_image(registry_url, deep_layer(2000))
    report = autopsy(RegistryImageReader(), ref)
    assert report.totals.final_bytes == 4 and report.totals.complete
