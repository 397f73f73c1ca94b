"""The sim in a child process, for benchmarks and memory measurements: in-process it would share the
GIL and the garbage collector with the code being measured."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.ports import CoronerError
from bot.sim.kubeconfig import DEFAULT_CONTEXT
from tests.cli_process import CORONER


class SimProcessError(CoronerError):
    """The child sim did not start."""


@dataclass(frozen=True)
class SimProcess:
    url: str
    kubeconfig: Path
    context: str
    pid: int


@contextmanager
def sim_process(kubeconfig: str | Path, *, scenario: str | Path | None = None, generate_nodes: int | None = None,
                pods_per_node: int = 10, context: str = DEFAULT_CONTEXT,
                latency_ms: int | None = None, start_timeout: float = 120.0) -> Iterator[SimProcess]:
    """Run `coroner sim` in a child process until the block ends (then SIGINT, then kill)."""
    if (scenario is None) == (generate_nodes is None):
        raise ValueError("give exactly one of scenario or generate_nodes")
    args = [*CORONER, "sim", "--port", "0",
            "--write-kubeconfig", str(kubeconfig), "--context", context]
    if scenario is not None:
        args += ["--scenario", str(scenario)]
    else:
        args += ["--generate-nodes", str(generate_nodes), "--pods-per-node", str(pods_per_node)]
    if latency_ms is not None:
        args += ["--latency-ms", str(latency_ms)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    # A thread reads stdout: select() on a buffered pipe misses lines already read into the buffer.
    pump = threading.Thread(target=_pump, args=(process, lines), daemon=True, name="coroner-sim-stdout")
    pump.start()
    try:
        banner = _next_line(lines, start_timeout)
        if " at http" not in banner:
            raise SimProcessError(f"coroner sim did not start (exit {process.poll()}): {banner.strip()!r}")
        _next_line(lines, start_timeout)  # the kubeconfig line: the file is written once it is printed
        yield SimProcess(url=banner.rsplit(" at ", 1)[1].strip(), kubeconfig=Path(kubeconfig), context=context,
                         pid=process.pid)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        pump.join(timeout=5)
        if process.stdout is not None and not pump.is_alive():
            process.stdout.close()


def _pump(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)
    lines.put("")  # end of output: the process exited


def _next_line(lines: queue.Queue[str], timeout: float) -> str:
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise SimProcessError(f"coroner sim printed nothing within {timeout:.0f} s") from None
