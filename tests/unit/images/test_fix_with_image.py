"""`coroner fix --image REF`: the image's layers, read from a registry, drive the .dockerignore and the
size estimate; the printed patch applies with `patch -p1` and `git apply` and leaves nothing fixable."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.doubles.images import RegistryDouble, tar_bytes

from bot.cli import main
from bot.dockerfile.parser import parse
from bot.dockerfile.rules import lint

DOCKERFILE = """\
FROM ubuntu:22.04
RUN apt-get update && apt-get install -y python3 python3-pip build-essential git
WORKDIR /srv
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
CMD ["python3", "app.py"]
"""
HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
    {"created_by": "RUN /bin/sh -c apt-get update && apt-get install -y python3 python3-pip build-essential git "
                   "# buildkit"},
    {"created_by": "WORKDIR /srv", "empty_layer": True},
    {"created_by": "COPY requirements.txt . # buildkit"},
    {"created_by": "RUN /bin/sh -c pip install -r requirements.txt # buildkit"},
    {"created_by": "COPY . . # buildkit"},
]
MB = 1024 * 1024
LAYERS = [
    tar_bytes([("bin/", None), ("bin/sh", b"s" * 200_000)]),
    tar_bytes([("usr/", None), ("usr/lib/", None), ("usr/lib/gcc/", None), ("usr/lib/gcc/cc1", b"c" * (3 * MB)),
               ("usr/lib/git-core/", None), ("usr/lib/git-core/git", b"g" * MB), ("usr/bin/", None),
               ("usr/bin/python3", b"p" * 100_000)]),
    tar_bytes([("srv/", None), ("srv/requirements.txt", b"flask\n")]),
    tar_bytes([("usr/", None), ("usr/local/", None), ("usr/local/lib/", None), ("usr/local/lib/flask.py", b"f" * MB),
               ("root/", None), ("root/.cache/", None), ("root/.cache/pip/", None),
               ("root/.cache/pip/wheel.body", b"w" * (2 * MB))]),
    tar_bytes([("srv/", None), ("srv/.git/", None), ("srv/.git/pack", b"k" * (4 * MB)),
               ("srv/.venv/", None), ("srv/.venv/pyvenv.cfg", b"home = /usr\n"), ("srv/.venv/lib/", None),
               ("srv/.venv/lib/torch.so", b"t" * (3 * MB)), ("srv/tests/", None), ("srv/tests/data/", None),
               ("srv/tests/data/a.csv", b"1,2\n" * (MB // 2)), ("srv/tests/data/b.csv", b"3,4\n" * (MB // 2)),
               ("srv/app.py", b"print('hi')\n"), ("srv/requirements.txt", b"flask\n")]),
]


@pytest.fixture
def context(registry: RegistryDouble, tmp_path: Path) -> tuple[Path, str]:
    registry.add_image("svc", "v1", LAYERS, HISTORY)
    root = tmp_path / "repo"
    root.mkdir()
    (root / "Dockerfile").write_text(DOCKERFILE)
    return root, f"127.0.0.1:{registry.port}/svc:v1"


def fix_output(root: Path, ref: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["fix", str(root / "Dockerfile"), "--image", ref, "--source", "registry", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_dockerignore_hunk_lists_what_the_copy_layer_held(context: tuple[Path, str]) -> None:
    root, ref = context
    data = json.loads(fix_output(root, ref, "--format", "json"))
    assert set(data["dockerignore"].splitlines()[2:5]) == {".git", ".venv", "tests/data"}  # largest first
    size = data["size_estimate"]
    assert size["estimate"] is True and size["estimated_bytes"] < size["current_bytes"]
    removed = {r["item"]: r["rule"] for r in size["removed"]}
    assert removed == {"build-essential": "build-tools-in-final-stage", "git": "build-tools-in-final-stage",
                       "pip cache": "pip-cache", ".git": "dockerignore-missing", ".venv": "dockerignore-missing",
                       "tests/data": "dockerignore-missing"}
    assert data["dropped_packages"] == ["build-essential", "git"]


def test_the_text_output_is_one_patch_and_the_estimate_goes_to_stderr(context: tuple[Path, str]) -> None:
    root, ref = context
    result = CliRunner().invoke(main, ["fix", str(root / "Dockerfile"), "--image", ref, "--source", "registry"])
    assert result.exit_code == 0, result.output
    assert "# would write" not in result.output
    assert result.stdout.count("+++ b/") == 2 and "--- /dev/null\n" in result.stdout
    assert "(estimate)" in result.stderr and "instead of" in result.stderr and "(estimate)" not in result.stdout


@pytest.mark.parametrize("tool", [["patch", "-p1", "--batch"], ["git", "apply", "-"]], ids=["patch", "git-apply"])
def test_the_patch_applies_and_relints_clean(context: tuple[Path, str], tmp_path: Path, tool: list[str]) -> None:
    if shutil.which(tool[0]) is None:
        pytest.skip(f"{tool[0]} is not installed")
    root, ref = context
    patch = fix_output(root, ref)
    copy = tmp_path / "applied"
    shutil.copytree(root, copy)
    applied = subprocess.run(tool, input=patch, text=True, cwd=copy, capture_output=True)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    ignore = (copy / ".dockerignore").read_text().splitlines()
    assert {".git", ".venv", "tests/data"} <= set(ignore)
    fixed = parse((copy / "Dockerfile").read_text())
    final_packages = "\n".join(i.original for i in fixed.final_stage.instructions if i.keyword == "RUN")
    assert "build-essential" not in final_packages and " git" not in final_packages
    left = [f.rule for f in lint(fixed, context=copy, measure_context=False)
            if f.evidence.get("fixable") or f.rule == "dockerignore-missing"]
    assert left == []


def test_an_unknown_image_is_one_line_and_exit_1(registry: RegistryDouble, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    result = CliRunner().invoke(main, ["fix", str(tmp_path / "Dockerfile"), "--image",
                                       f"127.0.0.1:{registry.port}/nope:v1", "--source", "registry"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "not found in the registry" in result.output
