"""Benchmark: `coroner diagnose` on a generated 2,000-node cluster against a lower bound.

    .venv/bin/python bench/diagnose_bench.py [--nodes 2000] [--pods-per-node 10] [--runs 5] [--baseline-src DIR]

1. A server process generates the cluster (bot.sim.generate) and serves it (bot.sim.server), in its own
   process so it does not share a GIL with the client being measured.
2. `coroner diagnose user-profile-service --node-proxy --no-images --format json` runs `--runs` times as
   a subprocess: wall time, the diagnosis's own `duration_ms` (no interpreter start-up), peak RSS.
3. The lower bound: the exact GET requests that diagnose made (recorded by the sim), issued with bare
   urllib3 (what the kubernetes client sends through, minus its layers) from 32 threads at once (as
   many as the reader's pool), with no dependency between them, the bodies read (`fetch`) and also
   parsed (`fetch+json`). The same with httpx is reported too: it is slower than bare urllib3 here. No real client can beat this: it does no
   conversion, no analysis and knows every URL in advance.

4. With `--baseline-src DIR` (a checkout's source, e.g. `git archive <commit> bot | tar -x -C DIR`), the
   same `coroner diagnose` with DIR first on PYTHONPATH runs in every repetition too: before/after
   measured in one interleaved run, against the same lower bounds.

Every repetition runs diagnose, then the lower bounds, so each diagnose has a lower bound measured
seconds apart under the same load: the summary reports the ratio of medians and the median of these
per-repetition ratios.

Prints a JSON summary and a Markdown table for docs/benchmarks-diagnose.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def serve(nodes: int, pods_per_node: int, kubeconfig: Path) -> None:
    """Server mode: generate, serve, then answer 'paths' / 'quit' on stdin."""
    from bot.sim.generate import generate_scenario
    from bot.sim.server import SimServer

    started = time.monotonic()
    scenario = generate_scenario(nodes=nodes, pods_per_node=pods_per_node)
    server = SimServer(scenario).start()
    server.write_kubeconfig(kubeconfig, context="bench")
    print(json.dumps({"url": server.url, "nodes": len(scenario.nodes), "pods": len(scenario.pods),
                      "events": len(scenario.events), "generate_s": round(time.monotonic() - started, 2)}),
          flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "paths":
            print(json.dumps(server.paths()), flush=True)
        elif command == "quit":
            break
    server.stop()


def run_diagnose(kubeconfig: Path, src: Path | None = None) -> dict[str, float]:
    cmd = [str(Path(PYTHON).parent / "coroner"), "diagnose", "user-profile-service", "--kubeconfig", str(kubeconfig),
           "--node-proxy", "--no-images", "--format", "json"]
    env = {**os.environ, "PYTHONPATH": str(src)} if src is not None else None
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, env=env)
    out, err = proc.stdout, proc.stderr
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"coroner diagnose failed: {err.decode()[-2000:]}")
    result = json.loads(out)
    return {"wall_s": wall, "duration_s": result["duration_ms"] / 1000, "findings": len(result["findings"])}


def peak_rss_mb(kubeconfig: Path) -> float:
    """Peak RSS of one `coroner diagnose` run, from the kernel's accounting of the child."""
    code = (
        "import resource, subprocess, sys;"
        f"subprocess.run({[str(Path(PYTHON).parent / 'coroner'), 'diagnose', 'user-profile-service', '--kubeconfig', str(kubeconfig), '--node-proxy', '--no-images', '--format', 'json']!r}, stdout=subprocess.DEVNULL, check=True);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out.strip()) / 1024


LOWER_BOUND = r"""
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
url, token, paths, parse, kind = sys.argv[1], sys.argv[2], json.loads(open(sys.argv[3]).read()), sys.argv[4] == "1", sys.argv[5]
headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
if kind == "httpx":
    import httpx
    client = httpx.Client(base_url=url, headers=headers, timeout=60,
                          limits=httpx.Limits(max_connections=32, max_keepalive_connections=32))
    fetch = lambda path: client.get(path).content
else:  # urllib3, what the kubernetes client itself sends through, without the client's layers
    import urllib3
    pool = urllib3.PoolManager(maxsize=32, headers=headers)
    fetch = lambda path: pool.request("GET", url + path).data
def get(path):
    body = fetch(path)
    return len(json.loads(body)) if parse else len(body)
fetch("/version")
started = time.monotonic()
with ThreadPoolExecutor(32) as workers:
    total = sum(workers.map(get, paths))
print(json.dumps({"seconds": time.monotonic() - started, "requests": len(paths)}))
"""


def lower_bound(url: str, paths: list[str], parse: bool, kind: str) -> float:
    """One plain client (`httpx` or bare `urllib3`) fetching every path from 32 threads."""
    from bot.sim.kubeconfig import SIM_TOKEN

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(paths, handle)
    out = subprocess.run([PYTHON, "-c", LOWER_BOUND, url, SIM_TOKEN, handle.name, "1" if parse else "0", kind],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--pods-per-node", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline-src", type=Path, help="Also run diagnose from this source tree, interleaved.")
    args = parser.parse_args()
    if os.environ.get("CORONER_BENCH_SERVE"):
        serve(args.nodes, args.pods_per_node, Path(os.environ["CORONER_BENCH_SERVE"]))
        return
    tmp = Path(tempfile.mkdtemp(prefix="coroner-bench-"))
    kubeconfig = tmp / "config"
    server = subprocess.Popen([PYTHON, __file__, "--nodes", str(args.nodes), "--pods-per-node", str(args.pods_per_node)],
                              env={**os.environ, "CORONER_BENCH_SERVE": str(kubeconfig)},
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        info = json.loads(server.stdout.readline())  # type: ignore[union-attr]
        print(f"# cluster: {info}", file=sys.stderr)
        # One run to learn the requests, then diagnose and the lower bound interleaved, so that the
        # load of a shared machine falls on both alike.
        runs = [run_diagnose(kubeconfig)]
        server.stdin.write("paths\n")  # type: ignore[union-attr]
        server.stdin.flush()  # type: ignore[union-attr]
        paths = json.loads(server.stdout.readline())  # type: ignore[union-attr]
        per_run = len(paths)
        fetch: list[float] = []
        fetch_json: list[float] = []
        httpx_json: list[float] = []
        baseline: list[dict[str, float]] = []
        if args.baseline_src:
            run_diagnose(kubeconfig, args.baseline_src)  # warm-up, as for the first run above
        for _ in range(args.runs):
            runs.append(run_diagnose(kubeconfig))
            if args.baseline_src:
                baseline.append(run_diagnose(kubeconfig, args.baseline_src))
            fetch.append(lower_bound(info["url"], paths, parse=False, kind="urllib3"))
            fetch_json.append(lower_bound(info["url"], paths, parse=True, kind="urllib3"))
            httpx_json.append(lower_bound(info["url"], paths, parse=True, kind="httpx"))
        runs = runs[1:]
        rss = peak_rss_mb(kubeconfig)
    finally:
        if server.stdin:
            server.stdin.write("quit\n")
            server.stdin.flush()
        server.wait(timeout=30)
    med = statistics.median
    pairwise = [r["duration_s"] / lb for r, lb in zip(runs, fetch_json, strict=True)]
    summary = {
        "nodes": info["nodes"], "pods": info["pods"], "events": info["events"], "requests_per_diagnose": per_run,
        "summary_requests": sum(1 for p in paths if "/proxy/stats" in p),
        "diagnose_duration_s": round(med(r["duration_s"] for r in runs), 3),
        "diagnose_wall_s": round(med(r["wall_s"] for r in runs), 3),
        "lower_bound_fetch_s": round(med(fetch), 3),
        "lower_bound_fetch_json_s": round(med(fetch_json), 3),
        "httpx_fetch_json_s": round(med(httpx_json), 3),
        "ratio_duration_vs_httpx_json": round(med(r["duration_s"] for r in runs) / med(httpx_json), 2),
        "ratio_duration_vs_fetch_json": round(med(r["duration_s"] for r in runs) / med(fetch_json), 2),
        "ratio_duration_vs_fetch": round(med(r["duration_s"] for r in runs) / med(fetch), 2),
        "median_pairwise_ratio_vs_fetch_json": round(med(pairwise), 2),
        "pairwise_ratios_vs_fetch_json": [round(x, 2) for x in pairwise],
        "best_diagnose_duration_s": round(min(r["duration_s"] for r in runs), 3),
        "best_lower_bound_fetch_json_s": round(min(fetch_json), 3),
        "ratio_best_vs_best": round(min(r["duration_s"] for r in runs) / min(fetch_json), 2),
        "all_diagnose_duration_s": [round(r["duration_s"], 3) for r in runs],
        "all_lower_bound_fetch_json_s": [round(x, 3) for x in fetch_json],
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "peak_rss_mb": round(rss, 1),
        "runs": args.runs,
    }
    if baseline:
        summary["baseline_src"] = str(args.baseline_src)
        summary["baseline_duration_s"] = round(med(r["duration_s"] for r in baseline), 3)
        summary["baseline_wall_s"] = round(med(r["wall_s"] for r in baseline), 3)
        summary["baseline_ratio_vs_fetch_json"] = round(med(r["duration_s"] for r in baseline) / med(fetch_json), 2)
        summary["all_baseline_duration_s"] = [round(r["duration_s"], 3) for r in baseline]
    print(json.dumps(summary, indent=2))
    print(
        "\n| nodes | pods | requests | diagnose (in-process) | diagnose (CLI wall) | lower bound fetch | "
        "lower bound fetch+json | ratio | peak RSS |\n|---|---|---|---|---|---|---|---|---|\n"
        f"| {summary['nodes']} | {summary['pods']} | {per_run} | {summary['diagnose_duration_s']} s | "
        f"{summary['diagnose_wall_s']} s | {summary['lower_bound_fetch_s']} s | {summary['lower_bound_fetch_json_s']} s | "
        f"{summary['ratio_duration_vs_fetch_json']}× | {summary['peak_rss_mb']} MB |"
    )


if __name__ == "__main__":
    main()
