"""Benchmark: a million assignments loaded, quality-controlled, aggregated and reported by studykit.analysis.

Generates, in a child process (not timed, not counted in the memory figures), a simulatability batch
folder and a batch-results CSV of ``--rows`` assignments in the Requester website's layout (every
cell quoted, CRLF; answers drawn by studykit's annotator model, 5 per task), then times each stage of
``studykit analyze`` in this process and reports, per stage, the seconds and the peak resident memory
so far (``ru_maxrss``): reading the CSV, the canonical table with the answer key, quality control,
the confidence-weighted vote, the study's tables and figures (which also run the plain vote,
Dawid-Skene and Krippendorff's alpha), and writing the report folder (``annotations.csv`` included).
Then the same file through the generic analysis (``analyze --question``), timed as a whole.

    .venv/bin/python benchmarks/analysis.py --rows 1000000 --out benchmarks/results/analysis.md

Run it on 2 cores to compare with the README's figure (``taskset -c 0,1`` on a bigger machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ASSIGNMENTS = 5


def generate(directory: Path, rows: int) -> Path:
    """The batch folder and ``results.csv`` of ``rows`` simulated assignments (vectorised, in chunks)."""
    from studykit.analysis import AnnotatorModel
    from studykit.analysis.plan import synthetic_answer_key
    from studykit.analysis.simulate import simulate_annotations

    tasks_per_layer = max(rows // ASSIGNMENTS // 2, 1)
    key = synthetic_answer_key("simulatability", tasks_per_layer, seed=0)
    batch = directory / "batch"
    batch.mkdir(parents=True)
    key.to_csv(batch / "answer_key.csv", index=False)
    pd.DataFrame({"task_id": key["task_id"], "candidates": [f"assets/{i:016x}.png" for i in range(len(key))]}) \
        .to_csv(batch / "tasks.csv", index=False)
    manifest = {"format": "studykit-batch/1", "batch_id": "bench", "study": "simulatability", "seed": 0,
                "hit": {"title": "Which image matches the patterns best?", "reward": "0.04",
                        "max_assignments": ASSIGNMENTS}, "n_hits": len(key),
                "answers": {"Answer.choice": "choice", "Answer.confidence": "confidence"}}
    (batch / "manifest.json").write_text(json.dumps(manifest))
    model = AnnotatorModel({"dense": 0.36, "sparse": 0.55}, n_workers=200)
    results = directory / "results.csv"
    start = pd.Timestamp("2026-01-05 09:00", tz="America/Los_Angeles")
    with results.open("w", newline="", encoding="utf-8") as handle:
        for chunk, offset in enumerate(range(0, len(key), 20_000)):
            part = key.iloc[offset:offset + 20_000].reset_index(drop=True)
            frame = simulate_annotations(part, "simulatability", model, assignments=ASSIGNMENTS, seed=chunk)
            index = offset * ASSIGNMENTS + np.arange(len(frame))
            submit = start + pd.to_timedelta(index * 7 + frame["work_time"].to_numpy().astype(int), unit="s")
            table = pd.DataFrame({
                "HITId": "3H" + frame["task"].str.replace("t", "", regex=False).str.zfill(28),
                "HITTypeId": "3BENCHTYPE00000000000000000001", "Title": manifest["hit"]["title"],
                "Reward": "$0.04", "MaxAssignments": str(ASSIGNMENTS), "RequesterAnnotation": "studykit:simulated:bench",
                "AssignmentId": ["3A" + f"{i:028d}" for i in index],
                "WorkerId": ["A" + f"{w:013d}" for w in frame["worker"]], "AssignmentStatus": "Submitted",
                "AcceptTime": "Mon Jan 05 09:00:00 PST 2026", "SubmitTime": submit.strftime("%a %b %d %H:%M:%S PST %Y"),
                "WorkTimeInSeconds": frame["work_time"].astype(int).astype(str),
                "LifetimeApprovalRate": "100% (36/36)", "Input.task_id": frame["task"],
                "Input.candidates": "assets/candidates.png", "Answer.choice": frame["choice"],
                "Answer.confidence": frame["confidence"].map(lambda c: "" if np.isnan(c) else str(int(c))),
                "Approve": "", "Reject": ""})
            table.to_csv(handle, index=False, header=chunk == 0, quoting=1, lineterminator="\r\n")
    return results


def rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(stages: list, name: str, function, *args, **kwargs):
    start, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    stages.append((name, time.perf_counter() - start, time.process_time() - cpu, rss_mb()))
    return result


def run(workdir: Path) -> tuple[list, int, int, float]:
    from studykit.analysis import EstimateSettings, QCConfig, apply_qc, read_batch, weighted_majority_vote, write_report
    from studykit.analysis.annotations import load_annotations
    from studykit.analysis.generic import analyze_results, write_results_analysis
    from studykit.analysis.simulatability import report_sections

    batch, results = workdir / "batch", workdir / "results.csv"
    folder = read_batch(batch)
    stages: list = []
    annotations = timed(stages, "read CSV + canonical table + answer key", load_annotations, results,
                        "simulatability", salt="bench", answer_key=folder.answer_key)
    checked = timed(stages, "quality control", apply_qc, annotations, QCConfig.for_study("simulatability"))
    frame = checked.annotations.frame
    timed(stages, "confidence-weighted vote", weighted_majority_vote, frame, "choice")
    sections = timed(stages, "study tables + figures (plain vote, Dawid-Skene, alpha)", report_sections, frame,
                     EstimateSettings())
    timed(stages, "write report folder", write_report, workdir / "report", title="Simulatability study",
          sections=sections, qc=checked.report, simulated=annotations.simulated)
    generic: list = []
    analysis = timed(generic, "generic: read, QC, vote, tables", analyze_results, results, ["Answer.choice"],
                     salt="bench", confidence="Answer.confidence")
    timed(generic, "generic: write report folder (annotations.csv included)", write_results_analysis, analysis,
          workdir / "generic")
    return stages, len(annotations.frame), len(frame), generic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="Assignments (5 per task).")
    parser.add_argument("--out", type=Path, default=None, help="Markdown summary to write.")
    parser.add_argument("--generate", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate is not None:
        generate(args.generate, args.rows)
        return
    import studykit

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--generate", tmp], check=True)
        size = (Path(tmp) / "results.csv").stat().st_size
        baseline = rss_mb()
        stages, n, kept, generic = run(Path(tmp))
    total = sum(seconds for _, seconds, _, _ in stages)
    cpu_total = sum(cpu for _, _, cpu, _ in stages)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = ["# Analysis benchmark: load, QC, aggregate, report", "",
             f"{n:,} assignments ({n // ASSIGNMENTS:,} simulatability HITs x {ASSIGNMENTS}; CSV {size / 1e6:.0f} MB, "
             f"every cell quoted, CRLF), {kept:,} rows kept by quality control; generated in a child process "
             "with studykit's annotator model (not timed).", "",
             f"Machine: {platform.processor() or platform.machine()}, {cores} cores usable; python "
             f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
             f"studykit {studykit.__version__}. Peak RSS after the imports: {baseline:.0f} MB.", "",
             f"Load average when it ended: {load:.1f} (wall seconds grow with other processes' load; CPU seconds "
             "of this process much less).", "",
             "| stage | wall s | CPU s | peak RSS so far (MB) |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {name} | {seconds:.2f} | {cpu:.2f} | {peak:.0f} |" for name, seconds, cpu, peak in stages]
    lines += [f"| **`analyze --batch` total** | **{total:.2f}** | **{cpu_total:.2f}** | "
              f"**{max(p for *_, p in stages):.0f}** |"]
    lines += [f"| {name} | {seconds:.2f} | {cpu:.2f} | {peak:.0f} |" for name, seconds, cpu, peak in generic]
    lines += ["", "The `analyze --batch` stages are the study pipeline (`annotations.csv` not written); the generic "
              "rows are `analyze --question Answer.choice --confidence Answer.confidence` on the same file.", "",
              f"Command: `.venv/bin/python benchmarks/analysis.py --rows {args.rows}`.", ""]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
