"""``studykit simulate``, ``analyze`` and ``plan`` through click's CliRunner; import isolation."""

import subprocess
import sys

import numpy as np
import pandas as pd
from click.testing import CliRunner

from studykit.cli import main


def invoke(*args, env=None):
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    assert "Traceback" not in result.output, result.output
    return result


def ok(*args, env=None):
    result = invoke(*args, env=env)
    assert result.exit_code == 0, result.output
    return result


def error(*args):
    result = invoke(*args)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    return lines[0]


def test_simulate_then_analyze(make_batch, tmp_path):
    batch = make_batch("simulatability", 30)
    results, report = tmp_path / "results.csv", tmp_path / "report"
    out = ok("simulate", batch, "--out", results, "--accuracy", "sparse=0.8", "--seed", 2).output
    assert "300 simulated assignments" in out and "sparse 0.8" in out
    assert "already exists" in error("simulate", batch, "--out", results)
    ok("simulate", batch, "--out", results, "--overwrite")
    out = ok("analyze", results, "--batch", batch, "--out", report, "--salt", "s3cret").output
    assert "report.md" in out
    for name in ("report.md", "table25.md", "table25.csv", "table25.tex", "fig24a_candidate_probabilities.png",
                 "fig24b_selected_rank.png", "fig24c_per_class_accuracy.png", "qc_summary.md", "annotations.csv"):
        assert (report / name).is_file(), name
    raw_workers = set(pd.read_csv(results, dtype=str)["WorkerId"])
    for path in report.iterdir():
        if path.suffix in (".md", ".csv", ".tex"):
            text = path.read_text()
            assert not any(worker in text for worker in raw_workers), path
    assert "not empty" in error("analyze", results, "--batch", batch, "--out", report)
    ok("analyze", results, "--batch", batch, "--out", report, "--overwrite", "--interval", "bootstrap",
       "--min-annotators", "3")


def test_salt_from_environment_gives_stable_pseudonyms(make_batch, tmp_path):
    batch = make_batch("misclassification", 10)
    ok("simulate", batch, "--out", tmp_path / "r.csv")
    for name in ("a", "b"):
        ok("analyze", tmp_path / "r.csv", "--batch", batch, "--out", tmp_path / name, env={"STUDYKIT_SALT": "k"})
    first, second = (pd.read_csv(tmp_path / n / "annotations.csv")["worker"] for n in ("a", "b"))
    assert first.tolist() == second.tolist()


def test_analyze_errors_are_one_line(make_batch, tmp_path):
    batch = make_batch("spurious", 5)
    ok("simulate", batch, "--out", tmp_path / "r.csv")
    assert "not spurious" in error("analyze", tmp_path / "r.csv", "--batch", make_batch("simulatability", 3),
                                   "--out", tmp_path / "x", "--study", "spurious")
    assert "no such results file" in error("analyze", tmp_path / "nope.csv", "--batch", batch, "--out", tmp_path / "x")
    assert "no Answer.* column for confidence" in error("analyze", tmp_path / "r.csv", "--batch", batch, "--out", tmp_path / "y",
                                            "--answer", "Answer.yesno=common")
    assert "need the answer key" in error("analyze", tmp_path / "r.csv", "--study", "spurious",
                                          "--out", tmp_path / "z")
    assert "both a decision layer" in error("analyze", tmp_path / "r.csv", "--batch", batch, "--out", tmp_path / "w",
                                            "--layer", tmp_path / "l.npz")


def test_analyze_with_confusion_files(make_batch, tmp_path):
    batch = make_batch("misclassification", 10)
    ok("simulate", batch, "--out", tmp_path / "r.csv")
    rng = np.random.default_rng(0)
    weight = np.where(rng.random((6, 20)) < 0.3, rng.normal(size=(6, 20)), 0.0)
    np.savez(tmp_path / "sparse.npz", weight=weight, bias=np.zeros(6))
    pd.DataFrame(rng.integers(0, 20, (6, 6))).to_csv(tmp_path / "confusion.csv", index=False)
    ok("analyze", tmp_path / "r.csv", "--batch", batch, "--out", tmp_path / "report", "--layer", tmp_path / "sparse.npz",
       "--confusion", tmp_path / "confusion.csv")
    correlation = pd.read_csv(tmp_path / "report" / "confusion_correlation.csv")
    assert correlation["n_pairs"].tolist() == [15, 15]
    assert (tmp_path / "report" / "fig34_confusion_vs_shared.png").is_file()


def test_plan_prints_costs(tmp_path):
    out = ok("plan", "--study", "simulatability", "--tasks", "1000", "--assignments", "5,10", "--simulated-tasks", "200",
             "--out", tmp_path / "plan.csv").output
    # $400 of rewards + 10,000 x the $0.01 minimum fee; $800 + 20,000 x $0.02 (40% of $0.04, rounded up).
    assert "| 1000 | 5 | 2000 | 500.00 |" in out
    assert "| 1000 | 10 | 2000 | 1,200.00 |" in out
    table = pd.read_csv(tmp_path / "plan.csv")
    assert table["total"].tolist() == [500.0, 1200.0]
    assert "already exists" in error("plan", "--study", "spurious", "--out", tmp_path / "plan.csv")
    assert "--tasks" in invoke("plan", "--study", "spurious", "--tasks", "a,b").output
    assert "accuracy" in error("plan", "--study", "spurious", "--accuracy", "dense=1.5", "--simulated-tasks", "20")


def test_help_and_import_stay_free_of_heavy_packages():
    code = ("import sys, studykit.analysis, studykit.cli.analysis; "
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('torch', 'boto3', 'botocore') "
            "or (m.startswith('studykit.') and m.split('.')[1] not in ('analysis', 'cli', 'formats', '_io'))]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    code = "import sys, studykit.cli.analysis; print([m for m in sys.modules if m.startswith(('pandas', 'studykit.analysis'))])"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
