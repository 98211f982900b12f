"""Benchmark: 100k assignments loaded, quality-controlled, aggregated and reported by studykit.analysis.

Builds a simulatability batch folder (``--tasks`` tasks per layer, ``--assignments`` each), simulates the
results CSV with studykit's annotator model (not timed), then times each stage of ``studykit analyze``:
reading the CSV, the canonical table, quality control, the confidence-weighted vote, the study's
tables and figures (which also run the plain vote, Dawid-Skene and Krippendorff's alpha), and writing
the report folder. Writes a Markdown summary to ``--out``.

    .venv/bin/python benchmarks/analysis.py --out benchmarks/results/analysis.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import studykit
from studykit.analysis import (AnnotatorModel, EstimateSettings, QCConfig, apply_qc, read_results_csv,
                               to_annotations, weighted_majority_vote, write_report, write_simulated_results)
from studykit.analysis.plan import synthetic_answer_key
from studykit.analysis.simulatability import report_sections


def build_batch(directory: Path, tasks_per_layer: int, assignments: int) -> Path:
    """A simulatability batch folder (manifest.json, tasks.csv, answer_key.csv) as docs/batch-folder.md describes."""
    key = synthetic_answer_key("simulatability", tasks_per_layer, seed=0)
    directory.mkdir(parents=True)
    key.to_csv(directory / "answer_key.csv", index=False)
    pd.DataFrame({"task_id": key["task_id"], "candidates": [f"assets/{i:016x}.png" for i in range(len(key))]}) \
        .to_csv(directory / "tasks.csv", index=False)
    manifest = {"format": "studykit-batch/1", "batch_id": "sim-bench", "study": "simulatability", "seed": 0,
                "hit": {"title": "Which image matches the patterns best?", "reward": "0.04",
                        "max_assignments": assignments, "assignment_duration_seconds": 1800},
                "n_hits": len(key), "answers": {"Answer.choice": "choice", "Answer.confidence": "confidence"}}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def timed(stages: dict, name: str, function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    stages[name] = time.perf_counter() - start
    return result


def run(tasks_per_layer: int, assignments: int, workdir: Path) -> tuple[dict, int, int]:
    batch = build_batch(workdir / "batch", tasks_per_layer, assignments)
    results = workdir / "results.csv"
    n = write_simulated_results(batch, results, AnnotatorModel({"dense": 0.36, "sparse": 0.55}, n_workers=400),
                                seed=0)
    key = pd.read_csv(batch / "answer_key.csv", dtype=str, keep_default_na=False)
    stages: dict[str, float] = {}
    raw = timed(stages, "read CSV", read_results_csv, results)
    annotations = timed(stages, "canonical table + answer key", to_annotations, raw, "simulatability", salt="bench",
                        answer_key=key)
    checked = timed(stages, "quality control", apply_qc, annotations, QCConfig.for_study("simulatability"))
    frame = checked.annotations.frame
    timed(stages, "confidence-weighted vote", weighted_majority_vote, frame, "choice")
    sections = timed(stages, "study tables + figures", report_sections, frame, EstimateSettings())
    timed(stages, "write report folder", write_report, workdir / "report", title="Simulatability study",
          sections=sections, qc=checked.report)
    return stages, n, len(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000, help="Tasks per layer (two layers).")
    parser.add_argument("--assignments", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="Markdown summary to write.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stages, n, kept = run(args.tasks, args.assignments, Path(tmp))
    total = sum(stages.values())
    lines = ["# Analysis benchmark: load, QC, aggregate, report", "",
             f"{n:,} assignments ({2 * args.tasks:,} simulatability HITs x {args.assignments}), {kept:,} rows kept "
             "by quality control; simulated with studykit's annotator model (generation not timed).", "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; python "
             f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
             f"studykit {studykit.__version__}.", "",
             "| stage | seconds |", "| --- | --- |"]
    lines += [f"| {name} | {seconds:.2f} |" for name, seconds in stages.items()]
    lines += [f"| **total** | **{total:.2f}** |", "",
              "Command: `.venv/bin/python benchmarks/analysis.py --out benchmarks/results/analysis.md`.", ""]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
