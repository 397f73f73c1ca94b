"""Where diagnose's time goes in the reader: the node list and the 2,000 kubelet summaries, alone.

    .venv/bin/python bench/reader_breakdown.py [--nodes 2000] [--runs 5] [--workers 32]

Against the generated cluster served by `coroner sim` in a child process (`tests/doubles/sim_process.py`), with the
official client's `KubernetesClusterReader`, interleaved per run:
- `list_nodes` at page sizes 500 (kubectl's) and 2,000;
- every node's summary from 32 threads, through the fast path (`_ProxyGetter`) and through the generated
  `CoreV1Api.connect_get_node_proxy_with_path` (the reader with its fast path switched off);
- the same summary URLs with bare urllib3 from 32 threads, bodies parsed (the lower bound's view);
- the node list and then the summaries, against both at once: the most that streaming node pages into
  the summary fan-out could save (it can only start the summaries one page earlier than "at once").
Prints medians in seconds, with the client's CPU time (the process is GIL-bound when they are close).
"""

from __future__ import annotations

import argparse
import json
import threading
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import urllib3

from bot.cluster.kubernetes_reader import KubernetesClusterReader
from bot.sim.kubeconfig import SIM_TOKEN
from tests.doubles.sim_process import sim_process


def timed(fn) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    started, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=32)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp, sim_process(Path(tmp) / "config", generate_nodes=args.nodes) as sim:
        paged = KubernetesClusterReader.from_kubeconfig(sim.kubeconfig, sim.context, pool_size=args.workers)
        whole = KubernetesClusterReader.from_kubeconfig(sim.kubeconfig, sim.context, pool_size=args.workers,
                                                        page_size=args.nodes)
        official = KubernetesClusterReader.from_kubeconfig(sim.kubeconfig, sim.context, pool_size=args.workers)
        official._proxy = None  # the generated method, for comparison
        names = [n.name for n in paged.list_nodes()]
        pool = urllib3.PoolManager(maxsize=args.workers, headers={"Authorization": f"Bearer {SIM_TOKEN}"})
        urls = [f"{sim.url}/api/v1/nodes/{n}/proxy/stats%2Fsummary" for n in names]

        def fan(fetch) -> None:  # type: ignore[no-untyped-def]
            with ThreadPoolExecutor(args.workers) as workers:
                list(workers.map(fetch, names if fetch is not bare else urls))

        def bare(url: str) -> int:
            return len(json.loads(pool.request("GET", url).data))

        def overlapped() -> None:
            lister = threading.Thread(target=paged.list_nodes)
            lister.start()
            fan(paged.node_fs_summary)
            lister.join()

        steps = {
            "list_nodes (500/page)": lambda: paged.list_nodes(),
            f"list_nodes ({args.nodes}/page)": lambda: whole.list_nodes(),
            "summaries, fast path": lambda: fan(paged.node_fs_summary),
            "summaries, generated method": lambda: fan(official.node_fs_summary),
            "summaries, bare urllib3 + json": lambda: fan(bare),
            "list_nodes, then summaries": lambda: (paged.list_nodes(), fan(paged.node_fs_summary)),
            "list_nodes and summaries at once": overlapped,
        }
        for step in steps.values():  # warm the sim's caches and the pools
            step()
        for _ in range(args.runs):
            for name, step in steps.items():
                results.setdefault(name, []).append(timed(step))
    for name, times in results.items():
        walls = [w for w, _ in times]
        print(f"{name:34s} median {statistics.median(walls):.3f} s  (client CPU {statistics.median(c for _, c in times):.3f} s)"
              f"   runs {' '.join(f'{w:.3f}' for w in walls)}")


if __name__ == "__main__":
    main()
