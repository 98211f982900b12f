"""The CLI's shared vocabulary (docs/cli.md): the error converter, ``--device``, ``--overwrite``,
``STORE``/``--store``, ``-q/--quiet`` and deprecated aliases.

Only click is imported here; torch is imported by :func:`device` when a command runs.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from pathlib import Path
from typing import Iterable

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


# ------------------------------------------------------------------------------------ --device
DEVICE_HELP = "auto (a GPU when torch sees one, else the CPU), cpu, cuda or cuda:N."

#: ``--device``, the same on every command that computes.
device_option = click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda[:N]",
                             help=DEVICE_HELP)


def torch_device(text):
    """The torch.device of a ``--device`` value; a one-line error for an invalid or unavailable one."""
    from studykit._device import resolve_device

    return resolve_device(text)


# ------------------------------------------------------------------------------------ --overwrite
def overwrite_option(what: str):
    """``--overwrite``: replace existing outputs; without it a command refuses to (:func:`refuse_existing`)."""
    return click.option("--overwrite", is_flag=True, help=f"Replace {what} (without it, existing outputs are refused).")


def refuse_existing(paths: Iterable, overwrite: bool) -> None:
    """Raise ``FileExistsError`` naming the first of ``paths`` that exists, unless ``overwrite``."""
    if overwrite:
        return
    for path in paths:
        if Path(path).exists():
            raise FileExistsError(f"{path} already exists; pass --overwrite to replace it")


# ------------------------------------------------------------------------------------ STORE / --store
#: A feature store given as the command's first argument.
store_argument = click.argument("store_dir", metavar="STORE", type=click.Path(file_okay=False, path_type=Path))


def store_option(help: str):
    """``--store DIR`` (a feature store), with ``--features DIR`` as a hidden, deprecated alias.

    The decorated command receives ``store_dir``.
    """
    def decorate(command):
        @click.option("--store", "store_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                      help=help)
        @click.option("--features", "deprecated_store", type=click.Path(file_okay=False, path_type=Path),
                      default=None, hidden=True)
        @functools.wraps(command)
        def wrapper(*args, store_dir=None, deprecated_store=None, **kwargs):
            store_dir = deprecated_alias("--features", "--store", deprecated_store, store_dir)
            return command(*args, store_dir=store_dir, **kwargs)
        return wrapper
    return decorate


def deprecated_alias(old: str, new: str, old_value, new_value):
    """The value of option ``new`` when only its deprecated spelling ``old`` was given (with a warning)."""
    if old_value is None:
        return new_value
    if new_value is not None:
        raise click.UsageError(f"{old} is the deprecated spelling of {new}: give {new} only")
    click.echo(f"warning: {old} DIR is deprecated here (--features now names feature indices); use {new} DIR",
               err=True)
    return old_value


# ------------------------------------------------------------------------------------ -q/--quiet
def _quiet_callback(ctx: click.Context, param, value: bool) -> None:
    if value:
        from studykit._progress import silenced

        ctx.with_resource(silenced())


def quiet_parameter() -> click.Option:
    """``-q/--quiet``: no progress bars or progress lines and no notices; results, warnings and errors stay."""
    return click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, is_eager=True,
                        callback=_quiet_callback,
                        help="No progress bars, progress lines or notices (results, warnings and errors stay).")


def is_quiet() -> bool:
    from studykit._progress import is_silenced

    return is_silenced()


def notice(text: str) -> None:
    """An informational line on stderr, left out under ``-q``."""
    if not is_quiet():
        click.echo(text, err=True)


def add_quiet(command: click.Command) -> None:
    """Give ``command`` and every subcommand under it ``-q/--quiet``."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_quiet(sub)
    elif not any("--quiet" in p.opts for p in command.params):
        command.params.append(quiet_parameter())
