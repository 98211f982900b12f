"""Helpers shared by the CLI commands."""

from __future__ import annotations

import contextlib
import logging

import click

log = logging.getLogger(__name__)


@contextlib.contextmanager
def user_errors():
    """Turn the library's errors about data and options into a one-line CLI error (exit code 1)."""
    try:
        yield
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, IndexError) as exc:
        log.debug("command failed", exc_info=True)
        raise click.ClickException(" ".join(str(exc).split())) from None
