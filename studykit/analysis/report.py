"""Report folders: every table as Markdown, CSV and LaTeX, every figure as PNG, and ``report.md``.

A :class:`Table` holds its data unrounded (written to CSV as is) and, optionally, a display frame of
formatted text for Markdown and LaTeX (built with :func:`format_percent`, :func:`format_interval`,
:func:`format_p`); numbers are rounded only here. A :class:`ReportFigure` holds a matplotlib
:class:`~matplotlib.figure.Figure` made without pyplot (no global state, no window), saved with the
Agg renderer. :func:`write_report` refuses a folder that is not empty unless ``overwrite=True``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .qc import QCReport

__all__ = ["Table", "ReportFigure", "Section", "write_report", "format_percent", "format_interval", "format_p",
           "format_number", "markdown_table", "latex_table"]


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
    """

    name: str
    title: str
    data: pd.DataFrame
    display: pd.DataFrame | None = None
    note: str = ""


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
    """4 significant digits for floats, integers as integers, ``""`` for NaN, text unchanged."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return ""
        return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    return "" if value is None else str(value)


def format_percent(mean: float, se: float | None = None, digits: int = 2) -> str:
    """``0.6302, 0.0302`` -> ``"63.02 ± 3.02"`` (percent); ``""`` when the mean is NaN."""
    if mean is None or np.isnan(mean):
        return ""
    text = f"{100 * mean:.{digits}f}"
    return text if se is None or np.isnan(se) else f"{text} ± {100 * se:.{digits}f}"


def format_interval(low: float, high: float, digits: int = 1, percent: bool = True) -> str:
    """``0.591, 0.668`` -> ``"[59.1, 66.8]"`` (percent unless ``percent=False``)."""
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


def latex_table(frame: pd.DataFrame, caption: str = "", label: str = "") -> str:
    """A booktabs ``table`` environment of text cells, special characters escaped."""
    columns = "l" * len(frame.columns)
    lines = [r"\begin{table}[t]", r"\centering", rf"\begin{{tabular}}{{{columns}}}", r"\toprule",
             " & ".join(_latex_escape(c) for c in frame.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(_latex_escape(c) for c in row) + r" \\" for row in frame.itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines.append(rf"\caption{{{_latex_escape(caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def write_report(out_dir: str | os.PathLike, *, title: str, sections: Sequence[Section], qc: QCReport | None = None,
                 preamble: str = "", overwrite: bool = False) -> list[Path]:
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
    lines = [f"# {title}", ""] + ([preamble, ""] if preamble else [])
    if qc is not None:
        sections = [_qc_section(qc)] + list(sections)
        written.append(_csv(qc.exclusions, out / "qc_exclusions.csv"))
    for section in sections:
        lines += [f"## {section.title}", ""] + ([section.text, ""] if section.text else [])
        for table in section.tables:
            written += _write_table(table, out)
            lines += [f"**{table.title}** ([csv]({table.name}.csv), [tex]({table.name}.tex))", "",
                      markdown_table(_display(table)), ""] + ([table.note, ""] if table.note else [])
        for figure in section.figures:
            written.append(_png(figure.figure, out / f"{figure.name}.png"))
            lines += [f"**{figure.title}**", "", f"![{figure.title}]({figure.name}.png)", ""] \
                + ([figure.note, ""] if figure.note else [])
        for name, frame in section.files.items():
            written.append(_csv(frame, out / f"{name}.csv"))
            lines += [f"Data: [{name}.csv]({name}.csv) ({len(frame)} rows).", ""]
    if qc is not None:
        lines += ["Every excluded row, with its line in the results file and its rule: "
                  "[qc_exclusions.csv](qc_exclusions.csv).", ""]
    report = out / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return written + [report]


def _qc_section(qc: QCReport) -> Section:
    config = qc.config
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
    return Section("Quality control", text, tables=[Table("qc_summary", "Quality control", qc.summary)])


def _write_table(table: Table, out: Path) -> list[Path]:
    display = _display(table)
    md, tex = out / f"{table.name}.md", out / f"{table.name}.tex"
    md.write_text(f"{table.title}\n\n{markdown_table(display)}\n" + (f"\n{table.note}\n" if table.note else ""),
                  encoding="utf-8")
    tex.write_text(latex_table(display, caption=table.title, label=f"tab:{table.name}"), encoding="utf-8")
    return [md, _csv(table.data, out / f"{table.name}.csv"), tex]


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def _png(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=150, bbox_inches="tight")
    return path
