"""The one progress helper every long loop goes through.

:func:`progress_bar` takes tqdm's arguments. On a terminal (or in a notebook) it is a tqdm bar; when
stderr is not a terminal (a log file, CI, a pipe) it writes a few log lines instead of hundreds of
carriage-return updates: one when the stage starts, at most one per :data:`LOG_INTERVAL` seconds
while it runs, and one when it ends, on the ``studykit.progress`` logger at INFO level (the CLI
shows them; a library user sees them when logging is configured to). :func:`silenced` turns every bar
and line off for a block (the CLI's ``-q/--quiet``).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import time
from typing import Iterable

logger = logging.getLogger("studykit.progress")

#: Seconds between two log lines of a running stage when stderr is not a terminal.
LOG_INTERVAL = 30.0

_silenced = contextvars.ContextVar("studykit_progress_silenced", default=False)


@contextlib.contextmanager
def silenced():
    """No progress bars or progress log lines inside the block."""
    token = _silenced.set(True)
    try:
        yield
    finally:
        _silenced.reset(token)


def is_silenced() -> bool:
    return _silenced.get()


def stderr_is_terminal() -> bool:
    """Whether a bar would be seen as one: stderr is a terminal, or this is a Jupyter kernel."""
    stream = sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)()) or "ipykernel" in sys.modules


def progress_bar(iterable: Iterable | None = None, *, total: float | None = None, desc: str = "",
                 unit: str = "it", initial: float = 0, disable: bool = False, leave: bool = True):
    """A progress bar over ``iterable`` (or updated by hand with ``update(n)``), as tqdm's.

    Returns a tqdm bar on a terminal, a disabled tqdm bar when ``disable`` or inside :func:`silenced`,
    and otherwise a :class:`LogProgress` that logs the stage's start, its progress every
    :data:`LOG_INTERVAL` seconds, and its end. All three support iteration, ``update``,
    ``set_postfix``, ``close``, ``with`` and a settable ``total``.
    """
    from tqdm.auto import tqdm

    if disable or _silenced.get():
        return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, disable=True)
    if stderr_is_terminal():
        return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, leave=leave)
    return LogProgress(iterable, total=total, desc=desc, unit=unit, initial=initial)


class LogProgress:
    """A progress "bar" that writes log lines: start, every :data:`LOG_INTERVAL` seconds, end."""

    def __init__(self, iterable: Iterable | None = None, *, total: float | None = None, desc: str = "",
                 unit: str = "it", initial: float = 0):
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.iterable, self.total, self.desc, self.unit, self.n = iterable, total, desc or "progress", unit, initial
        self.postfix: dict = {}
        self._start = self._last = time.monotonic()
        self._closed = False
        logger.info("%s: started, %s", self.desc, self._count())

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __len__(self) -> int:
        return int(self.total) if self.total is not None else len(self.iterable)

    def __enter__(self) -> "LogProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last >= LOG_INTERVAL:
            self._last = now
            logger.info("%s: %s, %.0f s%s", self.desc, self._count(), now - self._start, self._postfix())

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
        self.postfix = {**(ordered_dict or {}), **kwargs}

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or self.desc

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            logger.info("%s: done, %s in %.1f s%s", self.desc, self._count(), time.monotonic() - self._start,
                        self._postfix())

    def _count(self) -> str:
        done = f"{self.n:g}"
        if self.total is None:
            return f"{done} {self.unit}"
        share = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        return f"{done}/{self.total:g} {self.unit}{share}"

    def _postfix(self) -> str:
        return "" if not self.postfix else " (" + ", ".join(f"{k}={v}" for k, v in self.postfix.items()) + ")"
