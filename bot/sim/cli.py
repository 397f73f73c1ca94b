"""`coroner sim`: serve a scenario (or a generated cluster) as a Kubernetes API on loopback."""

from __future__ import annotations

import gc
from pathlib import Path

import click

from bot.sim.kubeconfig import DEFAULT_CONTEXT


@click.command("sim")
@click.option("--scenario", "scenario_name", metavar="NAME|FILE",
              help="A shipped scenario (e.g. registry-meltdown) or a scenario YAML file.")
@click.option("--generate-nodes", type=click.IntRange(min=1), metavar="N",
              help="Serve a generated cluster of N nodes instead of a scenario.")
@click.option("--pods-per-node", type=click.IntRange(min=1), default=10, show_default=True,
              help="With --generate-nodes: pods per node.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=0, show_default=True,
              help="Port to listen on; 0 picks a free one.")
@click.option("--write-kubeconfig", "kubeconfig", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a kubeconfig whose current context points at the sim.")
@click.option("--context", default=DEFAULT_CONTEXT, show_default=True, help="Context name in that kubeconfig.")
@click.option("--latency-ms", type=click.IntRange(min=0), default=None,
              help="Delay every answer (overrides the scenario).")
@click.option("--list", "list_only", is_flag=True, help="List the shipped scenarios and exit.")
def sim_command(scenario_name: str | None, generate_nodes: int | None, pods_per_node: int, host: str, port: int,
                kubeconfig: Path | None, context: str, latency_ms: int | None, list_only: bool) -> None:
    """Serve a simulated cluster until Ctrl-C. The official client and kubectl talk to it unchanged."""
    from bot.sim.scenario import load_scenario, shipped_scenarios
    from bot.sim.server import SimServer

    if list_only:
        for name in shipped_scenarios():
            click.echo(name)
        return
    if (scenario_name is None) == (generate_nodes is None):
        raise click.UsageError("give exactly one of --scenario NAME|FILE or --generate-nodes N")
    if generate_nodes is not None:
        from bot.sim.generate import generate_scenario

        scenario = generate_scenario(nodes=generate_nodes, pods_per_node=pods_per_node)
    else:
        scenario = load_scenario(scenario_name)  # type: ignore[arg-type]
    if latency_ms is not None:
        scenario.latency_ms = latency_ms
    # The scenario lives as long as the process: keep the collector from rescanning it on every request.
    gc.collect()
    gc.freeze()
    try:
        server = SimServer(scenario, host=host, port=port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    click.echo(f"coroner sim: serving {scenario.name} ({len(scenario.nodes)} nodes, {len(scenario.pods)} pods) "
               f"at {server.url}")
    if kubeconfig is not None:
        try:
            server.write_kubeconfig(kubeconfig, context=context)
        except OSError as exc:
            server.stop()
            raise click.ClickException(f"cannot write the kubeconfig {kubeconfig}: {exc.strerror}") from exc
        click.echo(f"kubeconfig: {kubeconfig} (context {context})")
        click.echo(f"try: kubectl --kubeconfig {kubeconfig} get nodes")
        if server.registry.registries:
            click.echo(f"images: export {server.mirror_setting()}")
    click.echo("Ctrl-C to stop.", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        click.echo("coroner sim: stopped", err=True)
