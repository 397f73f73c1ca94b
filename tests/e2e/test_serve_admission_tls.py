"""The real commands, as an operator runs them without cert-manager: `coroner certs` writes the CA and the
serving certificate, `coroner serve --tls-cert/--tls-key` serves the admission webhook over HTTPS."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.cli_process import CORONER, cli_env
from tests.doubles.admission_reviews import review, workload

pytestmark = pytest.mark.slow  # starts `coroner serve` over TLS as a process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_coroner_serve_answers_admission_reviews_over_https_with_the_certificates_of_coroner_certs(tmp_path: Path):
    certs = tmp_path / "certs"
    made = subprocess.run([*CORONER, "certs", "--out", str(certs), "--service", "coroner-webhook",
                           "--namespace", "coroner", "--san", "127.0.0.1"],
                          env=cli_env(), capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    port = free_port()
    env = cli_env(CORONER_DATABASE_URL=f"sqlite:///{tmp_path / 'coroner.db'}")
    proc = subprocess.Popen([*CORONER, "serve", "--port", str(port), "--no-worker",
                             "--tls-cert", str(certs / "tls.crt"), "--tls-key", str(certs / "tls.key")],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    trusted = ssl.create_default_context(cafile=certs / "ca.crt")
    base = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                if httpx.get(f"{base}/readyz", verify=trusted, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "coroner serve --tls-cert did not come up"
            time.sleep(0.2)
        # A scale-up: no image changes, so the answer needs no registry and no cluster.
        sent = review(workload("registry.example/api:v1", replicas=9), workload("registry.example/api:v1"))
        answer = httpx.post(f"{base}/admission/validate", content=json.dumps(sent), verify=trusted, timeout=10)
        assert answer.json() == {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                 "response": {"uid": sent["request"]["uid"], "allowed": True}}
        malformed = httpx.post(f"{base}/admission/validate", content=b"{", verify=trusted, timeout=10)
        assert malformed.status_code == 400 and "Traceback" not in malformed.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_bad_certificate_stops_serve_with_one_line(tmp_path: Path):
    (tmp_path / "tls.crt").write_text("not a certificate\n")
    (tmp_path / "tls.key").write_text("not a key\n")
    env = cli_env(CORONER_DATABASE_URL=f"sqlite:///{tmp_path / 'coroner.db'}")
    for args, expected in [
        (["--tls-cert", str(tmp_path / "tls.crt")], "coroner: error: --tls-cert and --tls-key go together\n"),
        (["--tls-cert", str(tmp_path / "missing.crt"), "--tls-key", str(tmp_path / "tls.key")],
         f"coroner: error: {tmp_path / 'missing.crt'}: no such file\n"),
    ]:
        result = subprocess.run([*CORONER, "serve", "--no-upgrade", "--no-worker", "--port", "0", *args],
                                env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and result.stderr == expected, result.stderr
    result = subprocess.run([*CORONER, "serve", "--no-upgrade", "--no-worker", "--port", "0",
                             "--tls-cert", str(tmp_path / "tls.crt"), "--tls-key", str(tmp_path / "tls.key")],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith(f"coroner: error: {tmp_path / 'tls.crt'} / {tmp_path / 'tls.key'}: not a PEM "
                                    "certificate and its private key")
    assert result.stderr.count("\n") == 1
