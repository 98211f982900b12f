"""The batch folder (``docs/batch-folder.md``): its file names and the one reader of its contract files.

``manifest.json`` (a JSON object: study, batch id, ``answers`` mapping, ``hit`` settings, ``n_hits``),
``tasks.csv`` (what each page showed, one row per HIT, ``task_id`` first) and ``answer_key.csv`` (the
hidden key). ``studykit.tasks`` writes them, ``studykit.mturk``, ``studykit.preview`` and
``studykit.analysis`` read them with :func:`read_batch` (or its parts :func:`read_manifest` and
:func:`read_table`). Every cell is read as text.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from studykit import _io

from .hit import HITSettings
from .studies import StudySchema, default_answers, study_schema

__all__ = ["Batch", "read_batch", "read_manifest", "read_table", "write_manifest", "MANIFEST", "TASKS_CSV",
           "ANSWER_KEY_CSV", "HITS_DIR", "ASSETS_DIR", "RESULTS_DIR"]

MANIFEST = "manifest.json"
TASKS_CSV = "tasks.csv"
ANSWER_KEY_CSV = "answer_key.csv"
HITS_DIR = "hits"
ASSETS_DIR = "assets"
RESULTS_DIR = "results"


@dataclasses.dataclass(frozen=True)
class Batch:
    """A batch folder's manifest, tasks and answer key.

    Attributes
    ----------
    directory : Path
    manifest : dict
        ``manifest.json`` as read.
    schema : StudySchema
        The manifest's study (from the registry, :mod:`studykit.formats.studies`).
    tasks : DataFrame
        ``tasks.csv`` as text, one row per HIT, in file order.
    answer_key : DataFrame or None
        ``answer_key.csv`` as text; None when read with ``answer_key=False``.
    """

    directory: Path
    manifest: dict[str, Any]
    schema: StudySchema
    tasks: pd.DataFrame
    answer_key: pd.DataFrame | None

    @property
    def answers(self) -> dict[str, str]:
        """``Answer.*`` field -> canonical answer name (the manifest's ``answers``, else the study's defaults)."""
        return dict(self.manifest.get("answers") or default_answers(self.schema))

    @property
    def hit(self) -> dict[str, Any]:
        """The manifest's HIT settings block as read (title, reward, ...); empty when absent."""
        return dict(self.manifest.get("hit") or {})

    def hit_settings(self) -> HITSettings:
        """The manifest's ``hit`` block, validated against MTurk's limits (every field required)."""
        return HITSettings.from_manifest(self.manifest.get("hit"), where=str(self.directory / MANIFEST))


def read_manifest(directory: str | os.PathLike) -> dict[str, Any]:
    """``manifest.json`` of a batch folder, which must hold a JSON object.

    Raises
    ------
    FileNotFoundError
        When the folder or the manifest is missing.
    ValueError
        When the manifest is not JSON or not a JSON object.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such batch folder")
    path = directory / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (is {directory} a batch folder?)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"{path}: not a JSON object (found a {type(manifest).__name__})")
    return manifest


def write_manifest(directory: str | os.PathLike, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` atomically (two-space indent, final newline); returns its path."""
    return _io.write_json(Path(directory) / MANIFEST, manifest)


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """A CSV of the batch folder with every cell as text (empty cells as ``""``), ``task_id`` required.

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    ValueError
        When it has no ``task_id`` column, a row has more cells than the header, or ``task_id``
        values repeat.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None) or []
        rows = []
        for row in reader:
            if len(row) > len(header):
                raise ValueError(f"{path}: line {reader.line_num} has {len(row)} cells but the header has "
                                 f"{len(header)}")
            if row:                                      # blank lines are skipped, as pandas does
                rows.append(row)
    if "task_id" not in header:
        raise ValueError(f"{path}: missing column task_id (columns: {header})")
    table = pd.DataFrame([row + [""] * (len(header) - len(row)) for row in rows], columns=header, dtype=str)
    duplicated = table["task_id"][table["task_id"].duplicated()]
    if len(duplicated):
        raise ValueError(f"{path}: task_id values are not unique ({duplicated.iloc[0]!r} repeats)")
    return table


def read_batch(directory: str | os.PathLike, *, answer_key: bool = True) -> Batch:
    """Read ``manifest.json``, ``tasks.csv`` and (unless ``answer_key=False``) ``answer_key.csv``.

    Raises
    ------
    FileNotFoundError
        When the folder or one of the files is missing.
    ValueError
        When the manifest is not a JSON object or names an unknown study, or a table is malformed
        (:func:`read_table`).
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    try:
        schema = study_schema(manifest.get("study", ""))
    except ValueError as exc:
        raise ValueError(f"{directory / MANIFEST}: {exc}") from None
    tasks = read_table(directory / TASKS_CSV)
    key = read_table(directory / ANSWER_KEY_CSV) if answer_key else None
    return Batch(directory, manifest, schema, tasks, key)
