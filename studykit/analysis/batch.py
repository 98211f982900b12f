"""Reading the parts of a batch folder that analysis needs (``docs/batch-folder.md``).

``manifest.json`` (the study, its ``answers`` mapping and HIT settings), ``tasks.csv`` (what each page
showed) and ``answer_key.csv`` (the hidden key), all read as text; nothing else of the folder is touched.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .studies import StudySchema, default_answers, study_schema

__all__ = ["Batch", "read_batch", "read_table"]


@dataclasses.dataclass(frozen=True)
class Batch:
    """A batch folder's manifest, tasks and answer key.

    Attributes
    ----------
    directory : Path
    manifest : dict
        ``manifest.json`` as read.
    schema : StudySchema
        The manifest's study.
    answers : dict
        ``Answer.*`` field -> canonical answer name (the manifest's ``answers``, else studykit's defaults).
    tasks : DataFrame
        ``tasks.csv`` as text, one row per HIT, ``task_id`` first.
    answer_key : DataFrame
        ``answer_key.csv`` as text, one row per HIT.
    """

    directory: Path
    manifest: dict[str, Any]
    schema: StudySchema
    answers: dict[str, str]
    tasks: pd.DataFrame
    answer_key: pd.DataFrame

    @property
    def hit(self) -> dict[str, Any]:
        """The manifest's HIT settings (title, reward, max_assignments, ...); empty when absent."""
        return dict(self.manifest.get("hit") or {})


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """A CSV of the batch folder with every cell as text (empty cells as ``""``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def read_batch(directory: str | os.PathLike) -> Batch:
    """Read ``manifest.json``, ``tasks.csv`` and ``answer_key.csv`` of a batch folder.

    Raises
    ------
    FileNotFoundError
        When the folder or one of the three files is missing.
    ValueError
        When the manifest is not JSON, names an unknown study, or a table has no ``task_id`` column.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such batch folder")
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path}: no such file (not a batch folder?)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{manifest_path}: not JSON ({exc})") from None
    schema = study_schema(manifest.get("study", ""))
    tables = {name: read_table(directory / f"{name}.csv") for name in ("tasks", "answer_key")}
    for name, table in tables.items():
        if "task_id" not in table.columns:
            raise ValueError(f"{directory / (name + '.csv')}: missing column task_id")
    answers = dict(manifest.get("answers") or default_answers(schema))
    return Batch(directory, manifest, schema, answers, tables["tasks"], tables["answer_key"])
