"""`coroner demo`: replay the registry-meltdown outage through `serve`'s path and print what the on-call
saw in Slack, the timeline, the findings and the culprit layers, and where the postmortem draft is."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.units import human_bytes

if TYPE_CHECKING:
    from bot.demo.gate import DemoGate

# Layers below this share of the image are not the story: the on-call reads the few that are.
CULPRIT_SHARE = 0.2


@click.command("demo")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("coroner-demo"),
              show_default=True, help="Where the SQLite database, kubeconfig and postmortem draft go.")
@click.option("--scenario", "scenario_name", default="registry-meltdown", show_default=True,
              help="A shipped scenario with an incident to replay.")
def demo(workdir: Path, scenario_name: str) -> None:
    """Replay an outage end to end: page, Slack thread, diagnosis, postmortem draft with the Dockerfile fix."""
    from bot.demo.replay import replay
    from bot.demo.slack_double import plain_text
    from bot.images.render import INSTRUCTION_MAX
    from bot.lifecycle.stored import stored_diagnosis
    from bot.postmortem.evidence import ImageSummary
    from bot.printable import clip
    from bot.render.text import render_text
    from bot.settings import load_settings

    started = time.monotonic()
    run = replay(workdir=workdir, base=load_settings(), scenario_name=scenario_name)
    incident = run.incident
    click.echo(f"Incident {incident.external_id} (#{incident.number}): {incident.title}")
    click.echo("")
    threads = run.conversation.threads()
    if not threads:
        click.echo(f"Slack: nothing new posted ({run.duplicates} deliveries were duplicates of the last run)")
    for root, replies in threads:
        click.echo(f"Slack {root.channel} (root message, edited {root.edits} times since it was posted)")
        click.echo("\n".join(f"  │ {line}" for line in plain_text(root)))
        for reply in replies:
            lines = plain_text(reply)
            click.echo(f"  └─ {lines[0]}")
            click.echo("\n".join(f"       {line}" for line in lines[1:12]))
            if len(lines) > 12:
                click.echo(f"       … {len(lines) - 12} more lines")
    click.echo("")
    d = run.diagnosis
    if d is not None:
        # The same text `coroner diagnose` prints, from the stored run and the incident's merged timeline.
        click.echo(render_text(stored_diagnosis(d, service=incident.service or "?", timeline=run.timeline)))
        if d.image is not None:
            image = ImageSummary.from_json(d.image)
            click.echo(f"Culprit layers of {image.ref} ({human_bytes(image.size_bytes)})")
            for layer in sorted(image.layers, key=lambda la: -la.size_bytes):
                if layer.size_bytes < CULPRIT_SHARE * image.size_bytes:
                    break
                inside = ", ".join(f"{p.path} {human_bytes(p.size_bytes)}" for p in layer.top_paths[:3])
                click.echo(f"  layer {layer.index}: {clip(layer.instruction, INSTRUCTION_MAX, marker='')}  {human_bytes(layer.size_bytes)}"
                           + (f"  ({inside})" if inside else ""))
            click.echo("")
    if run.gate is not None:
        _echo_gate(run.gate)
    state = "new draft" if run.postmortem_is_new else "unchanged, no new version"
    click.echo(f"Postmortem draft v{run.postmortem_version} ({state}): {run.postmortem_path}")
    click.echo(f"Stored in {workdir / 'coroner.db'}; finished in {time.monotonic() - started:.1f} s")
    click.echo(f"Review it: CORONER_DATABASE_URL=sqlite:///{workdir / 'coroner.db'} "
               f"coroner postmortem review {incident.id} in_review --by <you>")


def _echo_gate(gate: DemoGate) -> None:
    """How the outage ends when the gate runs first: its decision on the culprit revision."""
    from bot.gate.render import render_text

    at = gate.at.strftime("%Y-%m-%d %H:%M:%S")
    click.echo(f"The gate on revision {gate.revision}, as if it had run at {at} "
               f"(coroner gate IMAGE --deployed {gate.workload}):")
    click.echo("\n".join(f"  {line}" for line in render_text(gate.decision).splitlines()))
    click.echo("")
