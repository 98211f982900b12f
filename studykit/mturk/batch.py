"""Reading a batch folder (``docs/batch-folder.md``): the manifest's HIT type, the tasks, the pages.

:func:`load_batch` is the one entry point; everything in :mod:`studykit.mturk` works on the
:class:`Batch` it returns. :class:`HITSpec` validates the manifest's ``hit`` block against MTurk's
limits (the ones botocore does not enforce client-side), so a malformed manifest fails before any
call is made.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

__all__ = ["HITSpec", "Task", "Batch", "load_batch", "write_manifest", "parse_annotation", "atomic_write_text"]

MANIFEST = "manifest.json"
TASKS_CSV = "tasks.csv"
HITS_DIR = "hits"
ASSETS_DIR = "assets"
RESULTS_DIR = "results"

#: MTurk's CurrencyAmount, written the way studykit requires it: dollars and exactly two cents digits.
REWARD_PATTERN = re.compile(r"^\d+\.\d{2}$")
MAX_SECONDS = 31_536_000          # one year: LifetimeInSeconds and AssignmentDurationInSeconds
MAX_AUTO_APPROVAL_SECONDS = 2_592_000  # 30 days
ANNOTATION_PREFIX = "studykit"
_BATCH_ID = re.compile(r"^[a-z0-9-]+$")


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"hit.{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"hit.{name} must be in [{low}, {high}], got {value}")


def _check_text(name: str, value, max_chars: int, *, allow_empty: bool = False) -> None:
    if not isinstance(value, str) or (not value.strip() and not allow_empty):
        raise ValueError(f"hit.{name} must be a non-empty string, got {value!r}")
    if len(value) > max_chars:
        raise ValueError(f"hit.{name} is {len(value)} characters; MTurk allows at most {max_chars}")


@dataclass(frozen=True)
class HITSpec:
    """The HIT type and per-HIT settings of a batch (the manifest's ``hit`` block).

    Parameters
    ----------
    title, description, keywords : str
        Shown to workers; at most 128, 2,000 and 1,000 characters.
    reward : str
        USD per assignment, like ``"0.04"`` (at least ``"0.01"``).
    max_assignments : int
        Assignments (distinct workers) per HIT, at least 1. Nine or fewer avoids MTurk's extra fee;
        more must be accepted explicitly when posting (see :mod:`studykit.mturk.preflight`).
    assignment_duration_seconds, lifetime_seconds : int
        Time a worker has for one assignment, and time the HIT stays listed: 30 s to one year.
    auto_approval_delay_seconds : int
        Time after submission after which MTurk approves an assignment by itself: 0 to 30 days.

    Raises
    ------
    ValueError
        Naming the first field outside MTurk's limits.
    """

    title: str
    description: str
    keywords: str
    reward: str
    max_assignments: int
    assignment_duration_seconds: int
    lifetime_seconds: int
    auto_approval_delay_seconds: int

    def __post_init__(self):
        _check_text("title", self.title, 128)
        _check_text("description", self.description, 2000)
        _check_text("keywords", self.keywords, 1000, allow_empty=True)
        if not isinstance(self.reward, str) or not REWARD_PATTERN.match(self.reward):
            raise ValueError(f'hit.reward must be a string of dollars like "0.04", got {self.reward!r}')
        if Decimal(self.reward) < Decimal("0.01"):
            raise ValueError(f"hit.reward must be at least 0.01 (MTurk's minimum), got {self.reward!r}")
        _check_int("max_assignments", self.max_assignments, 1, 1_000_000)
        _check_int("assignment_duration_seconds", self.assignment_duration_seconds, 30, MAX_SECONDS)
        _check_int("lifetime_seconds", self.lifetime_seconds, 30, MAX_SECONDS)
        _check_int("auto_approval_delay_seconds", self.auto_approval_delay_seconds, 0,
                   MAX_AUTO_APPROVAL_SECONDS)

    @property
    def reward_amount(self) -> Decimal:
        """The reward as an exact decimal amount of dollars."""
        return Decimal(self.reward)


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


def _read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (is {directory} a batch folder?)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"{path}: must hold a JSON object, got a JSON {type(manifest).__name__}")
    return manifest


def _read_tasks(directory: Path) -> tuple[tuple, tuple]:
    path = directory / TASKS_CSV
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (a batch folder needs tasks.csv)")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = tuple(reader.fieldnames or ())
        if "task_id" not in fields:
            raise ValueError(f"{path}: no task_id column (columns: {list(fields)})")
        tasks = tuple(Task(index=i, task_id=row["task_id"], inputs=dict(row)) for i, row in enumerate(reader))
    ids = [task.task_id for task in tasks]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: task_id values are not unique")
    return tasks, fields


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
    directory = Path(directory)
    manifest = _read_manifest(directory)
    batch_id = manifest.get("batch_id")
    if not isinstance(batch_id, str) or not _BATCH_ID.match(batch_id):
        raise ValueError(f"manifest batch_id must be made of [a-z0-9-], got {batch_id!r}")
    hit_block = manifest.get("hit")
    if not isinstance(hit_block, dict):
        raise ValueError(f"{directory / MANIFEST}: no 'hit' block")
    try:
        hit = HITSpec(**hit_block)
    except TypeError as exc:
        raise ValueError(f"{directory / MANIFEST}: malformed 'hit' block ({exc})") from None
    tasks, fields = _read_tasks(directory)
    if manifest.get("n_hits") != len(tasks):
        raise ValueError(f"manifest n_hits={manifest.get('n_hits')!r} but tasks.csv has {len(tasks)} rows")
    return Batch(directory=directory, batch_id=batch_id, hit=hit, tasks=tasks, input_fields=fields,
                 manifest=manifest)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) through a temporary file and an atomic rename: a killed run leaves the
    old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_manifest(directory: str | os.PathLike, manifest: dict) -> None:
    """Rewrite ``manifest.json`` atomically."""
    atomic_write_text(Path(directory) / MANIFEST, json.dumps(manifest, indent=2) + "\n")
