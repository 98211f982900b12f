"""A batch folder as :mod:`studykit.mturk` sees it: the manifest's HIT type, the tasks, the pages.

:func:`load_batch` is the one entry point; everything in :mod:`studykit.mturk` works on the
:class:`Batch` it returns. The folder is read with :func:`studykit.formats.batch.read_batch` and the
manifest's ``hit`` block is validated with :class:`studykit.formats.hit.HITSettings` (the validator
``studykit tasks build`` uses too), so a malformed manifest fails before any call is made.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from studykit.formats.batch import ASSETS_DIR, HITS_DIR, MANIFEST, RESULTS_DIR, TASKS_CSV, read_batch, write_manifest
from studykit.formats.hit import REWARD_PATTERN, HITSettings

__all__ = ["HITSpec", "Task", "Batch", "load_batch", "write_manifest", "parse_annotation",
           "ASSETS_DIR", "HITS_DIR", "MANIFEST", "RESULTS_DIR", "TASKS_CSV", "REWARD_PATTERN"]

#: The manifest's HIT settings: :class:`studykit.formats.hit.HITSettings` (one validator for build and post).
HITSpec = HITSettings
ANNOTATION_PREFIX = "studykit"
_BATCH_ID = re.compile(r"^[a-z0-9-]+$")


@dataclass(frozen=True)
class Task:
    """One row of ``tasks.csv``: one HIT.

    Attributes
    ----------
    index : int
        Position in ``tasks.csv`` (0-based).
    task_id : str
        The row's ``task_id`` (``t00000``...), also the page's file name in ``hits/``.
    inputs : dict of str to str
        The row's cells keyed by column name, ``task_id`` included: the results CSV's ``Input.*``.
    """

    index: int
    task_id: str
    inputs: dict


@dataclass(frozen=True)
class Batch:
    """A batch folder, read: its id, its HIT type, its tasks.

    Attributes
    ----------
    directory : Path
    batch_id : str
    hit : HITSpec
    tasks : tuple of Task
        In ``tasks.csv`` order.
    input_fields : tuple of str
        ``tasks.csv``'s columns in file order (the results CSV's ``Input.*`` columns).
    manifest : dict
        The parsed ``manifest.json``.
    """

    directory: Path
    batch_id: str
    hit: HITSpec
    tasks: tuple
    input_fields: tuple
    manifest: dict

    def request_token(self, task: Task) -> str:
        """The task's ``UniqueRequestToken``: the same on every run, so MTurk refuses a second HIT.

        ``studykit-<batch_id>-<task_id>``: it names the task, not its row, so a task added to a posted
        batch gets a token of its own. :mod:`studykit.mturk.preflight` checks the 64-character limit.
        """
        return f"studykit-{self.batch_id}-{task.task_id}"

    def annotation(self, task: Task) -> str:
        """The task's ``RequesterAnnotation`` (``studykit:<batch_id>:<task_id>``), which ListHITs
        returns, so a lost ledger can be rebuilt (see :func:`parse_annotation`)."""
        return f"{ANNOTATION_PREFIX}:{self.batch_id}:{task.task_id}"

    def question_path(self, task: Task) -> Path:
        """The HTMLQuestion XML posted for ``task``: ``hits/<task_id>.xml``."""
        return self.directory / HITS_DIR / f"{task.task_id}.xml"

    @property
    def results_dir(self) -> Path:
        return self.directory / RESULTS_DIR


def parse_annotation(annotation: str | None) -> tuple[str, str] | None:
    """``(batch_id, task_id)`` from a RequesterAnnotation written by :meth:`Batch.annotation`;
    None for any other annotation (HITs made elsewhere, by the Requester website...)."""
    parts = (annotation or "").split(":")
    if len(parts) != 3 or parts[0] != ANNOTATION_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def load_batch(directory: str | os.PathLike) -> Batch:
    """Read a batch folder's manifest and ``tasks.csv``.

    Parameters
    ----------
    directory : path-like
        The batch folder.

    Returns
    -------
    Batch

    Raises
    ------
    FileNotFoundError
        When ``manifest.json`` or ``tasks.csv`` is missing.
    ValueError
        When the manifest's ``batch_id``, ``hit`` block or ``n_hits`` is malformed, or ``tasks.csv``
        disagrees with ``n_hits``.
    """
    folder = read_batch(directory, answer_key=False)
    manifest = folder.manifest
    batch_id = manifest.get("batch_id")
    if not isinstance(batch_id, str) or not _BATCH_ID.match(batch_id):
        raise ValueError(f"manifest batch_id must be made of [a-z0-9-], got {batch_id!r}")
    hit = folder.hit_settings()
    tasks = tuple(Task(index=i, task_id=row["task_id"], inputs=row)
                  for i, row in enumerate(folder.tasks.to_dict("records")))
    if manifest.get("n_hits") != len(tasks):
        raise ValueError(f"manifest n_hits={manifest.get('n_hits')!r} but tasks.csv has {len(tasks)} rows")
    return Batch(directory=folder.directory, batch_id=batch_id, hit=hit, tasks=tasks,
                 input_fields=tuple(folder.tasks.columns), manifest=manifest)
