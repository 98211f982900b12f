"""From a results CSV to a report folder: load, quality control, study results, report.

:func:`analyze` runs the whole analysis in memory and returns an :class:`Analysis`;
:func:`write_analysis` writes its report folder (tables, figures, ``report.md``, the QC report and the
pseudonymized annotations).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
from pathlib import Path
from typing import Mapping

from studykit.formats.batch import Batch, read_batch, read_table
from studykit.formats.studies import study_schema

from . import confusion as confusion_study
from . import misclassification, simulatability, spurious
from .annotations import Annotations, load_annotations
from .qc import QCConfig, QCReport, apply_qc
from .report import Section, write_report
from .summaries import EstimateSettings

__all__ = ["Analysis", "analyze", "write_analysis", "ledger_hit_ids", "STUDY_RESULTS"]

#: Study name -> module with ``task_outcomes``, ``annotation_outcomes``, ``report_sections``, ``COMPARISON``.
STUDY_RESULTS = {"simulatability": simulatability, "spurious": spurious, "misclassification": misclassification}


@dataclasses.dataclass(frozen=True)
class Analysis:
    """An analysed results file.

    Attributes
    ----------
    loaded : Annotations
        Every usable row (workers pseudonymized) and the unusable ones (``problems``).
    kept : Annotations
        The rows that passed quality control.
    qc : QCReport
    sections : list of Section
        The study's results (and G.3 when a layer and confusion matrix were given).
    description : str
        What was analysed, with which settings (the report's preamble).
    """

    loaded: Annotations
    kept: Annotations
    qc: QCReport
    sections: list[Section]
    description: str


def analyze(results: str | os.PathLike, *, study: str | None = None, batch: str | os.PathLike | Batch | None = None,
            answers: Mapping[str, str] | None = None, answer_key: str | os.PathLike | None = None,
            qc: QCConfig | None = None, settings: EstimateSettings | None = None, salt: str,
            layer: str | os.PathLike | None = None, confusion: str | os.PathLike | None = None) -> Analysis:
    """Analyse a batch-results CSV.

    Parameters
    ----------
    results : path-like
        The CSV (Requester website download, or studykit's fetch, preview or simulator).
    study : str, optional
        ``simulatability``, ``spurious`` or ``misclassification``; default: the batch's.
    batch : path-like or Batch, optional
        The batch folder (or the :class:`Batch` already read from it): its manifest's study and
        ``answers`` mapping, and its ``answer_key.csv``.
    answers : mapping, optional
        ``Answer.*`` field -> answer name, overriding the batch's (for CSVs from elsewhere).
    answer_key : path-like, optional
        An answer-key CSV, overriding the batch's.
    qc : QCConfig, optional
        Default: the paper's settings for the study.
    settings : EstimateSettings, optional
        Interval kind, coverage and seed.
    salt : str
        Secret salt of the worker pseudonyms.
    layer, confusion : path-like, optional
        A decision layer ``.npz`` and a confusion matrix (``.npy``/``.csv``): adds G.3 (both or neither).

    Returns
    -------
    Analysis
    """
    if (layer is None) != (confusion is None):
        raise ValueError("give both a decision layer and a confusion matrix for the G.3 analysis, or neither")
    batch_folder = batch if isinstance(batch, Batch) or batch is None else read_batch(batch)
    if study is None and batch_folder is None:
        raise ValueError("name the study, or give the batch folder it was built in")
    schema = study_schema(study if study is not None else batch_folder.schema)
    if batch_folder is not None and batch_folder.schema.name != schema.name:
        raise ValueError(f"the batch {batch_folder.directory} is a {batch_folder.schema.name} study, "
                         f"not {schema.name}")
    key = read_table(answer_key) if answer_key is not None else (
        batch_folder.answer_key if batch_folder is not None else None)
    if key is None:
        raise ValueError(f"the {schema.name} results need the answer key: give the batch folder or an answer key")
    mapping = answers if answers is not None else (batch_folder.answers if batch_folder is not None else None)
    hit_ids = ledger_hit_ids(batch_folder.directory) if batch_folder is not None else None
    loaded = load_annotations(results, schema, salt=salt, answers=mapping, answer_key=key, hit_ids=hit_ids)
    settings = settings or EstimateSettings()
    checked = apply_qc(loaded, qc or QCConfig.for_study(schema))
    sections = STUDY_RESULTS[schema.name].report_sections(checked.annotations.frame, settings) \
        if len(checked.annotations.frame) else [Section("Results", "No rows are left after quality control.")]
    if layer is not None:
        weight, classes = confusion_study.read_layer_weight(layer)
        sections += confusion_study.report_sections(weight, confusion_study.read_confusion(confusion), classes)
    description = (f"Results: `{Path(results).name}`" + (f", batch `{batch_folder.directory.name}`" if batch_folder
                                                        else "") + f"; study: {schema.name}; "
                   f"{settings.confidence:.0%} intervals: {settings.interval}; seed {settings.seed}. "
                   "Worker IDs are replaced by salted-hash pseudonyms in every file.")
    return Analysis(loaded, checked.annotations, checked.report, sections, description)


def write_analysis(analysis: Analysis, out_dir: str | os.PathLike, *, overwrite: bool = False) -> list[Path]:
    """Write the report folder of ``analysis`` (:func:`~studykit.analysis.report.write_report`), with
    ``annotations.csv``: every usable row, workers pseudonymized, and whether quality control kept it."""
    kept = set(analysis.kept.frame["assignment"])
    annotations = analysis.loaded.frame.assign(kept=analysis.loaded.frame["assignment"].isin(kept))
    data = Section("Data", "The annotations as analysed (one row per assignment; `kept`: passed quality control).",
                   files={"annotations": annotations})
    return write_report(out_dir, title=f"{analysis.loaded.schema.name.capitalize()} study", qc=analysis.qc,
                        sections=[*analysis.sections, data], preamble=analysis.description, overwrite=overwrite,
                        simulated=analysis.loaded.simulated)


def ledger_hit_ids(directory: str | os.PathLike) -> set[str] | None:
    """The HIT ids of a posted batch (its ``mturk.sqlite`` ledger, read only with the standard library);
    None when the batch was never posted (no ledger) or the ledger holds no HIT id.

    The ledger's layout belongs to :mod:`studykit.mturk` (table ``hits``, column ``hit_id``); analysis
    reads it without importing that package (boto3).
    """
    path = Path(directory) / "mturk.sqlite"
    if not path.is_file():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            rows = connection.execute("SELECT hit_id FROM hits WHERE hit_id IS NOT NULL").fetchall()
    except sqlite3.Error as exc:
        raise ValueError(f"{path}: cannot read the posting ledger ({exc})") from None
    return {str(r[0]) for r in rows} or None

