"""The ``studykit`` root command: version, verbosity (the one place logging is configured), subcommands.

Subcommand modules import click only at module level, so ``studykit --help`` stays fast; torch and
the solver are imported inside the commands that need them.
"""

from __future__ import annotations

import logging

import click

from studykit import __version__

from .common import add_quiet, user_errors
from .demo import demo
from .features import features
from .interpret import interpret
from .analysis import analyze, plan, simulate
from .mturk import mturk
from .solve import solve
from .tasks import preview, tasks

_LEVELS = {0: logging.WARNING, 1: logging.INFO}


class _Root(click.Group):
    """The root group: every subcommand runs inside the one error converter (``common.user_errors``),
    so an error about data or options is a one-line message, never a traceback."""

    def invoke(self, ctx: click.Context):
        with user_errors():
            return super().invoke(ctx)


@click.group(name="studykit", cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="studykit")
@click.option("-v", "--verbose", count=True, help="More log output: -v for INFO, -vv for DEBUG.")
def main(verbose: int) -> None:
    """Sparse decision layers for deep networks, and human studies of them."""
    logging.basicConfig(level=_LEVELS.get(verbose, logging.DEBUG),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    # Progress lines (stderr not a terminal) show at the default verbosity; -q on a command silences them.
    logging.getLogger("studykit.progress").setLevel(logging.INFO)


main.add_command(demo)
main.add_command(features)
main.add_command(solve)
main.add_command(mturk)
main.add_command(analyze)
main.add_command(simulate)
main.add_command(plan)
main.add_command(interpret)
main.add_command(tasks)
main.add_command(preview)

add_quiet(main)
