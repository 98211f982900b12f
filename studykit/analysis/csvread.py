"""Study-independent reading of damaged or odd CSV files: encodings, record scan, header checks, big cells.

This module knows nothing of MTurk or studies (its place is ``studykit/formats/`` once that package
exists; :mod:`studykit.analysis.load` builds the batch-results reader on it). It reads a whole file
into text cells and accounts for every record: each one is either a row of the table or listed,
with the line it starts on, among the problems.

**Encodings.** UTF-8 with or without a byte-order mark; UTF-16 with a byte-order mark, or without one
when every other byte of the start is NUL (the pattern of UTF-16 text in a Latin script); anything
else that is not valid UTF-8 is read as Windows-1252 with a notice, unless it holds valid multi-byte
UTF-8 sequences too (then it is UTF-8 with damaged bytes). Bytes that cannot be decoded become
U+001A (SUBSTITUTE) and the records holding them are reported, never kept.

**Records.** A vectorised scan (numpy, the file in chunks) finds every record's start, its physical
line (counting ``\\n``) and its number of fields, by the parity of the quotes before each byte. When
the file is well formed (every quote opens at a field's start and closes at its end, no quote left
open at the end of the file), pandas' C parser reads the cells and the scan's records are matched
to its rows one for one; otherwise the file is read again by Python's :mod:`csv` module with its
field-size limit lifted, which accepts any damage. A record whose quote is still open at the end of
the file is reported as truncated, as is a last record without a final newline and with fewer
fields than the header.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import io
import re
import sys

import numpy as np
import pandas as pd

__all__ = ["Decoded", "Scan", "CsvTable", "decode", "scan_records", "read_csv_table", "SUBSTITUTE"]

#: What an undecodable byte becomes.
SUBSTITUTE = "\x1a"
_CHUNK = 1 << 20
_QUOTE, _COMMA, _LF, _CR = 34, 44, 10, 13
_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


@dataclasses.dataclass(frozen=True)
class Decoded:
    """A file's bytes as UTF-8, the encoding it was read with, and notices for the report."""

    data: bytes
    encoding: str
    notices: tuple[str, ...]
    damaged: bool


def _substituting(positions: list[int]):
    def handler(exc: UnicodeDecodeError):
        positions.extend(range(exc.start, exc.end))
        return SUBSTITUTE * (exc.end - exc.start), exc.end
    return handler


def _decode_with(data: bytes, encoding: str) -> tuple[str, int]:
    positions: list[int] = []
    name = f"studykit-substitute-{id(positions)}"
    codecs.register_error(name, _substituting(positions))
    return data.decode(encoding, errors=name), len(positions)


def decode(data: bytes, path: str = "") -> Decoded:
    """Detect the encoding of ``data`` (module docstring) and return it as UTF-8 bytes."""
    if data.startswith(codecs.BOM_UTF8):
        return _utf8(data[3:], "UTF-8 with byte-order mark")
    for bom, name in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return _transcode(data[2:], name, f"UTF-16 ({name[-2:].upper()}, byte-order mark)")
    head = data[:4096]
    if len(head) >= 4 and head.count(0) >= len(head) // 4:
        odd_nul = head[1::2].count(0) > head[0::2].count(0)
        name = "utf-16-le" if odd_nul else "utf-16-be"
        return _transcode(data, name, f"UTF-16 ({name[-2:].upper()}, no byte-order mark: told by its NUL bytes)")
    return _utf8(data, "UTF-8")


def _utf8(data: bytes, label: str) -> Decoded:
    try:
        data.decode("utf-8")
        return Decoded(data, label, (), False)
    except UnicodeDecodeError:
        pass
    text, bad = _decode_with(data, "utf-8")
    if len(_MULTIBYTE.findall(data)) >= bad:
        return Decoded(text.encode("utf-8"), label, (f"{bad} byte(s) are not valid UTF-8; the records holding "
                                                     "them are reported",), True)
    text, bad = _decode_with(data, "cp1252")
    notice = "not UTF-8: read as Windows-1252 (cp1252); check accented characters"
    if bad:
        notice += f"; {bad} byte(s) undefined in cp1252, the records holding them are reported"
    return Decoded(text.encode("utf-8"), "Windows-1252", (notice,), bool(bad))


def _transcode(data: bytes, encoding: str, label: str) -> Decoded:
    text, bad = _decode_with(data, encoding)
    text = text.removeprefix("\ufeff")
    notices = (f"{bad} byte(s) are not valid {encoding}; the records holding them are reported",) if bad else ()
    return Decoded(text.encode("utf-8", errors="replace"), label, notices, bool(bad))


@dataclasses.dataclass(frozen=True)
class Scan:
    """Records of a CSV text found by quote parity.

    Attributes
    ----------
    starts, ends : ndarray of int64
        Byte offset of each record's first byte and of its terminating newline (or the file's end).
    lines : ndarray of int64
        The line (1-based) each record starts on.
    n_fields : ndarray of int64
        Fields per record (commas outside quotes + 1).
    well_formed : bool
        Every quote opens at a field's start and closes at a field's end, and none is left open.
    unclosed : bool
        The last record ends inside a quoted cell (the file was cut).
    """

    starts: np.ndarray
    ends: np.ndarray
    lines: np.ndarray
    n_fields: np.ndarray
    well_formed: bool
    unclosed: bool


def scan_records(data: bytes) -> Scan:
    """Split ``data`` (UTF-8 CSV text) into records without parsing cells (vectorised; module docstring)."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    size = len(buffer)
    ends, lines, comma_parts = [], [], []
    parity, well_formed, n_newlines, previous = 0, True, 0, -2
    for offset in range(0, size, _CHUNK):
        chunk = buffer[offset:offset + _CHUNK]
        events = np.flatnonzero((chunk == _QUOTE) | (chunk == _COMMA) | (chunk == _LF) | (chunk == _CR)) + offset
        kinds = buffer[events]
        is_quote = kinds == _QUOTE
        inside = ((np.cumsum(is_quote, dtype=np.int32) - is_quote + parity) & 1).astype(bool)
        well_formed &= _quotes_well_placed(buffer, events, is_quote, inside, previous)
        is_lf = kinds == _LF
        is_end = is_lf & ~inside
        ends.append(events[is_end])
        lines.append(n_newlines + np.cumsum(is_lf, dtype=np.int64)[is_end])
        comma_parts.append(events[(kinds == _COMMA) & ~inside])
        n_newlines += int(is_lf.sum())
        parity = (parity + int(is_quote.sum())) & 1
        previous = int(events[-1]) if len(events) else previous
    ends = np.concatenate(ends) if ends else np.zeros(0, np.int64)
    commas = np.concatenate(comma_parts) if comma_parts else np.zeros(0, np.int64)
    end_lines = np.concatenate(lines) if lines else np.zeros(0, np.int64)
    if size and (len(ends) == 0 or ends[-1] != size - 1):
        ends = np.append(ends, size)
        end_lines = np.append(end_lines, n_newlines + 1)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64) if len(ends) else np.zeros(0, np.int64)
    # A record starts on the line after the one its predecessor's newline ends.
    start_lines = np.concatenate([[1], end_lines[:-1] + 1]) if len(ends) else np.zeros(0, np.int64)
    n_fields = np.diff(np.searchsorted(commas, np.concatenate([[-1], ends]))) + 1
    return Scan(starts, ends.astype(np.int64), start_lines.astype(np.int64), n_fields.astype(np.int64),
                bool(well_formed and not parity), bool(parity))


def _quotes_well_placed(buffer: np.ndarray, events: np.ndarray, is_quote: np.ndarray, inside: np.ndarray,
                        previous: int) -> bool:
    """Opening quotes follow a delimiter, line start or quote; closing ones precede a delimiter, line end or quote.

    ``events`` are the positions of every quote, comma, CR and LF, so "the byte before is one of them"
    is "the event before is adjacent".
    """
    if not is_quote.any():
        return True
    gaps = np.diff(events, prepend=previous)
    opening = is_quote & ~inside
    closing = is_quote & inside
    ok_open = (gaps[opening] == 1) | (events[opening] == 0)
    last = int(events[-1])
    # The event after the chunk's last one lies in the next chunk: look at the byte itself.
    tail = last == len(buffer) - 1 or int(buffer[last + 1]) in (_QUOTE, _COMMA, _LF, _CR)
    ok_close = np.append(gaps[1:] == 1, tail)[closing]
    return bool(ok_open.all() and ok_close.all())


@dataclasses.dataclass(frozen=True)
class CsvTable:
    """A CSV file read as text cells.

    Attributes
    ----------
    header : list of str
        The header's names as written (duplicates included).
    frame : DataFrame
        One row per data record whose number of fields is in ``accept`` (the columns asked for,
        named by their position in ``header``, as strings; short records padded with ``""``).
    lines : ndarray of int64
        The line each row of ``frame`` starts on.
    n_fields : ndarray of int64
        The fields each row of ``frame`` had.
    problems : list of (line, cells, reason)
        Records not in ``frame``: wrong number of fields, undecodable bytes, truncated; ``cells`` maps
        a column's position in ``header`` to the record's cell there, when it could be read.
    encoding : str
    notices : tuple of str
        What the report should say about the file as a whole (encoding guesses, damaged bytes).
    """

    header: list[str]
    frame: pd.DataFrame
    lines: np.ndarray
    n_fields: np.ndarray
    problems: list[tuple[int, dict[int, str], str]]
    encoding: str
    notices: tuple[str, ...]


def read_csv_table(raw: bytes, path: str, *, columns=None, accept=None) -> CsvTable:
    """Read CSV bytes into text cells, reporting every record it cannot use.

    Parameters
    ----------
    raw : bytes
        The file's content.
    path : str
        Its name, for messages.
    columns : callable, optional
        ``columns(index, name) -> bool``: which columns of the header to read (default: all).
    accept : callable, optional
        ``accept(n_fields, header) -> bool``: record lengths kept (default: equal to the header's).

    Raises
    ------
    ValueError
        When the file is empty, has no header, or uses CR-only line endings.
    """
    decoded = decode(raw, path)
    data = decoded.data
    scan = scan_records(data)
    if not len(scan.starts) or not data[scan.starts[0]:scan.ends[0]].strip(b"\r\n\t ,\"\x1a"):
        raise ValueError(f"{path}: empty file (no header row)")
    if b"\r" in data[scan.starts[0]:scan.ends[0]].rstrip(b"\r\n") and \
            data.count(b"\r") - data.count(b"\r\n") > len(scan.starts):
        raise ValueError(f"{path}: CR-only line endings (the Requester website's legacy export); "
                         "re-save the file with LF or CRLF line endings")
    header = _cells(data[scan.starts[0]:scan.ends[0]])
    n = len(header)
    accept = accept or (lambda fields, names: fields == len(names))
    wanted = [i for i, name in enumerate(header) if columns is None or columns(i, name)]
    fast = scan.well_formed and not decoded.damaged
    rows, lines, counts, problems = (_fast(data, scan, header, wanted, accept) if fast
                                     else _slow(data, scan, header, wanted, accept))
    frame = pd.DataFrame(rows, columns=[str(i) for i in wanted]) if not isinstance(rows, pd.DataFrame) else rows
    return CsvTable(header, frame.reset_index(drop=True), lines, counts, problems, decoded.encoding,
                    decoded.notices)


def _cells(record: bytes) -> list[str]:
    with _field_limit():
        return next(csv.reader(io.StringIO(record.decode("utf-8", errors="replace").rstrip("\r\n"), newline="")),
                    [])


@contextlib.contextmanager
def _field_limit():
    """Lift :mod:`csv`'s field-size limit (131,072 characters) for the block, then restore it."""
    previous = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2 ** 31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _fast(data: bytes, scan: Scan, header: list[str], wanted: list[int], accept):
    """pandas' C parser on a well-formed file; the scan's records matched to its rows one for one."""
    n = len(header)
    blank = _blank_mask(data, scan)
    body = io.BytesIO(data)
    body.seek(int(scan.ends[0]) + 1 if len(scan.ends) > 1 else len(data))
    records = np.arange(1, len(scan.starts))
    # pandas refuses usecols beyond the widest row, so read those and add the rest as empty cells.
    width = int(scan.n_fields[records].max()) if len(records) else 1
    present = [str(i) for i in wanted if i < width]
    try:
        frame = pd.read_csv(body, header=None, names=[str(i) for i in range(width)], usecols=present, dtype=str,
                            keep_default_na=False, na_filter=False, skip_blank_lines=False, engine="c",
                            quoting=csv.QUOTE_MINIMAL)
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        return _slow(data, scan, header, wanted, accept)
    frame = frame.reindex(columns=[str(i) for i in wanted], fill_value="")
    if len(frame) != len(records):
        return _slow(data, scan, header, wanted, accept)
    fields = scan.n_fields[records]
    keep = ~blank[records] & np.array([accept(int(f), header) for f in np.unique(fields)], bool)[
        np.searchsorted(np.unique(fields), fields)] if len(fields) else np.zeros(0, bool)
    if len(records) and not data.endswith(b"\n") and fields[-1] < n:
        keep[-1] = False
    bad = ~keep & ~blank[records]
    cells = frame[bad].to_numpy()
    problems = [(int(scan.lines[r]), dict(zip(wanted, row)), _length_reason(scan, int(r), n, data))
                for r, row in zip(records[bad], cells)]
    frame = frame[keep]
    return frame, scan.lines[records][keep], fields[keep], problems


def _blank_mask(data: bytes, scan: Scan) -> np.ndarray:
    length = scan.ends - scan.starts
    mask = length <= 2
    for i in np.flatnonzero(mask):
        mask[i] = not data[scan.starts[i]:scan.ends[i]].strip(b"\r\n")
    return mask


def _length_reason(scan: Scan, record: int, n: int, data: bytes) -> str:
    if record == len(scan.starts) - 1 and scan.unclosed:
        return "truncated: the file ends inside a quoted cell of this record"
    fields = int(scan.n_fields[record])
    if record == len(scan.starts) - 1 and fields < n and not data.endswith(b"\n"):
        return f"truncated: the last record has {fields} fields, the header has {n}, and no final newline"
    return f"has {fields} fields, the header has {n}"


def _slow(data: bytes, scan: Scan, header: list[str], wanted: list[int], accept):
    """Python's csv module record by record (damaged files): the field-size limit lifted, each record's line kept."""
    text = data.decode("utf-8", errors="replace")
    records: list[tuple[int, list[str], str]] = []
    with _field_limit():
        reader = csv.reader(io.StringIO(text, newline=""))
        next(reader, None)
        start = reader.line_num + 1
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                records.append((start, [], f"unreadable record ({exc})"))
            else:
                if record and not (len(record) == 1 and not record[0].strip()):
                    records.append((start, record, ""))
            start = reader.line_num + 1
    rows, lines, counts, problems = [], [], [], []
    for position, (line, record, reason) in enumerate(records):
        reason = reason or _record_problem(record, header, accept, scan, text, position == len(records) - 1)
        if reason:
            problems.append((line, {i: record[i] for i in wanted if i < len(record)}, reason))
            continue
        rows.append([record[i] if i < len(record) else "" for i in wanted])
        lines.append(line)
        counts.append(len(record))
    return rows, np.asarray(lines, np.int64), np.asarray(counts, np.int64), problems


def _record_problem(record: list[str], header: list[str], accept, scan: Scan, text: str, last: bool) -> str:
    n = len(header)
    if last and scan.unclosed:
        return "truncated: the file ends inside a quoted cell of this record"
    if any(SUBSTITUTE in cell for cell in record):
        column = next(i for i, cell in enumerate(record) if SUBSTITUTE in cell)
        return f"undecodable byte(s) in field {column + 1}"
    if last and len(record) < n and not text.endswith("\n"):
        return f"truncated: the last record has {len(record)} fields, the header has {n}, and no final newline"
    if not accept(len(record), header):
        return f"has {len(record)} fields, the header has {n}"
    return ""
