"""Helpers shared by the CLI commands."""

from __future__ import annotations

import contextlib
import logging

import click

log = logging.getLogger(__name__)


@contextlib.contextmanager
def user_errors(*extra: type[BaseException]):
    """Turn the library's errors about data and options (and the ``extra`` exception types) into a
    one-line CLI error (exit code 1)."""
    try:
        yield
    except (click.ClickException, click.Abort):   # already CLI errors (click.Abort is a RuntimeError)
        raise
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, IndexError, *extra) as exc:
        log.debug("command failed", exc_info=True)
        raise click.ClickException(" ".join(str(exc).split())) from None
