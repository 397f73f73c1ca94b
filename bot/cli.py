"""The `coroner` command. Logging is configured here and nowhere else.

Each feature keeps its subcommands next to its code (`bot/<feature>/cli.py`). They are imported only
when invoked, and `coroner --help` lists them from `COMMANDS` without importing any: `coroner lint`
runs once per file from pre-commit and must not pay for SQLAlchemy, the kubernetes client and bolt
(docs/benchmarks-startup.md). A `CoronerError` becomes one readable line instead of a traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, NamedTuple

import click
from click.utils import make_default_short_help

from bot import __version__
from bot.ports import CoronerError


class LazyCommand(NamedTuple):
    """Where a subcommand lives ("module:attribute") and the first sentence of its help, for `--help`.

    tests/unit/test_cli.py holds `summary` to the command's own docstring, so the two cannot drift."""

    target: str
    summary: str


# The order is the order of `coroner --help`.
COMMANDS: dict[str, LazyCommand] = {
    "demo": LazyCommand(
        "bot.demo.cli:demo",
        "Replay an outage end to end: page, Slack thread, diagnosis, postmortem draft with the Dockerfile fix.",
    ),
    "diagnose": LazyCommand(
        "bot.engine.cli:diagnose_command",
        "Diagnose SERVICE: nodes, disk, pods, pulls, rollout history, rollback candidates, HPA, image.",
    ),
    "playbooks": LazyCommand("bot.engine.cli:playbooks_group", "Playbooks: which checks run on which trigger."),
    "image": LazyCommand(
        "bot.images.cli:image_command",
        "Autopsy of an image: what each layer holds, the waste, the culprits, and the fix.",
    ),
    "lint": LazyCommand("bot.dockerfile.cli:lint_command", "Lint Dockerfiles (default: ./Dockerfile)."),
    "fix": LazyCommand(
        "bot.dockerfile.cli:fix_command",
        "Print the fix of PATH as one patch, .dockerignore included (applies with `patch -p1` and `git apply`).",
    ),
    "gate": LazyCommand(
        "bot.gate.cli:gate_command",
        "Fail when IMAGE grew too much, adds a secret, a VCS directory or a toolchain, or would fill the disks "
        "of the nodes that receive it.",
    ),
    "postmortem": LazyCommand("bot.postmortem.cli:postmortem", "Postmortem drafts."),
    "serve": LazyCommand(
        "bot.server:serve",
        "Serve the PagerDuty webhook (POST /pagerduty/webhook), Slack (/slack/events), the admission webhook "
        "(POST /admission/validate), /healthz and /readyz.",
    ),
    "certs": LazyCommand(
        "bot.admission.cli:certs_command",
        "Write a self-signed CA and a serving certificate for the admission webhook (docs/admission.md).",
    ),
    "db": LazyCommand("bot.store.cli:db", "Create, upgrade and check the database schema (Alembic migrations)."),
    "sim": LazyCommand("bot.sim.cli:sim_command", "Serve a simulated cluster until Ctrl-C."),
}

# Commands that read no settings: they run once per file or CI job, and pydantic's import would double
# their start-up time. Their log level comes from -v alone, and without -v logging is not even imported.
SETTINGS_FREE = frozenset({"lint", "fix", "certs"})


def load_command(name: str) -> click.Command | None:
    """The subcommand `name`, importing its module now; None for an unknown name."""
    spec = COMMANDS.get(name)
    if spec is None:
        return None
    module, _, attribute = spec.target.partition(":")
    command = getattr(importlib.import_module(module), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{spec.target} is not a click command")
    return command


class CoronerGroup(click.Group):
    """click's LazyGroup pattern: a subcommand's module is imported only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own version calls get_command for every row, which would import every subcommand.
        # Same layout and truncation as click's (Group.format_commands), from the summaries in COMMANDS.
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, make_default_short_help(spec.summary, limit)) for name, spec in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CoronerError as exc:
            click.echo(f"coroner: error: {exc}", err=True)
            sys.exit(getattr(exc, "exit_code", 1))


@click.group(cls=CoronerGroup)
@click.version_option(__version__, prog_name="coroner")
@click.option("-v", "--verbose", count=True, help="More logging than CORONER_LOG_LEVEL (-v info, -vv debug).")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """Coroner: diagnose an incident's service, post the timeline, draft the postmortem."""
    if ctx.invoked_subcommand in SETTINGS_FREE and not verbose:
        return  # nothing on these paths logs below WARNING, and Python prints a bare WARNING as is
    from bot.logs import configure_logging  # lazy: start-up time

    if ctx.invoked_subcommand in SETTINGS_FREE:
        configure_logging(None, verbose=verbose)
        return
    from bot.settings import load_settings  # lazy: start-up time

    configure_logging(load_settings(), verbose=verbose)


if __name__ == "__main__":  # `python -m bot.cli …`, as documented: without this it ran nothing and exited 0
    main()
