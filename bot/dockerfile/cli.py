"""`coroner lint` and `coroner fix`.

Only click is imported at module level: `coroner lint` runs once per CI job, so start-up time matters, and
the rest of the bot's dependencies are not needed here.

Exit codes, as CI expects: 0 nothing reaches `--fail-on`; 1 something does; 2 usage or parse error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from bot.images.autopsy import ImageReport

_FAIL_ON = ("error", "warning", "info", "none")


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--context", "context_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Build context: measure what `docker build` sends, with and without .dockerignore.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
@click.option("--fail-on", type=click.Choice(_FAIL_ON), default=None,
              help="Lowest level that fails the run (default: warning).")
@click.option("--failure-threshold", type=click.Choice(_FAIL_ON), default=None, hidden=True,
              help="hadolint's name for --fail-on.")
@click.option("--ignore", "ignores", multiple=True, metavar="ID",
              help="Rule id or hadolint code to skip (repeatable, or comma-separated).")
@click.option("--no-color", is_flag=True, help="Plain text even on a terminal.")
def lint_command(
    paths: tuple[str, ...],
    context_dir: Path | None,
    fmt: str,
    fail_on: str | None,
    failure_threshold: str | None,
    ignores: tuple[str, ...],
    no_color: bool,
) -> None:
    """Lint Dockerfiles (default: ./Dockerfile). Honours `# coroner: ignore=ID` and `# hadolint ignore=DLxxxx`."""
    from bot.dockerfile.catalog import FAIL_ON
    from bot.dockerfile.parser import parse
    from bot.ports import CoronerError
    from bot.dockerfile.report import to_json, to_sarif, to_text
    from bot.dockerfile.rules import lint, lint_with_audit
    from bot.dockerfile.source import read_dockerfile, to_bytes
    from bot.printable import printable

    threshold = fail_on or failure_threshold or "warning"
    ignore_ids = tuple(i.strip() for chunk in ignores for i in chunk.split(",") if i.strip())
    findings = []
    audits = []
    parse_failed = False
    for path in paths or ("Dockerfile",):
        shown = "Dockerfile" if path == "-" else path
        try:
            dockerfile = parse(read_dockerfile(path), path=shown)
            if context_dir is not None:
                found, audit = lint_with_audit(dockerfile, context=context_dir, ignore=ignore_ids)
                audits.append(audit)
            else:
                # Without --context, the Dockerfile's directory stands in for it, but only for the cheap
                # .dockerignore existence check: measuring is opt-in.
                default_context = Path(path).parent if path != "-" else None
                found = lint(dockerfile, context=default_context, measure_context=False, ignore=ignore_ids)
        except CoronerError as exc:  # unreadable, too big, a parse error or a bad .dockerignore: name it, lint the rest
            click.echo(f"coroner: error: {printable(str(exc), escape_backslash=False)}", err=True)
            parse_failed = True
            continue
        findings.extend(found)
    if fmt == "json":
        click.echo(to_json(findings))
    elif fmt == "sarif":
        click.echo(to_sarif(findings))
    else:
        out = to_text(findings, audits=audits, color=not no_color and sys.stdout.isatty())
        if out:
            click.echo(to_bytes(out), nl=False)  # the file's own bytes, even those that are not UTF-8
    if parse_failed:
        sys.exit(2)
    failing = FAIL_ON[threshold]
    sys.exit(1 if any(f.severity in failing for f in findings) else 0)


@click.command("fix")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--context", "context_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Build context (default: the Dockerfile's directory); also measured when given.")
@click.option("--image", "image_ref", metavar="REF",
              help="The image this Dockerfile built: its layers estimate the fixed image's size, and what its "
                   "`COPY .` layer holds goes into the .dockerignore.")
@click.option("--against", "against", metavar="REF2", help="With --image: the healthy image to compare the estimate with.")
@click.option("--source", type=click.Choice(["docker", "registry"]), default=None,
              help="With --image: read from the Docker engine or an OCI registry (default: CORONER_IMAGE_SOURCE).")
@click.option("--write", is_flag=True, help="Apply the fix in place, and write the .dockerignore.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def fix_command(
    path: Path, context_dir: Path | None, image_ref: str | None, against: str | None, source: str | None,
    write: bool, fmt: str,
) -> None:
    """Print the fix of PATH as one patch, .dockerignore included (applies with `patch -p1` and `git apply`)."""
    import json

    from bot.dockerfile.fix import fix, with_size_estimate
    from bot.dockerfile.source import read_dockerfile, to_bytes, write_text
    from bot.redact import redact

    raw = read_dockerfile(str(path))
    context = context_dir if context_dir is not None else path.parent
    report = _image_report(image_ref, raw, str(path), against, source) if image_ref else None
    context_files: dict[str, int] = {}
    if report is not None:
        from bot.dockerfile.estimate import context_files as copied, copy_destination, from_report
        from bot.dockerfile.parser import parse

        context_files = copied(from_report(report), copy_destination(parse(raw, path=str(path))))
    result = fix(raw, path=str(path), context=context, measure_context=context_dir is not None,
                 context_files=context_files)
    if report is not None:
        comparison = report.comparison
        result = with_size_estimate(
            result, from_report(report), total_bytes=report.totals.size_bytes,
            baseline=comparison.against if comparison else None,
            baseline_bytes=comparison.against_size_bytes if comparison else None)
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        if result.patch:
            click.echo(to_bytes(result.patch), nl=False)  # the file's own bytes: the patch applies
        for note in result.notes:
            click.echo(f"note: {redact(note)}", err=True)
        if result.size_estimate is not None:
            click.echo(f"size: {result.size_estimate.describe()}", err=True)
            for removed in result.size_estimate.removed:
                click.echo(f"size:   - {redact(removed.item)}: {_human(removed.size_bytes)} ({removed.rule})", err=True)
    if write:
        if result.changed:
            write_text(path, result.text)
        if result.dockerignore and result.dockerignore_path:
            write_text(Path(result.dockerignore_path), result.dockerignore)


def _human(size: int) -> str:
    from bot.units import human_bytes

    return human_bytes(size)


def _image_report(ref: str, dockerfile_text: str, dockerfile_path: str, against: str | None,
                  source: str | None) -> ImageReport:
    """The autopsy of the image the Dockerfile built, through the same readers as `coroner image`."""
    from bot.images.autopsy import autopsy
    from bot.settings import load_settings
    from bot.readers import image_reader

    settings = load_settings()
    reader = image_reader(settings, source=source or settings.image_source)
    return autopsy(reader, ref, dockerfile_text=dockerfile_text, dockerfile_path=dockerfile_path, against=against,
                   workers=4)
