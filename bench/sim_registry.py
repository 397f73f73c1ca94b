"""What reading a scenario's images through the sim's registry costs, against reading the same evidence
in-process.

    python bench/sim_registry.py [--scenario registry-meltdown] [--runs 3]

The sim runs as `coroner sim` in a child process (`bot.sim.process`), as a user runs it; the client is
`RegistryImageReader` with the mirror the sim prints. Per run, interleaved:
- anchor: sha256 over as many bytes as the image declares, in this process (the machine's speed);
- first: the image autopsy of the incident's current image (against the previous revision's) through the
  registry reader against a fresh sim, which first builds the image's digests (hashing every layer);
- registry: the same autopsy again (manifest, config, every layer blob streamed, inflated and walked).
Prints medians in seconds and the ratios to the anchor; the figures go in docs/scenarios.md.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

from bot.images.autopsy import autopsy
from bot.images.mirrors import parse_mirrors
from bot.images.registry_reader import RegistryImageReader
from bot.sim.images import ScenarioImageReader
from bot.sim.process import sim_process
from bot.sim.scenario import load_scenario


def _images(name: str) -> tuple[str, str]:
    """The current and previous images of the incident's service (revision order)."""
    scenario = load_scenario(name)
    service = scenario.incident.service if scenario.incident else ""
    revisions = sorted(
        (int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]),
         rs["spec"]["template"]["spec"]["containers"][0]["image"])
        for rs in scenario.replicasets if rs["metadata"]["name"].startswith(f"{service}-"))
    images = [image for _, image in revisions]
    return images[-1], next(image for image in reversed(images) if image != images[-1])


def _timed_hash(size: int) -> float:
    block = bytes(1 << 20)
    digest = hashlib.sha256()
    started = time.perf_counter()
    for _ in range(size >> 20):
        digest.update(block)
    return time.perf_counter() - started


def _timed_autopsy(reader: object, current: str, previous: str) -> float:
    started = time.perf_counter()
    autopsy(reader, current, against=previous)  # type: ignore[arg-type]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="registry-meltdown")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    current, previous = _images(args.scenario)
    size = ScenarioImageReader(load_scenario(args.scenario)).manifest(current).size_bytes
    anchor, registry, first = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            with sim_process(Path(tmp) / f"config-{run}", scenario=args.scenario) as sim:
                mirrors = parse_mirrors(f"registry.internal:5000={sim.url}")
                first.append(_timed_autopsy(RegistryImageReader(mirrors=mirrors), current, previous))
                anchor.append(_timed_hash(size))
                registry.append(_timed_autopsy(RegistryImageReader(mirrors=mirrors), current, previous))
    base = statistics.median(anchor)
    print(f"{args.scenario}: {current}, {size / 1e9:.2f} GB declared")
    for label, times in (("anchor: sha256 of that many bytes", anchor), ("registry (digests built)", registry),
                         ("registry, first read of a fresh sim", first)):
        median = statistics.median(times)
        print(f"{label:38} {median:7.2f} s   {median / base:7.1f}x anchor")


if __name__ == "__main__":
    main()
