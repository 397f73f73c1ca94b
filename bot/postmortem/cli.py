"""`coroner postmortem ...`: render a draft from an evidence bundle, and start a template override."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import click

from bot.ports import CoronerError
from bot.postmortem.bundle import BundleError, load_bundle
from bot.postmortem.render import content_hash, render_postmortem
from bot.postmortem.view import build_view
from bot.settings import load_settings


@click.group("postmortem")
def postmortem() -> None:
    """Postmortem drafts."""


@postmortem.command("render")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--templates-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Templates that override the packaged ones (default: CORONER_TEMPLATES_DIR).",
)
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
def render(bundle: Path, templates_dir: Path | None, out: Path | None) -> None:
    """Render the draft for an evidence BUNDLE (JSON). The same bundle always gives the same bytes."""
    try:
        data = json.loads(bundle.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BundleError(f"{bundle}: not JSON: {exc}") from exc
    try:
        view = build_view(**load_bundle(data))
    except BundleError as exc:
        raise BundleError(f"{bundle}: {exc}") from exc
    markdown = render_postmortem(view, templates_dir=templates_dir or load_settings().templates_dir)
    if out is None:
        click.echo(markdown, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown, encoding="utf-8")
    click.echo(f"{out} sha256:{content_hash(markdown)}")


@postmortem.command("templates")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite templates already in DIRECTORY.")
def templates(directory: Path, force: bool) -> None:
    """Copy the packaged templates into DIRECTORY, to edit and point CORONER_TEMPLATES_DIR at."""
    directory.mkdir(parents=True, exist_ok=True)
    packaged = resources.files("bot.postmortem") / "templates"
    for item in sorted(packaged.iterdir(), key=lambda t: t.name):
        if not item.name.endswith(".j2"):
            continue
        target = directory / item.name
        if target.exists() and not force:
            raise CoronerError(f"{target} exists; pass --force to overwrite it")
        target.write_text(item.read_text(encoding="utf-8"), encoding="utf-8")
        click.echo(str(target))
