"""PagerDuty intake throughput on PostgreSQL, against the raw HTTP ceiling of the same server.

    python bench/intake.py [--seconds 10] [--clients 16]      # needs Debian's wrk

`serve`'s own app (`wiring.build_app`: signature check, envelope parse, one INSERT per delivery, the
applier running beside it; the job workers off) runs under uvicorn in its own process, as one replica.
wrk drives it with 16 connections (16 concurrent clients), each request a distinct, genuinely signed
`incident.triggered` (pre-signed, since wrk cannot compute HMACs). In the same run, the same server's
`/noop` route, which does nothing, gives the raw HTTP ceiling of this machine and this stack.

Target (issue 10): >= 500 accepted/s per replica, p99 < 50 ms, zero lost (rows stored = accepted).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.incidents.simulate import delivery_headers, incident_event_body

SECRET = "bench-intake-secret"
ADMIN_URL = os.environ.get("CORONER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
WRK_THREADS = 4

# Each wrk thread walks its own slice of the pre-signed deliveries (no duplicates across threads) and
# counts the answers; `done` prints one JSON line.
LUA = r"""
local deliveries = dofile("%(data)s")
local threads = {}
local n = 0
function setup(thread)
  thread:set("tid", n)
  n = n + 1
  table.insert(threads, thread)
end
function init(args)
  i = tid
  accepted, duplicate, other = 0, 0, 0
end
function request()
  local d = deliveries[(i %% #deliveries) + 1]
  i = i + %(threads)d
  return wrk.format("POST", "%(path)s", d.headers, d.body)
end
function response(status, headers, body)
  if status == 202 and body:find("accepted", 1, true) then accepted = accepted + 1
  elseif status == 202 then duplicate = duplicate + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local a, d, o = 0, 0, 0
  for _, t in ipairs(threads) do a = a + t:get("accepted"); d = d + t:get("duplicate"); o = o + t:get("other") end
  io.write(string.format('{"requests": %%d, "accepted": %%d, "duplicate": %%d, "other": %%d, "seconds": %%.2f, ' ..
    '"p50_ms": %%.1f, "p99_ms": %%.1f, "max_ms": %%.1f, "errors": %%d}\n',
    summary.requests, a, d, o, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
"""


def serve(database_url: str, port: int) -> None:
    """The server process: `serve`'s app, plus a route that does nothing, for the ceiling."""
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from bot.settings import Settings
    from bot.wiring import build, build_app

    async def noop(request: Request) -> Response:
        await request.body()
        return Response(b'{"status":"accepted"}', status_code=202, media_type="application/json")

    app = build_app(build(Settings(database_url=database_url, pagerduty_webhook_secrets=[SECRET])))
    app.router.routes.append(Route("/noop", noop, methods=["POST"]))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def write_deliveries(path: Path, count: int) -> None:
    run = uuid.uuid4().hex[:8]
    with path.open("w") as out:
        out.write("return {\n")
        for i in range(count):
            body = incident_event_body("incident.triggered", event_id=f"bench-{run}-{i}", incident_id=f"PB{run}{i}",
                                       title=f"bench incident {i}", service=f"svc-{i % 50}",
                                       occurred_at=datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC))
            headers = delivery_headers(body, secrets=[SECRET], webhook_id=f"wh-{run}-{i}")
            lua_headers = ", ".join(f'["{k}"] = {lua_string(v)}' for k, v in headers.items())
            out.write(f"{{body = {lua_string(body.decode())}, headers = {{{lua_headers}}}}},\n")
        out.write("}\n")


def wrk(base: str, path: str, data: Path, *, seconds: int, clients: int, workdir: Path) -> dict[str, float]:
    script = workdir / f"{path.strip('/').replace('/', '_')}.lua"
    script.write_text(LUA % {"data": data, "threads": WRK_THREADS, "path": path})
    done = subprocess.run(["wrk", f"-t{WRK_THREADS}", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", str(script),
                           base + path], capture_output=True, text=True, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("{"))
    result = json.loads(line)
    result["accepted_per_second"] = round(result["accepted"] / result["seconds"], 1)
    result["requests_per_second"] = round(result["requests"] / result["seconds"], 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--events", type=int, default=30000, help="distinct signed deliveries (more than are sent)")
    parser.add_argument("--port", type=int, default=18931)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/intake.py needs wrk (apt-get install wrk)")

    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"coroner_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    from bot.store import migrate

    migrate.upgrade(url)
    server = subprocess.Popen([sys.executable, __file__, "--serve", url, str(args.port)])
    base = f"http://127.0.0.1:{args.port}"
    workdir = Path(tempfile.mkdtemp(prefix="coroner-bench-"))
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        warmup, data = workdir / "warmup.lua", workdir / "deliveries.lua"
        write_deliveries(warmup, 2000)
        write_deliveries(data, args.events)
        wrk(base, "/pagerduty/webhook", warmup, seconds=2, clients=args.clients, workdir=workdir)
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            before = conn.execute(sa.text("select count(*) from inbound_events")).scalar_one()
        ceiling = wrk(base, "/noop", data, seconds=args.seconds, clients=args.clients, workdir=workdir)
        intake = wrk(base, "/pagerduty/webhook", data, seconds=args.seconds, clients=args.clients, workdir=workdir)
        # wrk stops counting when its time is up; requests still in flight then are stored but not counted,
        # so stored >= accepted. Lost = accepted and not stored.
        with engine.connect() as conn:
            stored = conn.execute(sa.text("select count(*) from inbound_events")).scalar_one() - before
            pending_at_end = conn.execute(sa.text(
                "select count(*) from inbound_events where processed_at is null")).scalar_one()
            started = time.monotonic()
            while (pending := conn.execute(sa.text(
                    "select count(*) from inbound_events where processed_at is null")).scalar_one()) and \
                    time.monotonic() < started + 600:
                time.sleep(0.5)
            catch_up = time.monotonic() - started
        engine.dispose()
        report = {
            "ceiling": ceiling, "intake": intake, "stored": stored, "lost": max(0, intake["accepted"] - stored),
            "pending_when_the_storm_ended": pending_at_end, "pending_after_catch_up": pending,
            "applier_catch_up_seconds": round(catch_up, 1),
            "ratio_of_ceiling": round(intake["accepted_per_second"] / ceiling["requests_per_second"], 2),
            "target_met": intake["accepted_per_second"] >= 500 and intake["p99_ms"] < 50
            and stored >= intake["accepted"] and intake["other"] == 0,
        }
        print(json.dumps(report, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
