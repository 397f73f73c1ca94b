"""Start-up of the `coroner` command as whole processes, beside hadolint and dive in the same run.

    python bench/startup.py [--runs 21] [--bin DIR] [--dockerfile PATH]

Measures, as separate processes and interleaved round by round (so load from other work on the machine
hits every command alike), the median wall time of:

- `coroner --help` (target: under 80 ms);
- `coroner lint FILE` against `hadolint FILE` on the same file (target: coroner's median <= hadolint's);
- `coroner image REF --source docker` against `dive --ci REF` on the same small local image (target:
  coroner's median <= dive's). The image is built here: a `docker import` of busybox-static plus two
  RUN layers, as tests/integration/images/conftest.py does; it needs dockerd and /usr/bin/busybox.
- `python -c pass` from the same interpreter: the floor every Python command pays before its first import,
  and the same with the standard-library modules `coroner lint` needs (dataclasses, re, pathlib, ...).

The console scripts are run from the interpreter's bin directory (`--bin`, default: next to
sys.executable), never through a pyenv shim, which adds its own start-up to every command. The `.pyc`
files of `bot` are compiled first, as `pip install` does: with PYTHONDONTWRITEBYTECODE=1 every run would
otherwise recompile every module it imports. Prints a markdown table for docs/benchmarks-startup.md.
"""

from __future__ import annotations

import argparse
import compileall
import io
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUSYBOX = Path("/usr/bin/busybox")
BASE_IMAGE = "coroner-bench/busybox:1"
SMALL_IMAGE = "coroner-bench/small:1"
# The standard library that `coroner lint` cannot do without (its findings are dataclasses, its parser
# regular expressions, its paths pathlib): a floor for any Python linter, before click or our own code.
STDLIB_OF_LINT = "import dataclasses, enum, pathlib, re, typing"


@dataclass
class Command:
    name: str
    argv: list[str]
    times: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000


def busybox_rootfs() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for directory in ("bin", "tmp", "etc"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(info)
        archive.add(str(BUSYBOX), arcname="bin/busybox")
        for applet in ("sh", "echo", "mkdir", "rm"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            archive.addfile(info)
    return buffer.getvalue()


def build_small_image() -> str:
    """A three-layer image in the local engine: busybox, a file written, the same file deleted."""
    if not BUSYBOX.exists():
        sys.exit(f"{BUSYBOX} is missing (Debian package busybox-static)")
    subprocess.run(["docker", "import", "-", BASE_IMAGE], input=busybox_rootfs(), check=True,
                   stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as context:
        Path(context, "Dockerfile").write_text(
            f"FROM {BASE_IMAGE}\nRUN mkdir -p /app && echo hello > /app/a.txt\nRUN rm /app/a.txt\n"
        )
        subprocess.run(["docker", "build", "-q", "-t", SMALL_IMAGE, context], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    return SMALL_IMAGE


def run_once(command: Command) -> None:
    started = time.perf_counter()
    done = subprocess.run(command.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    command.times.append(time.perf_counter() - started)
    # lint and dive --ci exit 1 when they find something; anything else means the command did not run.
    if done.returncode not in (0, 1):
        sys.exit(f"{command.name} failed ({done.returncode}): {done.stderr.decode(errors='replace')[-500:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--bin", type=Path, default=Path(sys.executable).parent,
                        help="directory holding the coroner console script and its python (default: this interpreter's)")
    parser.add_argument("--anchor-bin", type=Path, default=Path(sys.executable).parent,
                        help="directory holding hadolint and dive (the .[test] extra installs them next to python)")
    parser.add_argument("--dockerfile", type=Path, default=ROOT / "Dockerfile")
    args = parser.parse_args()

    tools = {"python": args.bin / "python", "coroner": args.bin / "coroner",
             "hadolint": args.anchor_bin / "hadolint", "dive": args.anchor_bin / "dive"}
    for path in tools.values():
        if not path.exists():
            sys.exit(f"{path} not found: install the project with `pip install -e '.[test]'`")
    import bot  # the package the coroner script will import (PYTHONPATH decides which)

    compileall.compile_dir(Path(bot.__file__).parent, quiet=1)
    image = build_small_image()
    dockerfile = str(args.dockerfile)
    commands = [
        Command("python -c pass", [str(tools["python"]), "-c", "pass"]),
        Command("python stdlib", [str(tools["python"]), "-c", STDLIB_OF_LINT]),
        Command("coroner --help", [str(tools["coroner"]), "--help"]),
        Command("coroner lint", [str(tools["coroner"]), "lint", dockerfile]),
        Command("hadolint", [str(tools["hadolint"]), dockerfile]),
        Command("coroner image", [str(tools["coroner"]), "image", image, "--source", "docker"]),
        Command("dive --ci", [str(tools["dive"]), "--ci", image, "--source", "docker"]),
    ]
    for command in commands:  # warm-up: page cache, the engine's image cache
        run_once(command)
        command.times.clear()
    for _ in range(args.runs):
        for command in commands:
            run_once(command)

    by_name = {c.name: c.median_ms for c in commands}
    load = os.getloadavg()[0]
    print(f"coroner: {tools['coroner']}; anchors: {args.anchor_bin}")
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, load average {load:.2f}, "
          f"{args.runs} runs each, interleaved; Dockerfile {args.dockerfile.name}, image {image}\n")
    print("| command | median | target | ratio | met |")
    print("|---|---:|---|---:|---|")
    print(f"| `python -c pass` (floor) | {by_name['python -c pass']:.1f} ms | | | |")
    print(f"| `python -c '{STDLIB_OF_LINT}'` (lint's stdlib floor) | {by_name['python stdlib']:.1f} ms | | | |")
    help_ms = by_name["coroner --help"]
    print(f"| `coroner --help` | {help_ms:.1f} ms | < 80 ms | {help_ms / 80:.2f} of budget | {'yes' if help_ms < 80 else 'NO'} |")
    for ours, anchor in (("coroner lint", "hadolint"), ("coroner image", "dive --ci")):
        ratio = by_name[ours] / by_name[anchor]
        print(f"| `{ours}` | {by_name[ours]:.1f} ms | <= {anchor} | {ratio:.2f}x | {'yes' if ratio <= 1 else 'NO'} |")
        print(f"| `{anchor}` (anchor) | {by_name[anchor]:.1f} ms | | | |")


if __name__ == "__main__":
    main()
