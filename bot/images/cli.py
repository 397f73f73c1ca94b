"""`coroner image REF [--against REF2] [--source docker|registry] [--dockerfile PATH] [--format text|json]
[--timeout SECONDS]`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.deadline import Deadline, DeadlineExceeded
from bot.dockerfile.source import DockerfileInputError, read_dockerfile
from bot.images.autopsy import autopsy
from bot.images.render import render_json, render_text
from bot.images.reference import DOCKER_HUB, parse_reference
from bot.ports import CoronerError, ImageReadError
from bot.readers import image_reader
from bot.settings import load_settings


# Long enough for a multi-gigabyte image over a slow link; a registry that stalls still ends the command.
DEFAULT_TIMEOUT = 300.0


def _on_docker_hub(ref: str) -> bool:
    try:
        return parse_reference(ref).registry == DOCKER_HUB
    except ValueError:
        return False


@click.command("image")
@click.argument("ref")
@click.option("--against", "against", metavar="REF2", help="Compare with this image (the previous revision).")
@click.option("--source", type=click.Choice(["docker", "registry"]), default=None,
              help="Read from the Docker engine or an OCI registry (default: CORONER_IMAGE_SOURCE, registry).")
@click.option("--dockerfile", "dockerfile", type=click.Path(dir_okay=False, path_type=Path),
              help="Map each layer to its instruction and line in this Dockerfile.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--timeout", "timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT,
              show_default=True, metavar="SECONDS",
              help="Give up after this long: a registry that stalls or trickles ends here, with one line.")
@click.option("--docker-contents", type=click.Choice(["auto", "save"]), default="auto", hidden=True,
              help="Engine only: list layers from overlay2 when possible (auto) or always stream docker save.")
def image_command(
    ref: str, against: str | None, source: str | None, dockerfile: Path | None, fmt: str, timeout: float,
    docker_contents: str,
) -> None:
    """Autopsy of an image: what each layer holds, the waste, the culprits, and the fix."""
    settings = load_settings()
    source = source or settings.image_source
    dockerfile_text = None
    if dockerfile is not None:
        try:
            dockerfile_text = read_dockerfile(str(dockerfile))  # capped in size, as for `coroner lint`
        except DockerfileInputError as exc:
            raise CoronerError(str(exc)) from exc  # this command's exit code for a file it cannot read: 1
    try:
        reader = image_reader(settings, source=source, docker_contents=docker_contents)
        report = autopsy(reader, ref, dockerfile_text=dockerfile_text,
                         dockerfile_path=str(dockerfile) if dockerfile else None, against=against, workers=4,
                         deadline=Deadline.after(timeout))
    except DeadlineExceeded as exc:
        raise CoronerError(f"{ref}: no answer within {timeout:g}s (--timeout) while {exc.doing}") from exc
    except ImageReadError as exc:
        if source == "registry" and _on_docker_hub(ref):
            raise ImageReadError(f"{exc} (for an image in the local Docker engine, add --source docker)") from exc
        raise
    if fmt == "json":
        click.echo(json.dumps(render_json(report), indent=2))
    else:
        click.echo(render_text(report), nl=False)
