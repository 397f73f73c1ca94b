"""The size the fixed image should have, from the layer evidence of the image the Dockerfile built."""

from __future__ import annotations

from bot.dockerfile.context import unshipped_paths
from bot.dockerfile.estimate import LayerEvidence, SizeEstimate, context_files, copy_destination
from bot.dockerfile.fix import fix, with_size_estimate
from bot.dockerfile.parser import parse

MB = 1024 * 1024
DOCKERFILE = """\
FROM ubuntu:22.04
RUN apt-get update && apt-get install -y python3 python3-pip build-essential git cuda-toolkit-12-1
WORKDIR /srv
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
CMD ["python3", "app.py"]
"""
# What an autopsy lists for the image this Dockerfile built: directories, largest first.
LAYERS = [
    LayerEvidence("ADD file:base in /", 78 * MB, (("usr/lib/x86_64-linux-gnu", 10 * MB),)),
    LayerEvidence("RUN apt-get update && apt-get install -y python3 python3-pip build-essential git "
                  "cuda-toolkit-12-1", 2100 * MB,
                  (("usr/local/cuda-12.1", 1900 * MB), ("usr/lib/gcc", 90 * MB), ("usr/lib/git-core", 4 * MB),
                   ("usr/lib/python3", 30 * MB))),
    LayerEvidence("COPY requirements.txt .", 1000, (("srv/requirements.txt", 1000),)),
    LayerEvidence("RUN pip install -r requirements.txt", 300 * MB,
                  (("usr/local/lib/python3.10/dist-packages", 210 * MB), ("root/.cache/pip", 80 * MB))),
    LayerEvidence("COPY . .", 1810 * MB,
                  (("srv/.git", 800 * MB), ("srv/.venv", 600 * MB), ("srv/tests/data", 400 * MB),
                   ("srv/app.py", 10_000))),
]
TOTAL = sum(layer.size_bytes for layer in LAYERS)


def test_the_copy_destination_comes_from_workdir_and_the_copy() -> None:
    assert copy_destination(parse(DOCKERFILE)) == "srv"
    assert copy_destination(parse("FROM x\nWORKDIR /a\nWORKDIR b\nCOPY . ./c/\n")) == "a/b/c"
    assert copy_destination(parse("FROM x\nCOPY app.py /app/\n")) is None
    assert context_files(LAYERS, "srv") == {".git": 800 * MB, ".venv": 600 * MB, "tests/data": 400 * MB,
                                            "app.py": 10_000}


def test_unshipped_paths_name_directories_by_their_context_path() -> None:
    seen = unshipped_paths({".git": 800, "svc/.venv/lib/python3.12/site-packages/x.so": 600,
                            "tests/data/users.csv": 400, "tests/data/events.csv": 300, "app.py": 10,
                            "config/.env": 5, "data/model.parquet": 2 * MB, "static/logo.png": 4 * MB})
    assert [(s.path, s.kind) for s in seen] == [
        ("data/**/*.parquet", "data"), (".git", "git"), ("tests/data", "test-data"), ("svc/.venv", "venv"),
        ("config/.env", "secret")]


def test_the_fix_drops_the_toolchain_the_caches_and_the_context_junk() -> None:
    result = with_size_estimate(fix(DOCKERFILE, dockerignore_missing=True, context_files=context_files(LAYERS, "srv")),
                                LAYERS, total_bytes=TOTAL, baseline="revision 4", baseline_bytes=220 * MB)
    size = result.size_estimate
    assert size is not None
    removed = {r.item: (r.size_bytes, r.rule) for r in size.removed}
    assert removed == {
        "cuda-toolkit-12-1": (1900 * MB, "build-tools-in-final-stage"),
        "build-essential": (90 * MB, "build-tools-in-final-stage"),
        "git": (4 * MB, "build-tools-in-final-stage"),
        "pip cache": (80 * MB, "pip-cache"),
        ".git": (800 * MB, "dockerignore-missing"),
        ".venv": (600 * MB, "dockerignore-missing"),
        "tests/data": (400 * MB, "dockerignore-missing"),
    }
    assert size.current_bytes == TOTAL
    assert size.estimated_bytes == TOTAL - sum(b for b, _ in removed.values())
    assert size.describe() == "≈ 414 MB instead of 4.2 GB (estimate), within 1.9× of revision 4's 220 MB"
    assert SizeEstimate.from_json(size.to_json()) == size
    assert result.to_json()["size_estimate"] == size.to_json()


def test_without_a_fix_nothing_is_counted_as_removed() -> None:
    clean = "FROM python:3.12-slim\nCOPY app.py /app/\nUSER 10001\nCMD [\"python\", \"/app/app.py\"]\n"
    size = with_size_estimate(fix(clean), LAYERS, total_bytes=TOTAL).size_estimate
    assert size is not None and size.removed == () and size.estimated_bytes == TOTAL
    assert size.describe() == "≈ 4.2 GB instead of 4.2 GB (estimate)"


def test_a_heredoc_runs_packages_are_words_across_its_escaped_line_breaks() -> None:
    """The autopsy shows a heredoc RUN as one line, its line breaks escaped (`\\n`): a package at the end
    of one of its lines is still a word of the instruction."""
    from bot.dockerfile.estimate import estimate

    heredoc = LayerEvidence(r"RUN <<EOF\napt-get update\napt-get install -y build-essential\nrm -rf /var/lib/apt/lists\nEOF",
                            300 * MB, (("usr/lib/gcc", 90 * MB),))
    result = estimate([LAYERS[0], heredoc], dropped_packages=["build-essential"])
    assert [(r.item, r.size_bytes) for r in result.removed] == [("build-essential", 90 * MB)]
