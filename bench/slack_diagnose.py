"""Benchmark: 50 concurrent `/diagnose` against a cluster that answers in 1.5 s. Is every one acked in time?

    python bench/slack_diagnose.py [--commands 50] [--repeat 3] [--latency-ms 350] [--baseline-src DIR]
                                   [--no-gc-freeze]

1. The cluster: `coroner sim --scenario registry-meltdown --latency-ms N` in a child process
   (`tests/doubles/sim_process.py`), so every Kubernetes API answer takes N ms. One diagnosis of
   `user-profile-service` makes about four rounds of requests one after the other (resolve, the
   deployment, the checks, the rollout history), so 350 ms per answer gives ≈ 1.5 s per diagnosis;
   the app's process times one before the bursts and reports it (`one_diagnosis_s`).
2. The app: the real `create_slack_app` behind `slack_routes` under uvicorn, in its own child process
   (so the client does not share a GIL with it), diagnosing the sim through the official kubernetes
   client. Its Web API calls go to the Slack double of the tests (`tests/doubles/slack_web.py`),
   served by this process. After start-up it calls `gc.freeze()` (`--no-gc-freeze` to leave it out).
3. A burst: `--commands` really signed slash commands, sent at once from as many threads over
   connections opened beforehand (a barrier releases them together). Each ack's time is from the
   request's `sendall` to the last byte of its answer; the client does nothing else in between, so its
   own Python work does not count. An ack that is not a 200, or that takes 3 s or more, is what Slack
   shows as a failure. The burst then waits until every diagnosis has answered (`all answered after`).
4. The floor, before each burst: the same number of requests at once to a route of the same server
   that answers an ack-sized JSON on the event loop. It is what uvicorn and Starlette alone cost at
   that moment on this machine; no ack can beat it.
5. With `--baseline-src DIR` (e.g. `git archive main bot | tar -x -C DIR`), the same bursts also run
   against that source tree first: before/after in one run, on the same machine and load.

Prints one JSON line per burst, a summary per source tree (medians of the bursts) and a Markdown table
for docs/benchmarks-slack.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
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
# The floor: a route in the same server that reads the body and answers an ack-sized JSON at once, on
# the event loop. What uvicorn and Starlette alone cost for the same burst on the same machine.
FLOOR_PATH = "/floor"


# --- the app's process --------------------------------------------------------------------------------

def serve(kubeconfig: Path, slack_api_url: str, concurrency: int, gc_freeze: bool) -> None:
    """Server mode: build the Slack app on the sim, serve it, print its URL, run until stdin closes."""
    from bot.cluster.kubernetes_reader import KubernetesClusterReader
    from bot.engine.diagnose import diagnose as engine_diagnose
    from bot.engine.playbook import load_playbooks, select_playbook
    from bot.server import serving
    from bot.settings import packaged_dir
    from bot.slack.app import create_slack_app
    from bot.slack.asgi import slack_routes
    from slack_sdk import WebClient
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
    from tests.doubles.slack_web import BOT_TOKEN, SIGNING_SECRET

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

    async def floor(request: Request) -> Response:
        await request.body()
        return JSONResponse({"text": f"Diagnosing `{SERVICE}`…", "response_type": "ephemeral"})

    routes = [*slack_routes(app), Route(FLOOR_PATH, floor, methods=["POST"])]
    if gc_freeze:
        # What `coroner serve` should do once the app is built (see docs/benchmarks-slack.md): the objects
        # made at start-up go to the permanent generation, so no full collection rescans them mid-burst.
        gc.collect()
        gc.freeze()
    with serving(Starlette(routes=routes), lifespan="off") as url:
        print(json.dumps({"url": url, "one_diagnosis_s": round(one_diagnosis_s, 2)}), flush=True)
        sys.stdin.read()


# --- the client --------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def raw_request(host: str, port: int, path: str, body: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body.encode())}",
             "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def read_response(conn: socket.socket) -> tuple[int, str]:
    """Status and body of one HTTP/1.1 response (the server closes the connection after it)."""
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), None)
            if length is not None and len(rest) >= length:
                break
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2].decode(errors="replace")


def answers(double: Any) -> int:
    """Final answers so far: posted to response_url, or a progress message replaced by the diagnosis."""
    with double.lock:
        return sum(1 for r in double.requests
                   if (r.path.startswith("/webhook/") or r.path == "/api/chat.update")
                   and str(r.body.get("text", "")).startswith("Diagnosis of"))


def fire(url: str, path: str, bodies: list[tuple[str, dict[str, str]]]) -> list[tuple[float, int]]:
    """Send every request at once, one thread and one connection each; (seconds, status) per request.
    Connected and signed before a barrier releases them, then one sendall and the reads: the client's
    own work (and its share of this process's GIL) stays out of what is measured, as Slack's would."""
    host, port = url.removeprefix("http://").split(":")
    gate = threading.Barrier(len(bodies))
    results: list[tuple[float, int]] = []
    lock = threading.Lock()

    def one(body: str, headers: dict[str, str]) -> None:
        request = raw_request(host, int(port), path, body, headers)
        with socket.create_connection((host, int(port)), timeout=30) as conn:
            gate.wait()
            started = time.perf_counter()
            conn.sendall(request)
            status, _ = read_response(conn)
            elapsed = time.perf_counter() - started
        with lock:
            results.append((elapsed, status))

    threads = [threading.Thread(target=one, args=pair) for pair in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def measure(src: Path, kubeconfig: Path, *, commands: int, concurrency: int, repeat: int,
            gc_freeze: bool) -> dict[str, Any]:
    from tests.doubles.slack_web import running_slack_web, sign, slash_command_body

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(ROOT)])}
    with running_slack_web() as double:
        server = subprocess.Popen(  # this script, with fixed arguments
            [sys.executable, __file__, "--serve", "--kubeconfig", str(kubeconfig), "--slack-api", double.api_url,
             "--concurrency", str(concurrency), *(["--gc-freeze"] if gc_freeze else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT,
        )
        assert server.stdin is not None and server.stdout is not None
        try:
            ready = json.loads(server.stdout.readline())
            url = ready["url"]

            def wait_for_answers(count: int) -> None:
                deadline = time.monotonic() + 180
                while answers(double) < count and time.monotonic() < deadline:
                    time.sleep(0.05)

            warm = slash_command_body(SERVICE, response_url=double.webhook("warm-up"))
            fire(url, "/slack/events", [(warm, sign(warm))])
            wait_for_answers(1)
            reps = []
            for rep in range(repeat):
                floor = fire(url, FLOOR_PATH, [("text=x" * 100, {"Content-Type": "application/x-www-form-urlencoded"})
                                               for _ in range(commands)])
                before = answers(double)
                bodies = [slash_command_body(SERVICE, response_url=double.webhook(f"{rep}-{i}")) for i in range(commands)]
                burst_started = time.monotonic()
                acks = fire(url, "/slack/events", [(body, sign(body)) for body in bodies])
                wait_for_answers(before + commands)
                seconds = [elapsed for elapsed, _ in acks]
                reps.append({
                    "ack_p50_ms": ms(percentile(seconds, 0.50)), "ack_p99_ms": ms(percentile(seconds, 0.99)),
                    "ack_max_ms": ms(max(seconds)),
                    "floor_p50_ms": ms(percentile([e for e, _ in floor], 0.50)),
                    "floor_p99_ms": ms(percentile([e for e, _ in floor], 0.99)),
                    "non_200": sum(1 for _, status in acks if status != 200),
                    "statuses": sorted({status for _, status in acks}),
                    "over_3s": sum(1 for e in seconds if e >= SLACK_TIMEOUT_S),
                    "answered": answers(double) - before,
                    "all_answered_s": round(time.monotonic() - burst_started, 1),
                })
                print(json.dumps({"source": str(src), "repetition": rep, **reps[-1]}), flush=True)
        finally:
            server.stdin.close()
            server.wait(timeout=30)

    def median(key: str) -> float:
        return statistics.median(r[key] for r in reps)

    return {
        "source": str(src), "commands": commands, "repetitions": repeat, "one_diagnosis_s": ready["one_diagnosis_s"],
        **{key: median(key) for key in ("ack_p50_ms", "ack_p99_ms", "ack_max_ms", "floor_p50_ms", "floor_p99_ms",
                                        "all_answered_s")},
        "non_200": sum(r["non_200"] for r in reps), "over_3s": sum(r["over_3s"] for r in reps),
        "answered": sum(r["answered"] for r in reps),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="bursts per source tree (medians are reported)")
    parser.add_argument("--latency-ms", type=int, default=350, help="every Kubernetes API answer's delay")
    parser.add_argument("--concurrency", type=int, default=4, help="CORONER_DIAGNOSE_CONCURRENCY of the app")
    parser.add_argument("--baseline-src", type=Path, help="an older source tree to measure first")
    parser.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false",
                        help="serve without gc.freeze() after start-up (as `coroner serve` does today)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--gc-freeze", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--kubeconfig", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--slack-api", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.kubeconfig, args.slack_api, args.concurrency, args.gc_freeze)
        return

    # This tree first, for the client and the sim (the installed `coroner` may point at another checkout).
    sys.path.insert(0, str(ROOT))
    os.environ["PYTHONPATH"] = str(ROOT)
    from tests.doubles.sim_process import sim_process

    sources = ([args.baseline_src.resolve()] if args.baseline_src else []) + [ROOT]
    load = os.getloadavg()
    summaries = []
    with tempfile.TemporaryDirectory() as tmp, \
            sim_process(Path(tmp) / "kubeconfig", scenario="registry-meltdown", latency_ms=args.latency_ms) as sim:
        for src in sources:
            summary = measure(src, sim.kubeconfig, commands=args.commands, concurrency=args.concurrency,
                              repeat=args.repeat, gc_freeze=args.gc_freeze)
            print(json.dumps(summary), flush=True)
            summaries.append(summary)
    names = ["before", "after"] if args.baseline_src else ["this tree"]
    print(f"\nload average at start {load[0]:.1f}, at end {os.getloadavg()[0]:.1f}; {args.commands} commands, "
          f"sim latency {args.latency_ms} ms per answer; medians of {args.repeat} bursts; "
          f"gc.freeze() {'on' if args.gc_freeze else 'off'}\n")
    print("| source | one diagnosis | ack p50 | ack p99 | ack max | floor p50 / p99 | non-200 | ≥ 3 s | "
          "all answered after |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, s in zip(names, summaries, strict=True):
        print(f"| {name} | {s['one_diagnosis_s']} s | {s['ack_p50_ms']} ms | {s['ack_p99_ms']} ms | "
              f"{s['ack_max_ms']} ms | {s['floor_p50_ms']} / {s['floor_p99_ms']} ms | {s['non_200']} | "
              f"{s['over_3s']} | {s['all_answered_s']} s ({s['answered']}/{s['commands'] * s['repetitions']}) |")


if __name__ == "__main__":
    main()
