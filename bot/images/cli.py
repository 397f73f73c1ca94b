"""`coroner image REF [--against REF2] [--source docker|registry] [--dockerfile PATH] [--format text|json]`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.images.autopsy import autopsy
from bot.images.render import render_text
from bot.ports import CoronerError, ImageReader


def build_reader(source: str, docker_contents: str = "auto") -> ImageReader:
    if source == "docker":
        from bot.images.docker_reader import DockerImageReader

        return DockerImageReader(contents=docker_contents)
    from bot.images.registry_reader import RegistryImageReader

    return RegistryImageReader()


@click.command("image")
@click.argument("ref")
@click.option("--against", "against", metavar="REF2", help="Compare with this image (the previous revision).")
@click.option("--source", type=click.Choice(["docker", "registry"]), default=None,
              help="Read from the Docker engine or an OCI registry (default: CORONER_IMAGE_SOURCE, registry).")
@click.option("--dockerfile", "dockerfile", type=click.Path(dir_okay=False, path_type=Path),
              help="Map each layer to its instruction and line in this Dockerfile.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--docker-contents", type=click.Choice(["auto", "save"]), default="auto", hidden=True,
              help="Engine only: list layers from overlay2 when possible (auto) or always stream docker save.")
def image_command(
    ref: str, against: str | None, source: str | None, dockerfile: Path | None, fmt: str, docker_contents: str
) -> None:
    """Autopsy of an image: what each layer holds, the waste, the culprits, and the fix."""
    if source is None:
        from bot.settings import load_settings

        source = load_settings().image_source
    dockerfile_text = None
    if dockerfile is not None:
        try:
            dockerfile_text = dockerfile.read_text(encoding="utf-8")
        except OSError as exc:
            raise CoronerError(f"cannot read {dockerfile}: {exc.strerror}") from exc
    report = autopsy(build_reader(source, docker_contents), ref, dockerfile_text=dockerfile_text,
                     dockerfile_path=str(dockerfile) if dockerfile else None, against=against)
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(render_text(report), nl=False)
