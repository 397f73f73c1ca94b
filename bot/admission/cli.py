"""`coroner certs --out DIR --service NAME --namespace NS`: TLS for the admission webhook without cert-manager."""

from __future__ import annotations

from pathlib import Path

import click

from bot.admission.certs import write_certificates


@click.command("certs")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for ca.crt, tls.crt and tls.key.")
@click.option("--service", required=True, help="The webhook's Service name (coroner-webhook in the manifests).")
@click.option("--namespace", required=True, help="The Service's namespace (coroner in the manifests).")
@click.option("--san", "extra", multiple=True, metavar="NAME",
              help="One more DNS name or IP address for the certificate (repeatable), e.g. for a local test.")
@click.option("--days", default=365, show_default=True, type=int, help="Validity of the CA and the certificate.")
@click.option("--force", is_flag=True, help="Replace certificates already in --out.")
def certs_command(out: Path, service: str, namespace: str, extra: tuple[str, ...], days: int, force: bool) -> None:
    """Write a self-signed CA and a serving certificate for the admission webhook (docs/admission.md)."""
    written = write_certificates(out, service=service, namespace=namespace, extra_names=extra, days=days, force=force)
    click.echo(f"wrote {written.ca}, {written.cert}, {written.key} (valid until {written.not_after:%Y-%m-%d})")
    click.echo(f"names: {', '.join(written.names)}")
    click.echo(f"next: kubectl -n {namespace} create secret tls coroner-webhook-tls --cert={written.cert} --key={written.key}\n"
               f"      and set the webhook's caBundle to: base64 -w0 {written.ca}")
