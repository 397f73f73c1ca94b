"""`coroner image --timeout`: a registry that stalls, trickles a layer or drips its headers ends the command
at the deadline with one line saying what it was waiting for, and exit status 1."""

from __future__ import annotations

import contextlib
import io
import socket
import tarfile
import threading
import time
from collections.abc import Iterator

from click.testing import CliRunner

from bot.cli import main
from tests.doubles.images import RegistryDouble, sha


def image(ref: str, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["image", ref, "--timeout", "1", *extra])
    return result.exit_code, result.output


def test_a_registry_that_never_answers_is_one_line_at_the_timeout():
    registry = RegistryDouble()
    registry.stall_manifests = True
    try:
        code, out = image(f"127.0.0.1:{registry.port}/app:1")
    finally:
        registry.close()
    assert code == 1
    assert out == (f"coroner: error: 127.0.0.1:{registry.port}/app:1: no answer within 1s (--timeout) "
                   f"while waiting for registry 127.0.0.1:{registry.port}\n")


def test_a_trickled_layer_is_one_line_at_the_timeout():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("app/data.bin")
        info.size = 2048
        tar.addfile(info, io.BytesIO(b"x" * 2048))
    blob = buffer.getvalue()

    def trickle() -> Iterator[bytes]:
        for index in range(len(blob)):
            time.sleep(0.5)
            yield blob[index:index + 1]

    registry = RegistryDouble()
    registry.add_image("app", "1", [], [{"created_by": "COPY . /app"}], streamed=[(sha(blob), len(blob), trickle)])
    try:
        code, out = image(f"127.0.0.1:{registry.port}/app:1")
    finally:
        registry.close()
    assert code == 1
    assert out == (f"coroner: error: 127.0.0.1:{registry.port}/app:1: no answer within 1s (--timeout) "
                   f"while reading layer 0 ({sha(blob)}) of app from 127.0.0.1:{registry.port}\n")


@contextlib.contextmanager
def dripping_headers() -> Iterator[int]:
    """A server that answers every request with a status line and one endless header, a byte at 0.2 s: each
    read gets a byte, so no socket timeout ever trips."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                if stop.wait(0.2):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return  # the client cut it

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()


def test_a_registry_dripping_its_headers_is_one_line_at_the_timeout():
    with dripping_headers() as port:
        code, out = image(f"127.0.0.1:{port}/app:1")
    assert code == 1
    assert out == (f"coroner: error: 127.0.0.1:{port}/app:1: no answer within 1s (--timeout) "
                   f"while waiting for registry 127.0.0.1:{port}\n")


def test_the_timeout_must_be_positive():
    code, out = image("127.0.0.1:1/app:1", "--timeout", "0")
    assert code == 2 and "--timeout" in out
