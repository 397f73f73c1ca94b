"""The `coroner` command. Logging is configured here and nowhere else.

Each feature keeps its subcommands next to its code (`bot/<feature>/cli.py`). They are imported only
when invoked: `coroner lint` runs in CI on every commit and must not pay for SQLAlchemy, the
kubernetes client and bolt. A `CoronerError` becomes one readable line instead of a traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from bot import __version__
from bot.logs import configure_logging
from bot.ports import CoronerError

# name -> "module:attribute"; the order is the order of `coroner --help`.
COMMANDS: dict[str, str] = {
    "demo": "bot.demo.cli:demo",
    "diagnose": "bot.engine.cli:diagnose_command",
    "playbooks": "bot.engine.cli:playbooks_group",
    "image": "bot.images.cli:image_command",
    "lint": "bot.dockerfile.cli:lint_command",
    "fix": "bot.dockerfile.cli:fix_command",
    "gate": "bot.gate.cli:gate_command",
    "postmortem": "bot.postmortem.cli:postmortem",
    "serve": "bot.server:serve",
    "db": "bot.store.cli:db",
    "sim": "bot.sim.cli:sim_command",
}

# Commands that read no settings: they run once per CI job, and pydantic's import would double their
# start-up time (docs/benchmarks-dockerfile.md). Their log level comes from -v alone.
SETTINGS_FREE = frozenset({"lint", "fix"})


class CoronerGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

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
    if ctx.invoked_subcommand in SETTINGS_FREE:
        configure_logging(None, verbose=verbose)
        return
    from bot.settings import load_settings

    configure_logging(load_settings(), verbose=verbose)
