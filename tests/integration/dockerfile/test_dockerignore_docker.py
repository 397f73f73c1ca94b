"""Our .dockerignore matcher against the real thing: the docker CLI builds the context with moby's
patternmatcher, the classic builder copies it into a `FROM scratch` image, and we list what arrived."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from bot.dockerfile.context import Matcher, audit, parse_dockerignore
from tests.conftest import service_unavailable

pytestmark = pytest.mark.docker

TREE = [
    "app.py", "top.log", "a/b/c.log", "a/b/keep.txt", ".git/HEAD", ".git/objects/x", "docs/keep.md",
    "docs/drop.md", "docs/sub/deep.md", "node_modules/p/index.js", "src/node_modules/q/i.js",
    "src/__pycache__/m.pyc", "src/m.py", "data/train.csv", "data/raw/x.csv", ".env", ".env.example",
    "foo", "bar/foo", "x1.txt", "xy.txt", "[weird].txt",
]
IGNORES = [
    ".git\n*.log\ndocs\n!docs/keep.md\n",
    "**/*.log\n**/node_modules\n**/__pycache__\n.env\n/foo\n",
    "**\n!src\n!app.py\nsrc/__pycache__\n",
    "data/**/*.csv\n!data/train.csv\nx?.txt\n!xy.txt\n# comment\n  docs/  \n",
    "*\n!*.py\n!src/**\n",
]


def _docker() -> str:
    exe = shutil.which("docker")
    if exe is None:
        service_unavailable("the docker CLI is not installed")
    probe = subprocess.run([exe, "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True)
    if probe.returncode != 0:
        service_unavailable(f"no Docker engine answers: {probe.stderr.strip()}")
    return exe  # type: ignore[return-value]


def _files_in_image(docker: str, ctx: Path) -> set[str]:
    tag = f"coroner-test-ctx-{uuid.uuid4().hex[:10]}:1"
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}  # the classic builder copies exactly the context the CLI sent
    build = subprocess.run([docker, "build", "-q", "-t", tag, str(ctx)], capture_output=True, text=True, env=env)
    assert build.returncode == 0, build.stderr
    try:
        cid = subprocess.run([docker, "create", tag], capture_output=True, text=True, check=True).stdout.strip()
        try:
            tar_bytes = subprocess.run([docker, "export", cid], capture_output=True, check=True).stdout
        finally:
            subprocess.run([docker, "rm", cid], capture_output=True)
    finally:
        subprocess.run([docker, "rmi", "-f", tag], capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        return {m.name[len("ctx/"):] for m in tar.getmembers() if m.isfile() and m.name.startswith("ctx/")}


@pytest.mark.parametrize("ignore", IGNORES)
def test_matcher_agrees_with_docker(ignore: str, tmp_path: Path) -> None:
    docker = _docker()
    for rel in TREE:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(rel)
    (tmp_path / ".dockerignore").write_text(ignore)
    (tmp_path / "Dockerfile").write_text('FROM scratch\nCOPY . /ctx/\nCMD ["x"]\n')
    sent = _files_in_image(docker, tmp_path)
    matcher = Matcher(parse_dockerignore(ignore))
    ours = {rel for rel in [*TREE, ".dockerignore", "Dockerfile"] if not matcher.excluded(rel)}
    assert ours == sent
    a = audit(tmp_path)
    assert a.sent_files == len(sent)
