"""`coroner demo`: replay the registry-meltdown outage and print what the on-call would see."""

from __future__ import annotations

import time
from pathlib import Path

import click

from bot.units import human_bytes

# Layers below this share of the image are not the story: the on-call reads the few that are.
CULPRIT_SHARE = 0.2


@click.command("demo")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("coroner-demo"),
              show_default=True, help="Where the SQLite database, kubeconfig and postmortem draft go.")
@click.option("--scenario", "scenario_name", default="registry-meltdown", show_default=True,
              help="A shipped scenario with an incident to replay.")
def demo(workdir: Path, scenario_name: str) -> None:
    """Replay an outage end to end: page, diagnosis, timeline, postmortem draft with the Dockerfile fix."""
    from bot.demo.replay import replay
    from bot.domain import Severity
    from bot.report import text_report
    from bot.settings import load_settings

    settings = load_settings()
    started = time.monotonic()
    run = replay(workdir=workdir, playbooks_dir=settings.playbooks_dir, templates_dir=settings.templates_dir,
                 scenario_name=scenario_name)
    d = run.diagnosis
    title = (f"Incident {run.incident.external_id} (#{run.incident.number}): {run.incident.title}\n"
             f"Service {d.service}: {d.target.kind} {d.target.namespace}/{d.target.name}, "
             f"playbook {d.playbook}, {len(d.findings)} findings in {d.duration_ms} ms")
    # The terminal gets the timeline, one line per finding and the rollback; the evidence behind
    # each line (and the Dockerfile diff) is in the postmortem draft.
    urgent = [f for f in d.findings if f.severity.rank <= Severity.MEDIUM.rank]
    click.echo(text_report(title=title, findings=[], timeline=run.timeline,
                           rollback_candidates=d.rollback_candidates).replace("Findings\n  none\n", ""))
    click.echo(f"Findings ({len(urgent)} shown; {len(d.findings) - len(urgent)} low/info in the draft)")
    for finding in urgent:
        click.echo(f"  {finding.severity.value.upper():<8} {finding.rule}: {' '.join(finding.title.split())}")
    click.echo("")
    if run.image is not None:
        report = run.image
        click.echo(f"Culprit layers of {report.ref} ({human_bytes(report.totals.size_bytes)})")
        for layer in sorted(report.layers, key=lambda layer: -layer.size_bytes):
            if layer.size_bytes < CULPRIT_SHARE * report.totals.size_bytes:
                break
            inside = ", ".join(f"{p.path} {human_bytes(p.bytes)}" for p in layer.top_paths[:3])
            click.echo(f"  layer {layer.index}: {layer.instruction[:70]}  {human_bytes(layer.size_bytes)}"
                       + (f"  ({inside})" if inside else ""))
        if d.recommended is not None and d.recommended.size_bytes:
            click.echo(f"  previous revision {d.recommended.revision}: {d.recommended.image} "
                       f"({human_bytes(d.recommended.size_bytes)})")
        click.echo("")
    state = "new draft" if run.postmortem_is_new else "unchanged, no new version"
    click.echo(f"Postmortem draft v{run.postmortem_version} ({state}): {run.postmortem_path}")
    click.echo(f"Stored in {workdir / 'coroner.db'}; finished in {time.monotonic() - started:.1f} s")
    click.echo(f"Review it: CORONER_DATABASE_URL=sqlite:///{workdir / 'coroner.db'} "
               f"coroner postmortem review {run.incident.id} in_review --by <you>")
