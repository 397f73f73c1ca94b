"""Benchmark: 50 concurrent `/diagnose` against a cluster that answers in 1.5 s. Is every one acked in time?

    python bench/slack_diagnose.py [--commands 50] [--latency-ms 350] [--baseline-src DIR]

1. The cluster: `coroner sim --scenario registry-meltdown --latency-ms N` in a child process
   (`bot.sim.process`), so every Kubernetes API answer takes N ms. One diagnosis of
   `user-profile-service` makes about four rounds of requests one after the other (resolve, the
   deployment, the checks, the rollout history), so 350 ms per answer gives ≈ 1.5 s per diagnosis;
   the app's process measures one before the burst and reports it (`one_diagnosis_s`).
2. The app: the real `create_slack_app` + `slack_asgi_app` under uvicorn, in its own child process (so
   the client does not share a GIL with it), reading the sim through the official kubernetes client.
   Its Web API calls go to the Slack double of the tests (`tests/integration/slack/conftest.py`),
   served by this process.
3. The burst: `--commands` really signed slash commands, sent at once from as many threads
   (a barrier releases them together). Each ack's time is from just before the request to its answer.
   An ack that is not a 200, or that takes 3 s or more, is what Slack shows as a failure.
4. With `--baseline-src DIR` (e.g. `git archive main bot | tar -x -C DIR`), the same burst also runs
   against that source tree first: before/after in one run, on the same machine and load.

Prints a JSON summary per source tree and a Markdown table for docs/benchmarks-slack.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SLACK_TIMEOUT_S = 3.0
SERVICE = "user-profile-service"


# --- the app's process --------------------------------------------------------------------------------

def serve(kubeconfig: Path, slack_api_url: str, concurrency: int) -> None:
    """Server mode: build the Slack app on the sim, serve it, print its URL, run until stdin closes."""
    from bot.cluster.kubernetes_reader import KubernetesClusterReader
    from bot.engine.diagnose import diagnose as engine_diagnose
    from bot.engine.playbook import load_playbooks, select_playbook
    from bot.server import serving
    from bot.settings import packaged_dir
    from bot.slack.app import create_slack_app
    from bot.slack.asgi import slack_asgi_app
    from slack_sdk import WebClient
    from tests.integration.slack.conftest import BOT_TOKEN, SIGNING_SECRET

    reader = KubernetesClusterReader.connect(kubeconfig, None)
    playbook = select_playbook(dict(load_playbooks(packaged_dir("playbooks"))), trigger="diagnose")
    started = time.monotonic()
    engine_diagnose(SERVICE, cluster=reader, playbook=playbook)
    one_diagnosis_s = time.monotonic() - started
    client = WebClient(token=BOT_TOKEN, base_url=slack_api_url)
    try:
        from bot.slack.diagnose_command import ServiceRef, SlashRun
    except ImportError:  # the baseline: `diagnose(service: str)`, answered through response_url
        app = create_slack_app(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, client=client,
                               diagnose=lambda service: engine_diagnose(service, cluster=reader, playbook=playbook))
    else:
        runs: list[SlashRun] = []

        def diagnose(service: ServiceRef, on_check_done: Any) -> Any:
            return engine_diagnose(service.name, namespace=service.namespace, cluster=reader, playbook=playbook,
                                   on_check_done=on_check_done)

        app = create_slack_app(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, client=client,
                               diagnose=diagnose, record_run=runs.append, incident_thread_for=lambda service: None,
                               diagnose_concurrency=concurrency)
    with serving(slack_asgi_app(app), lifespan="off") as url:
        print(json.dumps({"url": url, "one_diagnosis_s": round(one_diagnosis_s, 2)}), flush=True)
        sys.stdin.read()


# --- the client --------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def answers(double: Any) -> int:
    """Final answers so far: posted to response_url, or a progress message replaced by the diagnosis."""
    with double.lock:
        return sum(1 for r in double.requests
                   if (r.path.startswith("/webhook/") or r.path == "/api/chat.update")
                   and str(r.body.get("text", "")).startswith("Diagnosis of"))


def burst(src: Path, kubeconfig: Path, commands: int, concurrency: int) -> dict[str, Any]:
    import httpx

    from tests.integration.slack.conftest import serve_slack_double, sign, slash_command_body

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(ROOT)])}
    with serve_slack_double() as double:
        server = subprocess.Popen(  # noqa: S603 - this script, with fixed arguments
            [sys.executable, __file__, "--serve", "--kubeconfig", str(kubeconfig), "--slack-api", double.api_url,
             "--concurrency", str(concurrency)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT,
        )
        assert server.stdin is not None and server.stdout is not None
        try:
            ready = json.loads(server.stdout.readline())
            with httpx.Client(base_url=ready["url"], timeout=30) as warm:
                body = slash_command_body(SERVICE, response_url=double.webhook("warm-up"))
                warm.post("/slack/events", content=body, headers=sign(body)).raise_for_status()
            deadline = time.monotonic() + 60
            while answers(double) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            before = answers(double)

            gate = threading.Barrier(commands)
            results: list[tuple[float, int, str]] = []
            lock = threading.Lock()

            def one(i: int) -> None:
                body = slash_command_body(SERVICE, response_url=double.webhook(f"run-{i}"))
                with httpx.Client(base_url=ready["url"], timeout=30) as client:
                    headers = sign(body)
                    gate.wait()
                    started = time.perf_counter()
                    response = client.post("/slack/events", content=body, headers=headers)
                    elapsed = time.perf_counter() - started
                with lock:
                    results.append((elapsed, response.status_code, response.text[:80]))

            burst_started = time.monotonic()
            threads = [threading.Thread(target=one, args=(i,)) for i in range(commands)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            deadline = time.monotonic() + 120
            while answers(double) < before + commands and time.monotonic() < deadline:
                time.sleep(0.05)
            all_answered_s = time.monotonic() - burst_started
            answered = answers(double) - before
        finally:
            server.stdin.close()
            server.wait(timeout=30)
    acks = [elapsed for elapsed, _, _ in results]
    return {
        "source": str(src),
        "commands": commands,
        "one_diagnosis_s": ready["one_diagnosis_s"],
        "ack_p50_ms": round(percentile(acks, 0.50) * 1000, 1),
        "ack_p99_ms": round(percentile(acks, 0.99) * 1000, 1),
        "ack_max_ms": round(max(acks) * 1000, 1),
        "ack_mean_ms": round(statistics.mean(acks) * 1000, 1),
        "non_200": sum(1 for _, status, _ in results if status != 200),
        "statuses": sorted({status for _, status, _ in results}),
        "over_3s": sum(1 for elapsed in acks if elapsed >= SLACK_TIMEOUT_S),
        "answered": answered,
        "all_answered_s": round(all_answered_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, default=350, help="every Kubernetes API answer's delay")
    parser.add_argument("--concurrency", type=int, default=4, help="CORONER_DIAGNOSE_CONCURRENCY of the app")
    parser.add_argument("--baseline-src", type=Path, help="an older source tree to measure first")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--kubeconfig", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--slack-api", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.kubeconfig, args.slack_api, args.concurrency)
        return

    # This tree first, for the client and the sim (the installed `coroner` may point at another checkout).
    sys.path.insert(0, str(ROOT))
    os.environ["PYTHONPATH"] = str(ROOT)
    from bot.sim.process import sim_process

    sources = ([args.baseline_src.resolve()] if args.baseline_src else []) + [ROOT]
    load = os.getloadavg()
    summaries = []
    with tempfile.TemporaryDirectory() as tmp, \
            sim_process(Path(tmp) / "kubeconfig", scenario="registry-meltdown", latency_ms=args.latency_ms) as sim:
        for src in sources:
            summary = burst(src, sim.kubeconfig, args.commands, args.concurrency)
            print(json.dumps(summary), flush=True)
            summaries.append(summary)
    names = ["before", "after"] if args.baseline_src else ["this tree"]
    print(f"\nload average at start {load[0]:.1f}, at end {os.getloadavg()[0]:.1f}; "
          f"{args.commands} commands, sim latency {args.latency_ms} ms per answer\n")
    print("| source | one diagnosis | ack p50 | ack p99 | ack max | non-200 | ≥ 3 s | all answered after |")
    print("|---|---|---|---|---|---|---|---|")
    for name, s in zip(names, summaries, strict=True):
        print(f"| {name} | {s['one_diagnosis_s']} s | {s['ack_p50_ms']} ms | {s['ack_p99_ms']} ms | "
              f"{s['ack_max_ms']} ms | {s['non_200']} | {s['over_3s']} | {s['all_answered_s']} s "
              f"({s['answered']}/{s['commands']}) |")


if __name__ == "__main__":
    main()
