"""Benchmark: how long the admission webhook takes to answer the API server, per kind of review.

    PYTHONPATH=$PWD python bench/admission_latency.py [--repeat 20]

The webhook runs as in tests/integration/admission: `coroner serve`'s app under uvicorn over HTTPS
(certificates from `coroner certs`' code), images in the loopback OCI registry double (real gzip layers),
the cluster in the sim through the official kubernetes client, SQLite. Each figure is the client's round
trip over one kept-alive HTTPS connection, as the API server's is:

- anchor: GET /healthz (TLS, uvicorn and Starlette alone);
- no image change: a scale-up, answered without any read;
- cache hit: an image change judged from the autopsy cache (two manifest reads, two cache rows, the
  namespace's mode, the cluster's node figures, the gate's rules) and denied;
- cold: an image never seen (a 1 MB layer) read, judged and allowed within the deadline;
- fail-open: the new image's layer stalls in the registry; the answer comes at the deadline.

Prints one JSON line per kind and a Markdown table (median, p95, median / anchor) for docs/admission.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.admission.certs import write_certificates
from bot.server import TlsFiles
from tests.doubles.admission_reviews import review, workload
from tests.doubles.images import RegistryDouble, tar_bytes
from tests.integration.admission.harness import (
    BASE,
    MB,
    NAME,
    NAMESPACE,
    Registry,
    Webhook,
    _bytes,
    app_layer,
    grown_layer,
    running_webhook,
)


def measure(repeat: int, once: Callable[[int], float]) -> list[float]:
    return [once(i) for i in range(repeat)]


def summary(kind: str, seconds: list[float], anchor: float | None) -> dict[str, object]:
    ordered = sorted(seconds)
    median = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"kind": kind, "n": len(ordered), "median_ms": round(median * 1000, 1), "p95_ms": round(p95 * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1),
            "ratio_to_anchor": round(median / anchor, 1) if anchor else 1.0}


def run(repeat: int) -> list[dict[str, object]]:
    tmp = Path(tempfile.mkdtemp(prefix="coroner-admission-bench-"))
    double = RegistryDouble()
    registry = Registry(double)
    v1 = registry.add("checkout", "v1", [BASE, app_layer("v1")])
    v2 = registry.add("checkout", "v2", [BASE, grown_layer(10)])
    written = write_certificates(tmp / "certs", service="coroner-webhook", namespace="coroner",
                                 extra_names=["127.0.0.1"])
    results = []
    try:
        with running_webhook(tmp, registry, TlsFiles(written.cert, written.key),
                             database_url=f"sqlite:///{tmp / 'coroner.db'}") as hook:
            hook.client.get("/healthz")  # the TLS handshake, once, as the API server keeps its connection

            def anchor(_: int) -> float:
                started = time.perf_counter()
                hook.client.get("/healthz")
                return time.perf_counter() - started

            anchors = measure(repeat, anchor)
            base = statistics.median(anchors)
            results.append(summary("anchor: GET /healthz", anchors, None))

            scale_up = review(workload(v1, namespace=NAMESPACE, name=NAME, replicas=9),
                              workload(v1, namespace=NAMESPACE, name=NAME))
            results.append(summary("no image change", measure(repeat, lambda _: hook.timed(scale_up)[1]), base))

            hook.warm(v1, v2)
            results.append(summary("cache hit (denied)",
                                   measure(repeat, lambda _: timed_answer(hook, v1, v2, allowed=False)), base))

            def cold(i: int) -> float:
                fresh = registry.add("checkout", f"cold-{i}", [BASE, tar_bytes([("app/", None),
                                                                             ("app/blob", _bytes(1000 + i, MB))])])
                return timed_answer(hook, v1, fresh, allowed=True)

            results.append(summary("cold image (1 MB layer), decided", measure(max(repeat // 4, 3), cold), base))

            def stalled(i: int) -> float:
                slow = registry.add_slow("checkout", f"slow-{i}", grown_layer(2000 + i), stall=3.0)
                answer, seconds = hook.timed(hook.change(v1, slow))
                assert "fail-open" in answer.json()["response"]["warnings"][0], answer.text
                return seconds

            results.append(summary("stalled registry, fail-open", measure(3, stalled), base))
    finally:
        double.close()
    return results


def timed_answer(hook: Webhook, old: str, new: str, *, allowed: bool) -> float:
    answer, seconds = hook.timed(hook.change(old, new))
    got = answer.json()["response"]
    assert got["allowed"] is allowed and not any("fail-open" in w for w in got.get("warnings", [])), answer.text
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=20)
    results = run(parser.parse_args().repeat)
    for row in results:
        print(json.dumps(row))
    print("\n| review | n | median | p95 | max | median / anchor |\n|---|---|---|---|---|---|")
    for row in results:
        print(f"| {row['kind']} | {row['n']} | {row['median_ms']} ms | {row['p95_ms']} ms | {row['max_ms']} ms | "
              f"{row['ratio_to_anchor']}× |")


if __name__ == "__main__":
    main()
