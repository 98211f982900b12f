"""Atomic file writers: every file studykit saves goes through a temporary file in the same folder,
``fsync`` and :func:`os.replace`, so a killed run leaves the old file or the new one, never a part.

Standard library only; every studykit subpackage may import it.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

__all__ = ["atomic_path", "write_bytes", "write_text", "write_json", "write_csv", "check_overwrite"]


def check_overwrite(path: str | os.PathLike, overwrite: bool, *, what: str = "file") -> Path:
    """``path`` as a :class:`Path`; raises ``FileExistsError`` when it exists and ``overwrite`` is false.

    The message names the path and says how to replace it (``overwrite=True``, ``--overwrite`` on the CLI).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: {what} exists; pass overwrite=True (--overwrite) to replace it")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside ``path``; on a clean exit it is fsynced and renamed onto ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was. The parent folder
    is created when missing. With ``overwrite=False`` an existing ``path`` raises ``FileExistsError``
    before anything is written. ``suffix`` ends the temporary name (``.gz`` for readers that look at it).
    """
    path = check_overwrite(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, *, overwrite: bool = True, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically, line endings as given (no newline translation)."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        with open(tmp, "w", encoding=encoding, newline="") as handle:
            handle.write(text)
    return Path(path)


def write_json(path: str | os.PathLike, data: Any, *, overwrite: bool = True, indent: int = 2) -> Path:
    """Write ``data`` as JSON (UTF-8, ``indent`` spaces, a final newline) atomically."""
    return write_text(path, json.dumps(data, indent=indent) + "\n", overwrite=overwrite)


def write_csv(path: str | os.PathLike, rows: Iterable[Sequence[Any]], *, header: Sequence[str] | None = None,
              overwrite: bool = True, quoting: int = csv.QUOTE_MINIMAL, lineterminator: str = "\n") -> Path:
    """Write ``header`` (when given) then ``rows`` as CSV (UTF-8) atomically."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, quoting=quoting, lineterminator=lineterminator)
            if header is not None:
                writer.writerow(header)
            writer.writerows(rows)
    return Path(path)
