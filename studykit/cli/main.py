"""The ``studykit`` root command: version, verbosity (the one place logging is configured), subcommands.

Subcommand modules import click only at module level, so ``studykit --help`` stays fast; torch and
the solver are imported inside the commands that need them.
"""

from __future__ import annotations

import logging

import click

from studykit import __version__

from .demo import demo
from .features import features
from .interpret import interpret
from .analysis import analyze, plan, simulate
from .mturk import mturk
from .solve import solve
from .tasks import preview, tasks

_LEVELS = {0: logging.WARNING, 1: logging.INFO}


@click.group(name="studykit", context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="studykit")
@click.option("-v", "--verbose", count=True, help="More log output: -v for INFO, -vv for DEBUG.")
def main(verbose: int) -> None:
    """Sparse decision layers for deep networks, and human studies of them."""
    logging.basicConfig(level=_LEVELS.get(verbose, logging.DEBUG),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


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
