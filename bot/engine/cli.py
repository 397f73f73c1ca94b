"""`coroner diagnose SERVICE` and `coroner playbooks check [DIR]`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.catalog import Catalog, load_catalog
from bot.engine.diagnose import diagnose
from bot.engine.playbook import load_playbooks, select_playbook
from bot.engine.resolve import catalog_context
from bot.readers import cluster_reader, image_reader
from bot.render.markdown import render_markdown
from bot.render.text import render_text


@click.command("diagnose")
@click.argument("service")
@click.option("--namespace", "-n", help="Look for the service in this namespace only.")
@click.option("--context", help="kubeconfig context (default: the catalog's, then CORONER_KUBE_CONTEXT, then current).")
@click.option("--kubeconfig", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="kubeconfig file (default: CORONER_KUBECONFIG, else ~/.kube/config, else in-cluster).")
@click.option("--playbook", "playbook_name", help="Playbook name (default: the one triggered by 'diagnose').")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--catalog", "catalog_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Service catalog YAML (default: CORONER_CATALOG_FILE).")
@click.option("--node-proxy/--no-node-proxy", default=None,
              help="Read node disk usage from the kubelet summary API (default: CORONER_NODE_PROXY_ENABLED).")
@click.option("--images/--no-images", "read_images", default=True, show_default=True,
              help="Run the image autopsy through CORONER_IMAGE_SOURCE (registry by default).")
def diagnose_command(
    service: str,
    namespace: str | None,
    context: str | None,
    kubeconfig: Path | None,
    playbook_name: str | None,
    fmt: str,
    catalog_file: Path | None,
    node_proxy: bool | None,
    read_images: bool,
) -> None:
    """Diagnose SERVICE: nodes, disk, pods, pulls, rollout history, rollback candidates, HPA, image."""
    from bot.settings import load_settings

    settings = load_settings()
    catalog_path = catalog_file or settings.catalog_file
    catalog = load_catalog(catalog_path) if catalog_path else Catalog()
    playbooks = load_playbooks(settings.playbooks_dir)
    playbook = select_playbook(playbooks, name=playbook_name, trigger="diagnose")
    chosen_context = context or catalog_context(catalog, service) or settings.kube_context
    cluster = cluster_reader(settings, kubeconfig=kubeconfig, context=chosen_context)
    images = image_reader(settings) if read_images else None
    result = diagnose(
        service,
        cluster=cluster,
        images=images,
        playbook=playbook,
        catalog=catalog,
        namespace=namespace,
        node_proxy_enabled=settings.node_proxy_enabled if node_proxy is None else node_proxy,
    )
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2, default=str))
    elif fmt == "markdown":
        click.echo(render_markdown(result), nl=False)
    else:
        click.echo(render_text(result), nl=False)


@click.group("playbooks")
def playbooks_group() -> None:
    """Playbooks: which checks run on which trigger."""


@playbooks_group.command("check")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def playbooks_check(directory: Path | None) -> None:
    """Validate every playbook in DIRECTORY (default: CORONER_PLAYBOOKS_DIR) without running it."""
    if directory is None:
        from bot.settings import load_settings

        directory = load_settings().playbooks_dir
    books = load_playbooks(directory)
    for name in sorted(books):
        book = books[name]
        checks = ", ".join(step.check for step in book.steps)
        click.echo(f"ok  {name}  triggers: {', '.join(book.triggers)}  checks: {checks}  ({book.source})")
