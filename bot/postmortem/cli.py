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


@postmortem.command("show")
@click.argument("incident")
@click.option("--version", type=int, help="Which version (default: the latest).")
def show(incident: str, version: int | None) -> None:
    """Print a stored draft of INCIDENT (e.g. pd-Q1A2B3C); its version, status and hash go to stderr."""
    from bot.postmortem.review import version_of
    from bot.store import Store

    stored = version_of(Store.from_url(load_settings().database_url), incident_id=incident, version=version)
    click.echo(f"{incident} v{stored.version} {stored.status.value} sha256:{stored.content_hash}", err=True)
    click.echo(stored.body_markdown, nl=False)


@postmortem.command("review")
@click.argument("incident")
@click.argument("status", type=click.Choice(["in_review", "approved", "changes_requested", "draft"]))
@click.option("--version", type=int, help="Which version (default: the latest).")
@click.option("--by", "actor", required=True, help="Who reviews (written to the audit log).")
@click.option("--comment", help="What should change (with changes_requested); shown in the web view.")
def review(incident: str, status: str, version: int | None, actor: str, comment: str | None) -> None:
    """Move INCIDENT's postmortem along draft → in_review → approved, or ask for changes
    (changes_requested, with --comment), or send it back to draft."""
    from bot.postmortem.review import change_status, version_of
    from bot.store import Store
    from bot.store.records import PostmortemStatus

    store = Store.from_url(load_settings().database_url)
    number = version or version_of(store, incident_id=incident).version
    changed = change_status(store, incident_id=incident, version=number, to=PostmortemStatus(status), actor=actor,
                            comment=comment)
    click.echo(f"{incident} v{changed.version}: {changed.status.value}")
