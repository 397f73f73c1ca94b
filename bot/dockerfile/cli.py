"""`coroner lint` and `coroner fix`.

Only click is imported at module level: `coroner lint` runs once per CI job, so start-up time matters, and
the rest of the bot's dependencies are not needed here.

Exit codes, as CI expects: 0 nothing reaches `--fail-on`; 1 something does; 2 usage or parse error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

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
    from bot.dockerfile.source import printable, read_dockerfile, to_bytes

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
            click.echo(f"coroner: error: {printable(str(exc))}", err=True)
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
@click.option("--write", is_flag=True, help="Apply the fix in place, and write the missing .dockerignore.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def fix_command(path: Path, context_dir: Path | None, write: bool, fmt: str) -> None:
    """Print a unified diff that fixes PATH (applies with `patch -p1`); --write applies it."""
    import json

    from bot.dockerfile.fix import fix
    from bot.dockerfile.source import read_dockerfile, to_bytes, write_text
    from bot.redact import redact

    raw = read_dockerfile(str(path))
    context = context_dir if context_dir is not None else path.parent
    result = fix(raw, path=str(path), context=context, measure_context=context_dir is not None)
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        if result.diff:
            click.echo(to_bytes(result.diff), nl=False)  # the file's own bytes: the diff applies
        if result.dockerignore and result.dockerignore_path:
            verb = "write" if write else "would write"
            click.echo(f"# {verb} {result.dockerignore_path}:", err=True)
            for line in result.dockerignore.splitlines():
                click.echo(f"#   {redact(line)}", err=True)
        for note in result.notes:
            click.echo(f"note: {redact(note)}", err=True)
    if write:
        if result.changed:
            write_text(path, result.text)
        if result.dockerignore and result.dockerignore_path:
            write_text(Path(result.dockerignore_path), result.dockerignore)
