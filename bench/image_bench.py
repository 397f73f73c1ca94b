"""Bench: `coroner image --format json` against `dive --ci` on the same local image, each as a whole
process, and a check that Coroner's dive figures equal dive's own.

    .venv/bin/python bench/image_bench.py [--files 20000] [--big-mb 300] [--runs 3] [--keep]

Builds a throwaway image on a `docker import`ed busybox base (no registry needed): a COPY of a context
with many small files, a venv-like tree, a .git pack and a big data file; a RUN that overwrites and
one that deletes. Prints a Markdown table for docs/benchmarks-images.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

import docker

BIN = Path(sys.executable).parent
DOCKERFILE = """FROM {base}
WORKDIR /app
COPY . .
RUN dd if=/dev/zero of=/app/scratch.bin bs=1M count=64 && echo v2 > /app/config.txt
RUN rm -rf /app/scratch.bin /app/node_modules && echo v3 > /app/config.txt
"""


def base_image(client: docker.DockerClient, tag: str) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for directory in ("bin", "tmp", "etc"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(info)
        archive.add("/usr/bin/busybox", arcname="bin/busybox")
        for applet in ("sh", "rm", "dd", "echo", "mkdir"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            archive.addfile(info)
    repository, version = tag.split(":")
    client.api.import_image_from_data(buffer.getvalue(), repository=repository, tag=version)


def context(root: Path, files: int, big_mb: int) -> None:
    for i in range(files):
        group = "node_modules" if i % 3 == 0 else ".venv/lib/site-packages" if i % 3 == 1 else "src"
        path = root / group / f"pkg{i % 200}" / f"file{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * (200 + i % 5000))
    (root / ".git" / "objects").mkdir(parents=True)
    with open(root / ".git" / "objects" / "pack.pack", "wb") as handle:
        handle.truncate(big_mb // 3 * 1_000_000)
    (root / "data").mkdir()
    with open(root / "data" / "users.csv", "wb") as handle:
        handle.truncate(big_mb * 1_000_000)
    (root / "config.txt").write_text("v1\n")


def timed(cmd: list[str], runs: int) -> tuple[float, str]:
    samples, out = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "CI": "true"})
        samples.append(time.perf_counter() - start)
        out = result.stdout
        if result.returncode not in (0, 1):
            raise SystemExit(f"{cmd[0]} failed ({result.returncode}): {result.stderr[-500:]}")
    return statistics.median(samples), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--big-mb", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    client = docker.from_env(timeout=600)
    suffix = uuid.uuid4().hex[:8]
    base, image = f"coroner-bench-base-{suffix}:1", f"coroner-bench-{suffix}:1"
    ctx = Path(tempfile.mkdtemp(prefix="coroner-bench-"))
    try:
        base_image(client, base)
        context(ctx, args.files, args.big_mb)
        (ctx / "Dockerfile").write_text(DOCKERFILE.format(base=base))
        client.images.build(path=str(ctx), tag=image, rm=True)
        dive = shutil.which("dive") or str(BIN / "dive")
        coroner = str(BIN / "coroner")
        # Warm both once (page cache, engine) so neither pays for the other's first read.
        subprocess.run([coroner, "image", image, "--source", "docker", "--format", "json"], capture_output=True)
        coroner_s, coroner_out = timed([coroner, "image", image, "--source", "docker", "--format", "json"], args.runs)
        dive_s, dive_out = timed([dive, image, "--source", "docker", "--ci"], args.runs)
        save_s, save_out = timed([coroner, "image", image, "--source", "docker", "--format", "json",
                                  "--docker-contents", "save"], args.runs)
        json_path = ctx / "dive.json"
        subprocess.run([dive, image, "--source", "docker", "--json", str(json_path)], capture_output=True, check=True)
        dive_json = json.loads(json_path.read_text())["image"]
        ours = json.loads(coroner_out)["totals"]
        ci_efficiency = float(re.search(r"efficiency: ([\d.]+) %", dive_out).group(1))  # type: ignore[union-attr]
        ci_wasted = int(re.search(r"wastedBytes: (\d+) bytes", dive_out).group(1))  # type: ignore[union-attr]
        same_efficiency = ours["dive_efficiency"] == dive_json["efficiencyScore"]
        same_wasted = ours["dive_wasted_bytes"] == dive_json["inefficientBytes"] == ci_wasted
        saved = json.loads(save_out)["totals"]
        same_paths = saved == ours
        size = client.images.get(image).attrs["Size"]
        print(f"| image | {size / 1e6:.0f} MB, {args.files} files + .git pack + {args.big_mb} MB csv, 5 layers |")
        print(f"| `coroner image --format json` (median of {args.runs}) | {coroner_s:.2f} s |")
        print(f"| `coroner image --format json --docker-contents save` (median of {args.runs}) | {save_s:.2f} s |")
        print(f"| `dive --ci` (median of {args.runs}) | {dive_s:.2f} s |")
        print(f"| overlay2 listing and docker save give the same totals | {same_paths} |")
        print(f"| dive efficiency (dive --json / --ci / coroner) | {dive_json['efficiencyScore']!r} / {ci_efficiency} % / {ours['dive_efficiency']!r} |")
        print(f"| dive wastedBytes (dive --json / --ci / coroner) | {dive_json['inefficientBytes']} / {ci_wasted} / {ours['dive_wasted_bytes']} |")
        print(f"| coroner reclaimable_bytes | {ours['reclaimable_bytes']} |")
        print(f"| figures equal | efficiency {same_efficiency}, wasted {same_wasted} |")
        print(f"| coroner no slower than dive | {coroner_s <= dive_s} |")
        if not (same_efficiency and same_wasted):
            raise SystemExit("dive figures differ")
    finally:
        if not args.keep:
            for tag in (image, base):
                try:
                    client.images.remove(tag, force=True)
                except docker.errors.APIError:
                    pass
        shutil.rmtree(ctx, ignore_errors=True)


if __name__ == "__main__":
    main()
