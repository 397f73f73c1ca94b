"""The `coroner` command. Logging is configured here and nowhere else.

Each feature keeps its subcommands next to its code (`bot/<feature>/cli.py`); this module only
assembles them, and turns a `CoronerError` into one readable line instead of a traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from bot import __version__
from bot.ports import CoronerError


class CoronerGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CoronerError as exc:
            click.echo(f"coroner: error: {exc}", err=True)
            sys.exit(getattr(exc, "exit_code", 1))


@click.group(cls=CoronerGroup)
@click.version_option(__version__, prog_name="coroner")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Coroner: diagnose an incident's service, post the timeline, draft the postmortem."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

from bot.images.cli import image_command  # noqa: E402

main.add_command(image_command)

from bot.engine.cli import diagnose_command, playbooks_group  # noqa: E402

main.add_command(diagnose_command)
main.add_command(playbooks_group)

from bot.sim.cli import sim_command  # noqa: E402 - commands register after the group is defined

main.add_command(sim_command)

from bot.dockerfile.cli import fix_command, lint_command  # noqa: E402  (commands register after the group)

main.add_command(lint_command)
main.add_command(fix_command)
