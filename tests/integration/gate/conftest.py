"""Real images for `coroner gate`: built by dockerd on a busybox base made with `docker import`, pushed
to Debian's docker-registry on loopback (the images tests' registry fixture, shared for the session)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import service_unavailable
from tests.integration.images.conftest import BUSYBOX, busybox_rootfs, registry, registry_url  # noqa: F401 - the fixtures
from tests.cli_process import CORONER, cli_env


REFERENCE = """FROM {base}
WORKDIR /app
COPY main.py .
CMD ["sh"]
"""
# Line 3 ships the context's .git (no .dockerignore); line 4 writes 12 MiB: 7x the reference.
GROWN = """FROM {base}
WORKDIR /app
COPY . .
RUN dd if=/dev/zero of=/app/model.bin bs=1024 count=12288
CMD ["sh"]
"""
FIXED = """FROM {base}
WORKDIR /app
COPY main.py config.txt ./
CMD ["sh"]
"""


@dataclass(frozen=True)
class GateImages:
    reference: str
    grown: str
    fixed: str
    grown_dockerfile: Path  # in its build context


def coroner(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`coroner ARGS` as a process, on the tests' `bot` package."""
    return subprocess.run([*CORONER, *args], check=False, capture_output=True, text=True, env=cli_env(**(env or {})),
                          timeout=timeout)


def _context(root: Path, dockerfile: str) -> Path:
    files = {
        "Dockerfile": dockerfile.encode(),
        "main.py": b"print('hello')\n",
        "config.txt": b"level=info\n",
        ".git/HEAD": b"ref: refs/heads/main\n",
        ".git/objects/pack/pack-1.pack": bytes(50_000),
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


@pytest.fixture(scope="session")
def gate_images(docker_client, registry_url) -> Iterator[GateImages]:  # noqa: F811 - the imported fixture
    if not os.path.exists(BUSYBOX):
        service_unavailable(f"{BUSYBOX} is not installed (Debian package busybox-static)")
    suffix = uuid.uuid4().hex[:10]
    base = f"coroner-gate-base-{suffix}:1"
    repository = f"{registry_url}/coroner-gate-{suffix}"
    workdir = Path(tempfile.mkdtemp(prefix="coroner-gate-"))
    created: list[str] = []
    try:
        docker_client.api.import_image_from_data(busybox_rootfs(), repository=base.split(":")[0], tag="1")
        created.append(base)
        refs = {}
        for tag, text in (("v1", REFERENCE), ("v2", GROWN), ("v3", FIXED)):
            context = _context(workdir / tag, text.format(base=base))
            docker_client.images.build(path=str(context), tag=f"{repository}:{tag}", rm=True)
            created.append(f"{repository}:{tag}")
            for line in docker_client.images.push(repository, tag=tag, stream=True, decode=True):
                if "error" in line:
                    pytest.fail(f"push failed: {line['error']}")
            refs[tag] = f"{repository}:{tag}"
        yield GateImages(refs["v1"], refs["v2"], refs["v3"], workdir / "v2" / "Dockerfile")
    finally:
        for tag in reversed(created):
            with contextlib.suppress(Exception):  # cleanup must not hide the test's own failure
                docker_client.images.remove(tag, force=True)
        shutil.rmtree(workdir, ignore_errors=True)
