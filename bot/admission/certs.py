"""A self-signed CA and the webhook's serving certificate, for clusters without cert-manager.

The API server calls the webhook at `https://<service>.<namespace>.svc:443`, and checks the certificate
against the `caBundle` of the ValidatingWebhookConfiguration, so the serving certificate names the
service in every form a client may use. Made with `cryptography`: nothing is shelled out to openssl.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bot.ports import CoronerError

CA_FILE = "ca.crt"
CERT_FILE = "tls.crt"  # the key names of a kubernetes.io/tls Secret
KEY_FILE = "tls.key"


class CertificateError(CoronerError):
    """The certificates cannot be written (the directory, an existing file, a bad name)."""


@dataclass(frozen=True)
class WrittenCertificates:
    ca: Path
    cert: Path
    key: Path
    names: tuple[str, ...]
    not_after: datetime.datetime


def service_names(service: str, namespace: str) -> tuple[str, ...]:
    """The DNS names the API server and in-cluster clients reach a Service by."""
    return (service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local")


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        pass
    try:
        return x509.DNSName(name)
    except ValueError as exc:  # cryptography refuses non-ASCII names
        raise CertificateError(f"{name!r} is not a DNS name or an IP address") from exc


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePublicKey,
             now: datetime.datetime, days: int) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate a little clock skew
            .not_valid_after(now + datetime.timedelta(days=days)))


def write_certificates(out: Path, *, service: str, namespace: str, extra_names: Sequence[str] = (),
                       days: int = 365, force: bool = False) -> WrittenCertificates:
    """Write `ca.crt`, `tls.crt` and `tls.key` (mode 0600) to `out`. The CA's key is not kept: the CA
    signs this one certificate, and a new run makes a new CA (re-apply its caBundle then)."""
    if days < 1:
        raise CertificateError("--days must be at least 1")
    names = tuple(dict.fromkeys([*service_names(service, namespace), *extra_names]))
    sans = [_general_name(name) for name in names]
    paths = (out / CA_FILE, out / CERT_FILE, out / KEY_FILE)
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise CertificateError(f"{', '.join(existing)} already exist (--force replaces them)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CertificateError(f"cannot create {out}: {exc.strerror}") from exc

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"coroner webhook CA ({namespace}/{service})")])
    ca = (_builder(ca_name, ca_name, ca_key.public_key(), now, days)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[2])])
    cert = (_builder(subject, ca_name, key.public_key(), now, days)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))

    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    try:
        paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        # Created 0600 from the start: the key is never readable by others, not even for a moment.
        fd = os.open(paths[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key_pem)
        os.chmod(paths[2], 0o600)
    except OSError as exc:
        raise CertificateError(f"cannot write to {out}: {exc.strerror}") from exc
    return WrittenCertificates(ca=paths[0], cert=paths[1], key=paths[2], names=names,
                               not_after=cert.not_valid_after_utc)
