"""The posting ledger: ``mturk.sqlite`` in the batch folder, what studykit did on MTurk and why.

Every record is scoped to the endpoint it was made against (a sandbox pilot, production and a local
fake each keep their own HITs in the same batch folder). Each write is one SQLite transaction, so a
process killed at any point leaves the ledger as it was before or after that write, never between.

Tables
------
``hits``
    One row per task: an *intent* (token, annotation) written before CreateHITWithHITType, then the
    HIT id written after it (``state`` ``intent`` -> ``created``); ``expired_at``/``deleted_at``, and
    ``missing_at`` when MTurk said the HIT does not exist (deleted outside studykit, or a wrong id).
``assignments``
    Every fetched assignment: ids, worker, status and the raw API record (Answer XML included).
``actions``
    Approvals, rejections and bonuses: an intent, then ``done`` or ``failed`` (with the error).
``meta``
    Key/value facts such as the HIT type id and the folder that created the HITs (``batch_dir``).

A file that is not an SQLite database, or whose pages are damaged, raises :class:`LedgerError`
naming the file and the command that rebuilds it from MTurk (:func:`move_aside`, then
:func:`~studykit.mturk.reconcile.reconcile_ledger`).
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["LEDGER_FILE", "Ledger", "LedgerError", "HITRecord", "AssignmentRecord", "ActionRecord", "is_damaged",
           "move_aside"]

LEDGER_FILE = "mturk.sqlite"
ORIGIN_KEY = "batch_dir"
_SIDE_FILES = ("-journal", "-wal", "-shm")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    endpoint TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (endpoint, key));
CREATE TABLE IF NOT EXISTS hits (
    endpoint TEXT NOT NULL, task_id TEXT NOT NULL, task_index INTEGER NOT NULL, token TEXT NOT NULL,
    annotation TEXT NOT NULL, hit_type_id TEXT, state TEXT NOT NULL, hit_id TEXT,
    intent_at TEXT, created_at TEXT, expired_at TEXT, deleted_at TEXT, PRIMARY KEY (endpoint, task_id));
CREATE TABLE IF NOT EXISTS assignments (
    endpoint TEXT NOT NULL, assignment_id TEXT NOT NULL, hit_id TEXT NOT NULL, task_id TEXT NOT NULL,
    worker_id TEXT NOT NULL, status TEXT NOT NULL, record TEXT NOT NULL, fetched_at TEXT NOT NULL,
    PRIMARY KEY (endpoint, assignment_id));
CREATE TABLE IF NOT EXISTS actions (
    endpoint TEXT NOT NULL, kind TEXT NOT NULL, assignment_id TEXT NOT NULL, worker_id TEXT NOT NULL,
    amount TEXT, message TEXT, token TEXT, state TEXT NOT NULL, error TEXT, updated_at TEXT NOT NULL,
    PRIMARY KEY (endpoint, kind, assignment_id));
"""
ACTION_KINDS = ("approve", "reject", "bonus")
_HIT_STAMPS = ("expired_at", "deleted_at", "missing_at")


class LedgerError(ValueError):
    """The ledger file cannot be used: ``damaged`` (not an SQLite database, or damaged pages: rebuild
    it) or not (another process holds its lock, the folder is read-only...)."""

    def __init__(self, message: str, *, damaged: bool):
        super().__init__(message)
        self.damaged = damaged


_DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _unreadable(path: Path, error: sqlite3.DatabaseError) -> LedgerError:
    """One line naming the file: for a damaged file, with the command that rebuilds it; for an
    operational failure (a lock held by another process, a read-only folder), SQLite's reason only."""
    reason = " ".join(str(error).split())
    if isinstance(error, sqlite3.OperationalError) and getattr(error, "sqlite_errorcode", None) not in _DAMAGED:
        return LedgerError(f"{path}: cannot use the ledger ({reason})", damaged=False)
    return LedgerError(f"{path}: not a readable studykit ledger ({reason}); move it aside and rebuild it from "
                       f"MTurk with `studykit mturk reconcile {path.parent} --rebuild`", damaged=True)


def is_damaged(batch_dir: str | os.PathLike) -> bool:
    """Whether the batch's ledger exists and is damaged (see :class:`LedgerError`)."""
    if not (Path(batch_dir) / LEDGER_FILE).exists():
        return False
    try:
        Ledger(batch_dir, "", timeout=30).close()
    except LedgerError as error:
        return error.damaged
    return False


def move_aside(batch_dir: str | os.PathLike) -> Path | None:
    """Rename the batch's ledger (and SQLite's side files) to ``mturk.sqlite.broken-<UTC time>``.

    Returns
    -------
    Path or None
        The new name of the ledger, None when there was none.
    """
    path = Path(batch_dir) / LEDGER_FILE
    if not path.exists():
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{LEDGER_FILE}.broken-{stamp}")
    for suffix in _SIDE_FILES:
        side = path.with_name(LEDGER_FILE + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    os.replace(path, target)
    return target


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class HITRecord:
    """A task's HIT as the ledger knows it (``hit_id`` is None while only the intent is recorded)."""

    task_id: str
    task_index: int
    token: str
    annotation: str
    hit_type_id: str | None
    state: str
    hit_id: str | None
    expired_at: str | None
    deleted_at: str | None
    missing_at: str | None = None


@dataclass(frozen=True)
class AssignmentRecord:
    """A fetched assignment; ``record`` is the API's Assignment with times as ISO 8601 strings."""

    assignment_id: str
    hit_id: str
    task_id: str
    worker_id: str
    status: str
    record: dict


@dataclass(frozen=True)
class ActionRecord:
    """An approval, rejection or bonus; ``state`` is ``intent``, ``done`` or ``failed``."""

    kind: str
    assignment_id: str
    worker_id: str
    amount: str | None
    message: str | None
    token: str | None
    state: str
    error: str | None


class Ledger:
    """The ledger of one batch folder, for one endpoint.

    Parameters
    ----------
    batch_dir : path-like
        The batch folder; ``mturk.sqlite`` is created there when absent.
    endpoint : str
        What the records are filed under: :attr:`Environment.ledger_key
        <studykit.mturk.client.Environment.ledger_key>` (the endpoint URL, prefixed ``production:``
        for production at an override URL).
    timeout : float
        Seconds to wait for another process's lock on the file.

    Raises
    ------
    LedgerError
        When ``mturk.sqlite`` is not an SQLite database or fails SQLite's integrity check.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, batch_dir: str | os.PathLike, endpoint: str, *, timeout: float = 30.0):
        self.directory = Path(batch_dir)
        self.path = self.directory / LEDGER_FILE
        self.endpoint = endpoint
        try:
            self._conn = sqlite3.connect(self.path, timeout=timeout)
        except sqlite3.DatabaseError as error:
            raise _unreadable(self.path, error) from None
        self._conn.row_factory = sqlite3.Row
        try:
            self._open()
        except sqlite3.DatabaseError as error:
            self._conn.close()
            raise _unreadable(self.path, error) from None

    def _open(self) -> None:
        self._conn.execute("PRAGMA synchronous = FULL")
        with self._conn:
            self._conn.executescript(_SCHEMA)
        problems = [row[0] for row in self._conn.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError(f"integrity check: {problems[0]}")
        columns = {row["name"] for row in self._conn.execute("PRAGMA table_info(hits)")}
        if "missing_at" not in columns:   # ledgers written before missing HITs were recorded
            with self._conn:
                self._conn.execute("ALTER TABLE hits ADD COLUMN missing_at TEXT")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _write(self, sql: str, **params) -> None:
        """Run one statement in its own transaction; ``:endpoint`` is this ledger's endpoint."""
        try:
            with self._conn:
                self._conn.execute(sql, {"endpoint": self.endpoint, **params})
        except sqlite3.DatabaseError as error:
            raise _unreadable(self.path, error) from None

    def _rows(self, sql: str, **params) -> list[sqlite3.Row]:
        try:
            return self._conn.execute(sql, {"endpoint": self.endpoint, **params}).fetchall()
        except sqlite3.DatabaseError as error:
            raise _unreadable(self.path, error) from None

    # ------------------------------------------------------------------ meta
    def get(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE endpoint = :endpoint AND key = :key", key=key)
        return rows[0]["value"] if rows else None

    def set(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta (endpoint, key, value) VALUES (:endpoint, :key, :value)",
                    key=key, value=value)

    @property
    def origin(self) -> str | None:
        """The folder (absolute path) that created this endpoint's HITs, as recorded by :meth:`claim`."""
        return self.get(ORIGIN_KEY)

    @property
    def foreign_origin(self) -> str | None:
        """:attr:`origin` when it is another folder than this one (the ledger was copied or moved), else None."""
        origin = self.origin
        return origin if origin is not None and origin != str(self.directory.resolve()) else None

    def claim(self) -> None:
        """Record this folder as the one whose HITs these are (posting does it; so does ``reconcile``)."""
        self.set(ORIGIN_KEY, str(self.directory.resolve()))

    # ------------------------------------------------------------------ hits
    def hits(self) -> list[HITRecord]:
        """Every task's record, in task order."""
        rows = self._rows("SELECT task_id, task_index, token, annotation, hit_type_id, state, hit_id, expired_at, "
                          "deleted_at, missing_at FROM hits WHERE endpoint = :endpoint ORDER BY task_index")
        return [HITRecord(**dict(row)) for row in rows]

    def created_hits(self) -> list[HITRecord]:
        """Records with a HIT id, in task order."""
        return [record for record in self.hits() if record.hit_id is not None]

    def record_intent(self, task_id: str, task_index: int, token: str, annotation: str, hit_type_id: str) -> None:
        """Write, before CreateHITWithHITType, that this task's HIT is about to be created."""
        self._write("INSERT INTO hits (endpoint, task_id, task_index, token, annotation, hit_type_id, state, "
                    "intent_at) VALUES (:endpoint, :task_id, :task_index, :token, :annotation, :hit_type_id, "
                    "'intent', :now) ON CONFLICT (endpoint, task_id) DO UPDATE SET intent_at = excluded.intent_at, "
                    "token = excluded.token, task_index = excluded.task_index "
                    "WHERE state = 'intent'", task_id=task_id, task_index=task_index, token=token,
                    annotation=annotation, hit_type_id=hit_type_id, now=_now())

    def record_created(self, task_id: str, task_index: int, token: str, annotation: str, hit_type_id: str | None,
                       hit_id: str) -> None:
        """Write the task's HIT id (after CreateHITWithHITType, or when found by ListHITs)."""
        self._write("INSERT INTO hits (endpoint, task_id, task_index, token, annotation, hit_type_id, state, hit_id, "
                    "created_at) VALUES (:endpoint, :task_id, :task_index, :token, :annotation, :hit_type_id, "
                    "'created', :hit_id, :now) ON CONFLICT (endpoint, task_id) DO UPDATE SET state = 'created', "
                    "hit_id = excluded.hit_id, created_at = excluded.created_at, missing_at = NULL, "
                    "task_index = excluded.task_index, token = excluded.token, "
                    "hit_type_id = COALESCE(excluded.hit_type_id, hit_type_id)",
                    task_id=task_id, task_index=task_index, token=token, annotation=annotation,
                    hit_type_id=hit_type_id, hit_id=hit_id, now=_now())

    def mark_hit(self, hit_id: str, column: str) -> None:
        """Stamp ``expired_at``, ``deleted_at`` or ``missing_at`` on the HIT ``hit_id``."""
        if column not in _HIT_STAMPS:
            raise ValueError(f"column must be one of {_HIT_STAMPS}, got {column!r}")
        self._write(f"UPDATE hits SET {column} = :now WHERE endpoint = :endpoint AND hit_id = :hit_id",
                    now=_now(), hit_id=hit_id)

    # ------------------------------------------------------------------ assignments
    def assignments(self) -> list[AssignmentRecord]:
        """Every fetched assignment, in fetch order."""
        rows = self._rows("SELECT assignment_id, hit_id, task_id, worker_id, status, record FROM assignments "
                          "WHERE endpoint = :endpoint ORDER BY rowid")
        return [AssignmentRecord(**{**dict(row), "record": json.loads(row["record"])}) for row in rows]

    def save_assignments(self, records: list[AssignmentRecord]) -> None:
        """Insert new assignments and update the status of known ones, in one transaction."""
        with self._conn:
            for r in records:
                self._conn.execute(
                    "INSERT INTO assignments (endpoint, assignment_id, hit_id, task_id, worker_id, status, record, "
                    "fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (endpoint, assignment_id) DO UPDATE "
                    "SET status = excluded.status, record = excluded.record",
                    (self.endpoint, r.assignment_id, r.hit_id, r.task_id, r.worker_id, r.status,
                     json.dumps(r.record, sort_keys=True), _now()))

    def set_assignment_status(self, assignment_id: str, status: str) -> None:
        self._write("UPDATE assignments SET status = :status WHERE endpoint = :endpoint "
                    "AND assignment_id = :assignment_id", status=status, assignment_id=assignment_id)

    # ------------------------------------------------------------------ actions
    def action(self, kind: str, assignment_id: str) -> ActionRecord | None:
        rows = self._rows("SELECT kind, assignment_id, worker_id, amount, message, token, state, error FROM actions "
                          "WHERE endpoint = :endpoint AND kind = :kind AND assignment_id = :assignment_id",
                          kind=kind, assignment_id=assignment_id)
        return ActionRecord(**dict(rows[0])) if rows else None

    def actions(self, kind: str | None = None) -> list[ActionRecord]:
        rows = self._rows("SELECT kind, assignment_id, worker_id, amount, message, token, state, error FROM actions "
                          "WHERE endpoint = :endpoint ORDER BY rowid")
        return [ActionRecord(**dict(row)) for row in rows if kind in (None, row["kind"])]

    def record_action(self, kind: str, assignment_id: str, worker_id: str, *, state: str, amount: str | None = None,
                      message: str | None = None, token: str | None = None, error: str | None = None) -> None:
        """Write an action's intent or outcome (``state``: ``intent``, ``done`` or ``failed``)."""
        if kind not in ACTION_KINDS:
            raise ValueError(f"kind must be one of {ACTION_KINDS}, got {kind!r}")
        self._write("INSERT OR REPLACE INTO actions (endpoint, kind, assignment_id, worker_id, amount, message, token, "
                    "state, error, updated_at) VALUES (:endpoint, :kind, :assignment_id, :worker_id, :amount, "
                    ":message, :token, :state, :error, :now)", kind=kind, assignment_id=assignment_id,
                    worker_id=worker_id, amount=amount, message=message, token=token, state=state, error=error,
                    now=_now())
