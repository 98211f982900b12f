"""Report folders: every table as Markdown, CSV and LaTeX, every figure as PNG, and ``report.md``.

A :class:`Table` holds its data unrounded (written to CSV as is) and, optionally, a display frame of
formatted text for Markdown and LaTeX (built with :func:`format_percent`, :func:`format_interval`,
:func:`format_p`); numbers are rounded only here, by one rule: **every non-integer is shown with two
decimals** (percentages included: ``63.02 ± 3.02 [59.14, 66.84]``; Krippendorff's alpha ``0.43``),
integers as integers, p-values with three decimals (``< 0.001`` below), and a non-zero number that
two decimals would show as 0.00 in scientific notation with two significant digits (``1.2e-05``).

Tables are ready to paste: LaTeX with booktabs rules, numeric columns right-aligned, the caption once
(a leading "Table 25:" of the title becomes "(Table 25 of the paper)" at its end, so LaTeX's own
numbering does not repeat it), and an empty table written as a sentence saying so. A report of
simulated answers says "SIMULATED ANSWERS" in its title and in every table's caption.

A :class:`ReportFigure` holds a matplotlib :class:`~matplotlib.figure.Figure` made without pyplot
(no global state, no window), saved with the Agg renderer. CSV files are written with CRLF line
ends, so a cell holding a bare CR or LF is quoted and the file reads back identically.
:func:`write_report` refuses a folder that is not empty unless ``overwrite=True``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .qc import QCReport

__all__ = ["Table", "ReportFigure", "Section", "write_report", "format_percent", "format_interval", "format_p",
           "format_number", "markdown_table", "latex_table", "write_csv", "DECIMALS", "SIMULATED"]

#: Decimals of every non-integer number shown (the one rounding rule; module docstring).
DECIMALS = 2
#: Put in the title of reports computed from ``studykit simulate`` output.
SIMULATED = "SIMULATED ANSWERS"


@dataclasses.dataclass(frozen=True)
class Table:
    """A table of the report.

    Attributes
    ----------
    name : str
        File stem (``table25`` -> ``table25.md``, ``.csv``, ``.tex``).
    title : str
    data : DataFrame
        Unrounded numbers (the CSV).
    display : DataFrame, optional
        Formatted text for Markdown and LaTeX; default: ``data`` with numbers to 4 significant digits.
    note : str
        A sentence under the table.
    empty : str
        The sentence shown instead of the table when it has no rows (why it is empty).
    """

    name: str
    title: str
    data: pd.DataFrame
    display: pd.DataFrame | None = None
    note: str = ""
    empty: str = "No rows: nothing in the data gives this table a value."


@dataclasses.dataclass(frozen=True)
class ReportFigure:
    """A figure of the report (``name.png``)."""

    name: str
    title: str
    figure: Figure
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Section:
    """A section of ``report.md``: a heading, a paragraph, tables, figures, and data files.

    ``files`` maps a file stem to a table written only as CSV (too long to show), linked from the section.
    """

    title: str
    text: str = ""
    tables: Sequence[Table] = ()
    figures: Sequence[ReportFigure] = ()
    files: Mapping[str, pd.DataFrame] = dataclasses.field(default_factory=dict)


def format_number(value) -> str:
    """Two decimals for non-integers (scientific with two digits below 0.005), integers as integers, ``""``
    for NaN, text unchanged."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return ""
        if float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))
        return _decimals(float(value))
    return "" if value is None else str(value)


def _decimals(value: float, digits: int = DECIMALS) -> str:
    if value != 0 and abs(value) < 0.5 * 10 ** -digits:
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def format_percent(mean: float, se: float | None = None, digits: int = DECIMALS) -> str:
    """``0.6302, 0.0302`` -> ``"63.02 ± 3.02"`` (percent); ``""`` when the mean is NaN."""
    if mean is None or np.isnan(mean):
        return ""
    text = f"{100 * mean:.{digits}f}"
    return text if se is None or np.isnan(se) else f"{text} ± {100 * se:.{digits}f}"


def format_interval(low: float, high: float, digits: int = DECIMALS, percent: bool = True) -> str:
    """``0.5914, 0.6684`` -> ``"[59.14, 66.84]"`` (percent unless ``percent=False``)."""
    if np.isnan(low) or np.isnan(high):
        return ""
    scale = 100 if percent else 1
    return f"[{scale * low:.{digits}f}, {scale * high:.{digits}f}]"


def format_p(p: float) -> str:
    """A p-value: ``"< 0.001"`` below 0.001, else 3 decimals; ``""`` for NaN."""
    if p is None or np.isnan(p):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _display(table: Table) -> pd.DataFrame:
    frame = table.display if table.display is not None else table.data
    return frame.apply(lambda column: column.map(format_number)) if len(frame) else frame.astype(str)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of text cells (``|`` escaped)."""
    cells = [[str(c).replace("|", "\\|").replace("\n", " ") for c in row] for row in frame.itertuples(index=False)]
    header = [str(c).replace("|", "\\|") for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$", "<": r"$<$",
          ">": r"$>$"}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in str(text))


_NUMERIC = re.compile(r"^\s*(?:[<>]\s*)?[-+−]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?%?"
                      r"(?:\s*±\s*\d+(?:\.\d+)?)?\s*$|^\s*\[[-−\d.e+]+,\s*[-−\d.e+]+\]\s*$", re.IGNORECASE)
_TABLE_NUMBER = re.compile(r"^\s*((?:Table|Fig\.?|Figure)\s+\d+[a-z]?)\s*[:.]\s*", re.IGNORECASE)


def numeric_columns(frame: pd.DataFrame) -> list[bool]:
    """Whether each column of text cells holds numbers only (empty cells aside): right-aligned in LaTeX."""
    flags = []
    for column in frame.columns:
        cells = [str(c) for c in frame[column] if str(c).strip()]
        flags.append(bool(cells) and all(_NUMERIC.match(c) for c in cells))
    return flags


def latex_caption(title: str) -> str:
    """``"Table 25: accuracy"`` -> ``"Accuracy (Table 25 of the paper)"``: LaTeX numbers the table itself."""
    match = _TABLE_NUMBER.match(title)
    if not match:
        return title
    rest = title[match.end():]
    return f"{rest[:1].upper()}{rest[1:]} ({match.group(1)} of the paper)"


def latex_table(frame: pd.DataFrame, caption: str = "", label: str = "", empty: str = "") -> str:
    """A booktabs ``table`` environment of text cells: special characters escaped, numeric columns
    right-aligned, the caption once; a table without rows holds the sentence ``empty``."""
    align = "".join("r" if numeric else "l" for numeric in numeric_columns(frame)) or "l"
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{_latex_escape(latex_caption(caption))}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [rf"\begin{{tabular}}{{{align}}}", r"\toprule",
              " & ".join(_latex_escape(c) for c in frame.columns) + r" \\", r"\midrule"]
    if len(frame):
        lines += [" & ".join(_latex_escape(c) for c in row) + r" \\" for row in frame.itertuples(index=False)]
    else:
        lines.append(rf"\multicolumn{{{max(len(frame.columns), 1)}}}{{l}}{{{_latex_escape(empty or 'No rows.')}}} \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_report(out_dir: str | os.PathLike, *, title: str, sections: Sequence[Section], qc: QCReport | None = None,
                 preamble: str = "", overwrite: bool = False, simulated: bool = False) -> list[Path]:
    """Write a report folder.

    Parameters
    ----------
    out_dir : path-like
        The folder; created when absent.
    title : str
        Heading of ``report.md``.
    sections : sequence of Section
        In order; their tables and figures are written as files and shown in ``report.md``.
    qc : QCReport, optional
        Written first: ``qc_summary`` (a table) and ``qc_exclusions.csv`` (every excluded row).
    preamble : str
        Paragraph under the title (data source, settings).
    overwrite : bool
        Write into a folder that already holds files (files of the same names are replaced).
    simulated : bool
        The answers come from ``studykit simulate``: :data:`SIMULATED` heads the title and every caption.

    Returns
    -------
    list of Path
        Every file written, ``report.md`` last.

    Raises
    ------
    FileExistsError
        When ``out_dir`` is not empty and ``overwrite`` is False.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} is a file, not a report folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty; choose another folder or pass overwrite=True (--overwrite)")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    prefix = f"{SIMULATED}: " if simulated else ""
    lines = [f"# {prefix}{title}", ""] + ([preamble, ""] if preamble else [])
    if simulated:
        lines += [f"**{SIMULATED}**: every answer in this report was made up by studykit's simulated annotators "
                  "(`studykit simulate`); the numbers say nothing about people.", ""]
    if qc is not None:
        sections = [_qc_section(qc)] + list(sections)
        written.append(write_csv(qc.exclusions, out / "qc_exclusions.csv"))
    for section in sections:
        lines += [f"## {section.title}", ""] + ([section.text, ""] if section.text else [])
        for table in section.tables:
            table = dataclasses.replace(table, title=prefix + table.title)
            written += _write_table(table, out)
            body = markdown_table(_display(table)) if len(table.data) else table.empty
            lines += [f"**{table.title}** ([csv]({table.name}.csv), [tex]({table.name}.tex))", "",
                      body, ""] + ([table.note, ""] if table.note else [])
        for figure in section.figures:
            written.append(_png(figure.figure, out / f"{figure.name}.png"))
            lines += [f"**{figure.title}**", "", f"![{figure.title}]({figure.name}.png)", ""] \
                + ([figure.note, ""] if figure.note else [])
        for name, frame in section.files.items():
            written.append(write_csv(frame, out / f"{name}.csv"))
            lines += [f"Data: [{name}.csv]({name}.csv) ({len(frame)} rows).", ""]
    if qc is not None:
        lines += ["Every excluded row, with its line in the results file and its rule: "
                  "[qc_exclusions.csv](qc_exclusions.csv).", ""]
    report = out / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return written + [report]


def _qc_section(qc: QCReport) -> Section:
    config = qc.config
    notices = "".join(f"\n\n**Notice**: {n}" for n in qc.notices)
    text = (f"Rules applied in order (defaults are the paper's): blank-worker threshold "
            f"{config.blank_worker_threshold:.0%}, at least {config.min_annotators} annotators per task, "
            f"rejected assignments {'dropped' if config.drop_rejected else 'kept'}. For each rule, the rows "
            "it excluded and the workers and tasks it removed the last rows of.")
    problems = qc.exclusions[qc.exclusions["rule"] == "unparseable"]
    if len(problems):
        shown = problems.head(20)
        text += "\n\nUnparseable rows: " + "; ".join(f"line {ln}: {reason}" for ln, reason
                                                      in zip(shown["line"], shown["reason"]))
        if len(problems) > len(shown):
            text += f"; and {len(problems) - len(shown)} more"
    text += notices
    return Section("Quality control", text, tables=[Table("qc_summary", "Quality control", qc.summary)])


def _write_table(table: Table, out: Path) -> list[Path]:
    display = _display(table)
    md, tex = out / f"{table.name}.md", out / f"{table.name}.tex"
    body = markdown_table(display) if len(table.data) else table.empty
    md.write_text(f"{table.title}\n\n{body}\n" + (f"\n{table.note}\n" if table.note else ""), encoding="utf-8")
    tex.write_text(latex_table(display if len(table.data) else display.iloc[:0], caption=table.title,
                               label=f"tab:{table.name}", empty=table.empty), encoding="utf-8")
    return [md, write_csv(table.data, out / f"{table.name}.csv"), tex]


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``frame`` as CSV with CRLF line ends: cells holding a CR or LF are quoted, so the file reads back
    with the same rows and cells."""
    frame.to_csv(path, index=False, lineterminator="\r\n")
    return Path(path)


def _png(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=150, bbox_inches="tight")
    return path
