"""Real services for the images feature: Debian's docker-registry on a loopback port, a busybox base
image made with `docker import`, and a built test image pushed to that registry."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import service_unavailable

REGISTRY_BIN = "/usr/bin/docker-registry"
BUSYBOX = "/usr/bin/busybox"
APPLETS = ("sh", "ls", "cat", "rm", "mkdir", "echo", "cp", "mv", "dd", "true", "touch", "chmod", "id", "head")

DOCKERFILE = """FROM {base}
ARG SECRET_TOKEN
WORKDIR /app
RUN mkdir -p /var/lib/apt/lists /var/cache/apt/archives /usr/lib/gcc/x86_64-linux-gnu/12 \\
 && dd if=/dev/zero of=/var/lib/apt/lists/deb.debian.org_Packages bs=1024 count=1024 \\
 && dd if=/dev/zero of=/var/cache/apt/archives/gcc_12.deb bs=1024 count=600 \\
 && dd if=/dev/zero of=/usr/lib/gcc/x86_64-linux-gnu/12/cc1 bs=1024 count=1500 \\
 && echo "$SECRET_TOKEN" > /dev/null
COPY . .
RUN dd if=/dev/zero of=/app/scratch.bin bs=1024 count=2048 && echo v2 > /app/config.txt
RUN rm -f /app/scratch.bin && rm -rf /app/tmpdir && echo v3 > /app/config.txt
CMD ["sh"]
"""
SECRET = "s3cr3t-build-arg-value"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Registry:
    url: str  # 127.0.0.1:PORT
    storage: Path  # the filesystem driver's root: tests that corrupt a stored blob write here

    def blob_path(self, digest: str) -> Path:
        algorithm, hexdigest = digest.split(":", 1)
        return self.storage / "docker/registry/v2/blobs" / algorithm / hexdigest[:2] / hexdigest / "data"


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    """A docker-registry started for this session, stopped afterwards."""
    if not os.path.exists(REGISTRY_BIN):
        service_unavailable(f"{REGISTRY_BIN} is not installed (Debian package docker-registry)")
    workdir = Path(tempfile.mkdtemp(prefix="coroner-registry-"))
    port = _free_port()
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {workdir / 'data'}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    log = open(workdir / "registry.log", "wb")  # noqa: SIM115 - the registry writes it until teardown
    process = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                service_unavailable(f"docker-registry did not start: {(workdir / 'registry.log').read_text()[-500:]}")
            time.sleep(0.1)
        yield Registry(url=f"127.0.0.1:{port}", storage=workdir / "data")
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def registry_url(registry: Registry) -> str:
    """`127.0.0.1:PORT` of the session's registry."""
    return registry.url


def busybox_rootfs(applets: tuple[str, ...] = APPLETS) -> bytes:
    """A one-layer root filesystem: Debian's static busybox and a symlink per applet."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for directory in ("bin", "tmp", "etc", "var", "usr"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(info)
        archive.add(BUSYBOX, arcname="bin/busybox")
        for applet in applets:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            archive.addfile(info)
    return buffer.getvalue()


def _write_context(root: Path) -> None:
    files = {
        ".git/HEAD": b"ref: refs/heads/main\n",
        ".git/objects/pack/pack-1.pack": bytes(300_000),
        ".venv/pyvenv.cfg": b"home = /usr/bin\n",
        ".venv/lib/python3.12/site-packages/requests/api.py": b"#" * 120_000,
        "node_modules/left-pad/index.js": b"module.exports = 1;\n" * 2000,
        "data/users.csv": b"id,email\n" + b"1,a@example.com\n" * 100_000,
        ".env": b"DATABASE_PASSWORD=do-not-print-me\n",
        "config.txt": b"v1\n",
        "tmpdir/junk.txt": b"j" * 10_000,
        "main.py": b"print('hello')\n",
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@dataclass(frozen=True)
class BuiltImage:
    local: str  # tag in the engine
    remote: str  # same image in the registry
    dockerfile: str


@pytest.fixture(scope="session")
def built_image(docker_client, registry_url) -> Iterator[BuiltImage]:
    suffix = uuid.uuid4().hex[:10]
    base = f"coroner-it-base-{suffix}:1"
    remote = f"{registry_url}/coroner-it-{suffix}:v1"
    if not os.path.exists(BUSYBOX):
        service_unavailable(f"{BUSYBOX} is not installed (Debian package busybox-static)")
    created: list[str] = []
    context = Path(tempfile.mkdtemp(prefix="coroner-ctx-"))
    try:
        docker_client.api.import_image_from_data(busybox_rootfs(), repository=base.split(":")[0], tag="1")
        created.append(base)
        dockerfile = DOCKERFILE.format(base=base)
        (context / "Dockerfile").write_text(dockerfile)
        _write_context(context)
        image, _ = docker_client.images.build(path=str(context), tag=remote, buildargs={"SECRET_TOKEN": SECRET}, rm=True)
        created.append(remote)
        for line in docker_client.images.push(remote.rsplit(":", 1)[0], tag="v1", stream=True, decode=True):
            if "error" in line:
                pytest.fail(f"push failed: {line['error']}")
        yield BuiltImage(local=remote, remote=remote, dockerfile=dockerfile)
    finally:
        for tag in reversed(created):
            try:
                docker_client.images.remove(tag, force=True)
            except Exception:  # noqa: BLE001 - cleanup must not hide the test's own failure
                pass
        shutil.rmtree(context, ignore_errors=True)
