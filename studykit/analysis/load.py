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

Rows with another number of fields, with undecodable bytes, or cut off at the end of the file are
reported with their line number, never dropped silently (:mod:`studykit.analysis.csvread` does the
low-level reading: encodings, big cells, truncation). A repeated column name is an error naming it
when the analysis uses that column, and a notice otherwise (the first such column is read).
CR-only files (the Requester website's 2012 export) are refused with a clear error.

The value parsers :func:`parse_times`, :func:`parse_rewards` and :func:`parse_approval_rates` read the
website's ``Mon Nov 04 22:15:19 PST 2019`` times (PST/PDT, which ``strptime``'s ``%Z`` rejects),
``$0.05 `` rewards and ``100% (36/36)`` approval rates.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .csvread import read_csv_table

__all__ = ["RawResults", "read_results_csv", "strip_text", "parse_times", "parse_rewards", "parse_approval_rates",
           "REQUIRED_COLUMNS", "SIMULATED_MARK"]

#: Columns every batch-results file must have.
REQUIRED_COLUMNS = ("HITId", "AssignmentId", "WorkerId")
#: Column holding each row's physical line number in the file (the line its record starts on).
LINE = "line"
_TRAILING = ("Approve", "Reject")
#: Columns the analysis reads besides the answers (a repeated name among them is an error).
_USED = ("AssignmentStatus", "SubmitTime", "WorkTimeInSeconds", "Reward", "Input.task_id", "RequesterAnnotation")
#: ``RequesterAnnotation`` of rows written by ``studykit simulate`` starts with this.
SIMULATED_MARK = "studykit:simulated"
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
    notices : tuple of str
        Remarks on the whole file for the report (encoding read, duplicated columns ignored, ...).
    encoding : str
        The encoding the file was read with.
    simulated : bool
        Whether the rows were written by studykit's simulator (``RequesterAnnotation`` starts with
        :data:`SIMULATED_MARK`).
    """

    frame: pd.DataFrame
    problems: pd.DataFrame
    source: str
    notices: tuple[str, ...] = ()
    encoding: str = "UTF-8"
    simulated: bool = False


def problems_frame(records: list[tuple[int, str, str]]) -> pd.DataFrame:
    """A problems table (``line``, ``assignment``, ``reason``) from ``(line, assignment, reason)`` tuples."""
    return pd.DataFrame(records, columns=[LINE, "assignment", "reason"]).astype({LINE: "int64"})


def read_results_csv(path: str | os.PathLike, *, columns: Callable[[str], bool] | None = None) -> RawResults:
    """Read an MTurk batch-results CSV.

    Parameters
    ----------
    path : path-like
        The file.
    columns : callable, optional
        ``columns(name) -> bool``: read only these columns besides :data:`REQUIRED_COLUMNS` (default:
        all; the analysis reads the ones it uses, which makes big files faster to read).

    Returns
    -------
    RawResults
        Text cells, and the rows that could not be read with their line numbers.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When it uses CR-only line endings, has no header, lacks a column of :data:`REQUIRED_COLUMNS`
        (all missing ones are named) or repeats the name of a column the analysis uses (named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such results file")
    table = read_csv_table(path.read_bytes(), str(path), columns=_selector(columns), accept=_accept)
    header = list(table.header)
    notices = list(table.notices)
    if table.encoding not in ("UTF-8", "UTF-8 with byte-order mark"):
        notices.insert(0, f"encoding: {table.encoding}")
    drop_index = header[0] in ("", "Unnamed: 0") and len(header) > 1
    names = _checked_header(header, drop_index, path, notices)
    frame = table.frame
    keep = [c for c in frame.columns if int(c) in names]
    frame = frame[keep].set_axis([names[int(c)] for c in keep], axis=1)
    frame[LINE] = np.asarray(table.lines, dtype=np.int64)
    assignment_at = header.index("AssignmentId")
    problems = problems_frame([(line, cells.get(assignment_at, ""), reason) for line, cells, reason in table.problems])
    frame = _join_list_answers(_collapse_one_hot(frame))
    simulated = "RequesterAnnotation" in frame.columns and bool(
        frame["RequesterAnnotation"].astype(str).str.startswith(SIMULATED_MARK).any())
    return RawResults(frame, problems, str(path), tuple(notices), table.encoding, simulated)


def _selector(columns: Callable[[str], bool] | None):
    if columns is None:
        return None
    return lambda i, name: (i == 0 and name in ("", "Unnamed: 0")) or name in REQUIRED_COLUMNS or name in _TRAILING \
        or bool(columns(name))


def _accept(fields: int, header: list[str]) -> bool:
    """Rows as long as the header, or two fields short when it ends with ``Approve``, ``Reject`` (the
    website leaves those cells off)."""
    n = len(header)
    return fields == n or (fields == n - len(_TRAILING) and tuple(header[-len(_TRAILING):]) == _TRAILING)


def _checked_header(header: list[str], drop_index: bool, path: Path, notices: list[str]) -> dict[int, str]:
    """Column position -> name of the columns kept; duplicated names are an error when the analysis uses them."""
    named = {i: name.strip() for i, name in enumerate(header) if not (drop_index and i == 0)}
    missing = [c for c in REQUIRED_COLUMNS if c not in named.values()]
    if missing:
        raise ValueError(f"{path}: not a batch-results file: missing column(s) {', '.join(missing)}")
    positions: dict[str, list[int]] = {}
    for i, name in named.items():
        positions.setdefault(name, []).append(i)
    repeated = {name: at for name, at in positions.items() if len(at) > 1}
    used = [n for n in repeated if n in REQUIRED_COLUMNS or n.startswith("Answer.") or n in _USED]
    if used:
        raise ValueError(f"{path}: duplicated column name(s) in the header: " + "; ".join(
            f"{n} (columns {', '.join(str(i + 1) for i in repeated[n])})" for n in used))
    if repeated:
        notices.append("duplicated column name(s) in the header, the first of each kept: " + "; ".join(
            f"{n} (columns {', '.join(str(i + 1) for i in at)})" for n, at in repeated.items()))
    return {i: name for i, name in named.items() if positions[name][0] == i}


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
        codes, uniques = pd.factorize(frame[column].astype(str))   # test each distinct answer once
        distinct = pd.Series(uniques, dtype=object)
        listed = (distinct.str.startswith("[") & distinct.str.endswith("]")).to_numpy(dtype=bool)
        if listed.any():
            distinct[listed] = distinct[listed].map(_list_cell)
            frame[column] = distinct.to_numpy()[codes]
    return frame


def _list_cell(cell: str) -> str:
    try:
        values = ast.literal_eval(cell)
    except (ValueError, SyntaxError):
        return cell
    return "|".join(str(v) for v in values) if isinstance(values, (list, tuple)) else cell


def strip_text(values: pd.Series) -> pd.Series:
    """``values`` as text with surrounding whitespace removed, each distinct value stripped once (a column
    of a million answers holds a few distinct ones)."""
    codes, uniques = pd.factorize(values.fillna("").astype(str))
    stripped = pd.Series(uniques, dtype=object).str.strip().to_numpy(dtype=object)
    return pd.Series(stripped[codes] if len(codes) else [], index=values.index, dtype=object)


def parse_times(values: pd.Series) -> pd.Series:
    """MTurk times (``Mon Nov 04 22:15:19 PST 2019``) as UTC timestamps; NaT where empty or unreadable.

    PST and PDT are read as UTC-8 and UTC-7 (``strptime``'s ``%Z`` accepts neither unless the process
    runs in US Pacific time); UTC and GMT are accepted too. Cells in exactly that layout are read by
    vectorised byte arithmetic (a million in a fraction of a second); others by ``pd.to_datetime``.
    """
    cells = values.fillna("").astype(str)
    fast = _fast_times(cells.to_numpy(dtype=object))
    if fast is not None:
        result, ok = fast
        result.index = values.index
        rest = ~ok & cells.ne("").to_numpy()
    else:
        result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
        rest = cells.ne("").to_numpy()
    if rest.any():
        text = cells[rest].str.strip()
        for zone, offset in _ZONES.items():
            text = text.str.replace(f" {zone} ", f" {offset} ", regex=False)
        result[rest] = pd.to_datetime(text, format="%a %b %d %H:%M:%S %z %Y", utc=True, errors="coerce")
    return result


_MONTHS = {m: i + 1 for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                           "Nov", "Dec"))}
_OFFSET_HOURS = {"PST": 8, "PDT": 7, "UTC": 0, "GMT": 0}


def _fast_times(cells: np.ndarray):
    """(timestamps, ok) for cells exactly in the layout ``Mon Nov 04 22:15:19 PST 2019``; None if not ASCII."""
    try:
        raw = cells.astype("S29")
    except (UnicodeEncodeError, ValueError):
        return None
    grid = raw.view(np.uint8).reshape(len(raw), 29) if len(raw) else np.zeros((0, 29), np.uint8)

    def number(start, width):
        out = np.zeros(len(grid), np.int64)
        for k in range(width):
            out = out * 10 + (grid[:, start + k].astype(np.int64) - 48)
        return out

    ok = (grid[:, 28] == 0) & (grid[:, 27] != 0)
    for position in (3, 7, 10, 19, 23):
        ok &= grid[:, position] == 32
    for position in (13, 16):
        ok &= grid[:, position] == 58
    for position in (8, 9, 11, 12, 14, 15, 17, 18, 24, 25, 26, 27):
        ok &= (grid[:, position] >= 48) & (grid[:, position] <= 57)
    month = _lookup(grid[:, 4:7], _MONTHS)
    zone = _lookup(grid[:, 20:23], _OFFSET_HOURS)
    ok &= (month > 0) & (zone >= 0)
    parts = pd.DataFrame({"year": np.where(ok, number(24, 4), 1970), "month": np.where(ok, month, 1),
                          "day": np.where(ok, number(8, 2), 1), "hour": np.where(ok, number(11, 2), 0),
                          "minute": np.where(ok, number(14, 2), 0), "second": np.where(ok, number(17, 2), 0)})
    stamps = pd.to_datetime(parts, errors="coerce") + pd.to_timedelta(np.where(ok, zone, 0), unit="h")
    ok &= stamps.notna().to_numpy()
    return stamps.where(ok).dt.tz_localize("UTC"), ok


def _lookup(letters: np.ndarray, table: dict[str, int]) -> np.ndarray:
    """Three ASCII letters per row -> ``table``'s value (-1 when absent), without a Python loop over rows."""
    codes = letters.astype(np.int64) @ np.array([65536, 256, 1])
    keys = np.array([ord(k[0]) * 65536 + ord(k[1]) * 256 + ord(k[2]) for k in table])
    values = np.array(list(table.values()))
    order = np.argsort(keys)
    at = np.clip(np.searchsorted(keys[order], codes), 0, len(keys) - 1)
    return np.where(keys[order][at] == codes, values[order][at], -1)


def parse_rewards(values: pd.Series) -> pd.Series:
    """``"$0.05 "`` -> ``0.05`` (US dollars as float); NaN where empty or unreadable."""
    return per_distinct(values, lambda text: pd.to_numeric(
        text.str.strip().str.lstrip("$").str.replace(",", "", regex=False), errors="coerce"))


def parse_numbers(values: pd.Series) -> pd.Series:
    """Text cells as floats; NaN where empty or not a number."""
    return per_distinct(values, lambda text: pd.to_numeric(text.str.strip(), errors="coerce"))


def per_distinct(values: pd.Series, function) -> pd.Series:
    """``function`` (text Series -> Series) applied once per distinct cell of ``values``, spread back."""
    codes, uniques = pd.factorize(values.fillna("").astype(str))
    result = function(pd.Series(uniques, dtype=object)).to_numpy()
    return pd.Series(result[codes] if len(codes) else result[:0], index=values.index)


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s*\((\d+)/(\d+)\)\s*$")


def parse_approval_rates(values: pd.Series) -> pd.DataFrame:
    """``"100% (36/36)"`` -> columns ``percent``, ``approved``, ``total`` (floats; NaN where unreadable)."""
    parts = values.fillna("").astype(str).str.extract(_RATE)
    parts.columns = ["percent", "approved", "total"]
    return parts.apply(pd.to_numeric, errors="coerce")
