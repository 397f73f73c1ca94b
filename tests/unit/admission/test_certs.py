"""`coroner certs`: a CA and a serving certificate the API server accepts for the webhook's Service."""

from __future__ import annotations

import stat
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from bot.cli import main


def certs(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["certs", *args])
    return result.exit_code, result.output


def test_the_certificate_names_the_service_and_is_signed_by_the_ca(tmp_path: Path):
    code, output = certs("--out", str(tmp_path), "--service", "coroner-webhook", "--namespace", "coroner",
                         "--san", "127.0.0.1")

    assert code == 0, output
    assert "kubectl -n coroner create secret tls coroner-webhook-tls" in output
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    cert = x509.load_pem_x509_certificate((tmp_path / "tls.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [
        "coroner-webhook", "coroner-webhook.coroner", "coroner-webhook.coroner.svc",
        "coroner-webhook.coroner.svc.cluster.local"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    cert.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert stat.S_IMODE((tmp_path / "tls.key").stat().st_mode) == 0o600
    assert not (tmp_path / "ca.key").exists()  # the CA signs this one certificate and is forgotten


def test_existing_certificates_are_kept_unless_forced(tmp_path: Path):
    args = ("--out", str(tmp_path), "--service", "s", "--namespace", "n")
    assert certs(*args)[0] == 0
    first = (tmp_path / "tls.crt").read_bytes()

    code, output = certs(*args)
    assert code == 1 and output.count("\n") == 1 and "already exist (--force replaces them)" in output
    assert (tmp_path / "tls.crt").read_bytes() == first
    assert certs(*args, "--force")[0] == 0
    assert (tmp_path / "tls.crt").read_bytes() != first


def test_a_bad_name_is_one_line(tmp_path: Path):
    code, output = certs("--out", str(tmp_path), "--service", "s", "--namespace", "n", "--san", "bücher.example")

    assert code == 1
    assert output == "coroner: error: 'bücher.example' is not a DNS name or an IP address\n"
    assert not (tmp_path / "tls.key").exists()


def test_the_key_is_an_ecdsa_key(tmp_path: Path):
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    assert certs("--out", str(tmp_path), "--service", "s", "--namespace", "n")[0] == 0
    key = load_pem_private_key((tmp_path / "tls.key").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
