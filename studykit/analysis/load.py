"""Reading MTurk batch-results CSVs as they really come (``shared/reference/mturk.md`` section 3).

:func:`read_results_csv` reads a file downloaded from the Requester website, or written by studykit's
fetch, preview or simulator (:mod:`studykit.formats.results_csv`), into a table of text cells and the
list of rows it could not read. It tolerates:

- a UTF-8 byte-order mark, CRLF or LF line endings, every cell quoted, quoted newlines in free text;
- data rows two fields shorter than the header (the trailing ``Approve``/``Reject`` cells missing);
- a file re-saved by pandas with its index as the first, unnamed column;
- crowd-html-element radio groups and checkboxes written as one ``true``/``false`` column per option
  (``Answer.group.option``): collapsed into one ``Answer.group`` column holding the chosen option(s),
  several joined with ``|`` like native checkboxes;
- Turkle's multi-valued answers written as Python lists (``['a', 'b']``), turned into ``a|b``.

Rows with another number of fields are reported with their line number, never dropped silently.
CR-only files (the Requester website's 2012 export) are refused with a clear error.

The value parsers :func:`parse_times`, :func:`parse_rewards` and :func:`parse_approval_rates` read the
website's ``Mon Nov 04 22:15:19 PST 2019`` times (PST/PDT, which ``strptime``'s ``%Z`` rejects),
``$0.05 `` rewards and ``100% (36/36)`` approval rates.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["RawResults", "read_results_csv", "parse_times", "parse_rewards", "parse_approval_rates",
           "REQUIRED_COLUMNS"]

#: Columns every batch-results file must have.
REQUIRED_COLUMNS = ("HITId", "AssignmentId", "WorkerId")
#: Column holding each row's physical line number in the file (the line its record starts on).
LINE = "line"
_TRAILING = ("Approve", "Reject")
_BOOLEAN = {"true", "false", ""}
_ZONES = {"PST": "-0800", "PDT": "-0700", "UTC": "+0000", "GMT": "+0000"}


@dataclasses.dataclass(frozen=True)
class RawResults:
    """A batch-results file as text.

    Attributes
    ----------
    frame : DataFrame
        One row per readable data row: every column of the file as text (missing trailing cells
        as ``""``), crowd one-hot groups collapsed, and ``line``, the line the row starts on.
    problems : DataFrame
        Rows that could not be read: ``line``, ``assignment`` (``""`` when unknown) and ``reason``.
    source : str
        The file read.
    """

    frame: pd.DataFrame
    problems: pd.DataFrame
    source: str


def problems_frame(records: list[tuple[int, str, str]]) -> pd.DataFrame:
    """A problems table (``line``, ``assignment``, ``reason``) from ``(line, assignment, reason)`` tuples."""
    return pd.DataFrame(records, columns=[LINE, "assignment", "reason"]).astype({LINE: "int64"})


def read_results_csv(path: str | os.PathLike) -> RawResults:
    """Read an MTurk batch-results CSV.

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    RawResults
        Text cells, and the rows that could not be read with their line numbers.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When it is not UTF-8, uses CR-only line endings, has no header, or lacks a column of
        :data:`REQUIRED_COLUMNS` (all missing ones are named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such results file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if "\r" in text and "\n" not in text:
        raise ValueError(f"{path}: CR-only line endings (the Requester website's legacy export); "
                         "re-save the file with LF or CRLF line endings")
    header, rows, lines, problems = _split_records(text, path)
    frame = pd.DataFrame(rows, columns=header, dtype=object) if rows else pd.DataFrame(columns=header, dtype=object)
    frame[LINE] = np.asarray(lines, dtype=np.int64)
    frame = _collapse_one_hot(frame)
    frame = _join_list_answers(frame)
    return RawResults(frame, problems_frame(problems), str(path))


def _split_records(text: str, path: Path) -> tuple[list[str], list[list[str]], list[int], list]:
    """Header, data rows padded to the header, their start lines, and the rows of the wrong length."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header or not any(header):
        raise ValueError(f"{path}: empty file (no header row)")
    drop_index = header[0] in ("", "Unnamed: 0") and len(header) > 1
    if drop_index:
        header = header[1:]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{path}: not a batch-results file: missing column(s) {', '.join(missing)}")
    n = len(header)
    short = n - len(_TRAILING) if tuple(header[-len(_TRAILING):]) == _TRAILING else None
    rows, lines, problems = [], [], []
    assignment_at = header.index("AssignmentId")
    start = reader.line_num + 1
    for record in reader:
        line, start = start, reader.line_num + 1
        if drop_index and record:
            record = record[1:]
        if not record or record == [""] * len(record):
            continue
        if len(record) == short:
            record = record + [""] * len(_TRAILING)
        if len(record) != n:
            assignment = record[assignment_at] if len(record) > assignment_at else ""
            problems.append((line, assignment, f"has {len(record)} fields, the header has {n}"))
            continue
        rows.append(record)
        lines.append(line)
    return header, rows, lines, problems


def _collapse_one_hot(frame: pd.DataFrame) -> pd.DataFrame:
    """Merge ``Answer.group.option`` true/false columns into one ``Answer.group`` column of chosen options."""
    groups: dict[str, list[str]] = {}
    for column in frame.columns:
        if column.startswith("Answer.") and column.count(".") >= 2:
            groups.setdefault(column.rsplit(".", 1)[0], []).append(column)
    merged = {}
    for group, columns in groups.items():
        cells = frame[columns].apply(lambda s: s.str.strip().str.lower())
        if group in frame.columns or not cells.isin(_BOOLEAN).all().all():
            continue
        chosen = cells.eq("true").to_numpy()
        options = np.array([c.rsplit(".", 1)[1] for c in columns], dtype=object)
        merged[group] = ["|".join(options[row]) for row in chosen]
        frame = frame.drop(columns=columns)
    return frame.assign(**merged) if merged else frame


def _join_list_answers(frame: pd.DataFrame) -> pd.DataFrame:
    """Turkle writes multi-valued answers as Python lists (``['a', 'b']``); make them ``a|b``."""
    for column in [c for c in frame.columns if c.startswith("Answer.")]:
        cells = frame[column].astype(str)
        listed = cells.str.startswith("[") & cells.str.endswith("]")
        if listed.any():
            frame.loc[listed, column] = cells[listed].map(_list_cell)
    return frame


def _list_cell(cell: str) -> str:
    try:
        values = ast.literal_eval(cell)
    except (ValueError, SyntaxError):
        return cell
    return "|".join(str(v) for v in values) if isinstance(values, (list, tuple)) else cell


def parse_times(values: pd.Series) -> pd.Series:
    """MTurk times (``Mon Nov 04 22:15:19 PST 2019``) as UTC timestamps; NaT where empty or unreadable.

    PST and PDT are read as UTC-8 and UTC-7 (``strptime``'s ``%Z`` accepts neither unless the process
    runs in US Pacific time); UTC and GMT are accepted too.
    """
    text = values.fillna("").astype(str).str.strip()
    for zone, offset in _ZONES.items():
        text = text.str.replace(f" {zone} ", f" {offset} ", regex=False)
    return pd.to_datetime(text, format="%a %b %d %H:%M:%S %z %Y", utc=True, errors="coerce")


def parse_rewards(values: pd.Series) -> pd.Series:
    """``"$0.05 "`` -> ``0.05`` (US dollars as float); NaN where empty or unreadable."""
    text = values.fillna("").astype(str).str.strip().str.lstrip("$").str.replace(",", "", regex=False)
    return pd.to_numeric(text, errors="coerce")


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s*\((\d+)/(\d+)\)\s*$")


def parse_approval_rates(values: pd.Series) -> pd.DataFrame:
    """``"100% (36/36)"`` -> columns ``percent``, ``approved``, ``total`` (floats; NaN where unreadable)."""
    parts = values.fillna("").astype(str).str.extract(_RATE)
    parts.columns = ["percent", "approved", "total"]
    return parts.apply(pd.to_numeric, errors="coerce")
