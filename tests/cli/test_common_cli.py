"""The CLI vocabulary of docs/cli.md, on every command: -q/--quiet, --device, STORE/--store and
--features, --overwrite refusals, one-line errors, and progress output when stderr is not a terminal."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import studykit
from studykit.cli import main
from test_solve_cli import make_store

#: Commands that compute (run a model, a solver or an encoder): each takes --device.
COMPUTING = {"demo", "features extract", "features default", "solve path", "solve select", "interpret fv",
             "interpret lime", "interpret order", "interpret wordcloud", "interpret counterfactual",
             "interpret rotten-tomatoes", "interpret counterfactual-image"}


def commands(group=main, prefix=()):
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, prefix + (name,))
        else:
            yield " ".join(prefix + (name,)), command


def options(command) -> dict:
    return {opt: param for param in command.params if isinstance(param, click.Option) and not param.hidden
            for opt in param.opts}


def error_line(result) -> str:
    """The one line of a CLI error (exit code 1, no traceback)."""
    lines = [line for line in result.output.splitlines() if line.strip() and not line.startswith("warning:")]
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, command", list(commands()))
def test_every_command_speaks_the_vocabulary(name, command):
    opts = options(command)
    assert "-q" in opts and "--quiet" in opts, name
    if name in COMPUTING:
        device = opts.get("--device")
        assert device is not None and device.default == "auto" and device.metavar == "auto|cpu|cuda[:N]", name
    else:
        assert "--device" not in opts, name
    if "--features" in opts:   # only ever feature indices
        assert opts["--features"].metavar == "LIST", name
    store_args = [p for p in command.params if isinstance(p, click.Argument) and "store" in p.name]
    assert all(p.metavar == "STORE" for p in store_args), name
    if "--overwrite" in opts:
        assert "existing outputs are refused" in opts["--overwrite"].help, name


def test_quiet_is_accepted_everywhere():
    for name, _ in commands():
        result = invoke(*name.split(), "-q", "--help")
        assert result.exit_code == 0, (name, result.output)


# ---------------------------------------------------------------------------------------------
def test_solve_path_device_auto(tmp_path):
    store = make_store(tmp_path / "features")
    result = invoke("solve", "path", store, "--out", tmp_path / "path", "--n-alphas", 4, "--eps", 1e-2,
                    "--device", "auto", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "path" / "path.npz").is_file()


@pytest.mark.parametrize("device, message", [
    ("gpu", "device 'gpu' is invalid: expected auto, cpu, cuda or cuda:N"),
    ("cpu:1", "device 'cpu:1' is invalid"),
    ("cuda:64", "device 'cuda:64' is not available: torch sees"),
])
def test_unavailable_or_invalid_device_is_one_line(tmp_path, device, message):
    store = make_store(tmp_path / "features", n_train=40, n_eval=10)
    for args in (["solve", "path", store, "--out", tmp_path / "p"], ["interpret", "fv", store, "--features", "0",
                                                                    "--out", tmp_path / "fv"]):
        line = error_line(invoke(*args, "--device", device))
        assert message in line, line
    assert not (tmp_path / "p").exists()


# ---------------------------------------------------------------------------------------------
def test_store_option_and_its_deprecated_alias(tmp_path):
    store = make_store(tmp_path / "features")
    assert invoke("solve", "path", store, "--out", tmp_path / "path", "--n-alphas", 4, "--eps", 1e-2).exit_code == 0
    result = invoke("solve", "select", tmp_path / "path", "--features", store)   # --store: test_solve_cli
    assert result.exit_code == 0, result.output
    assert "warning: --features DIR is deprecated here" in result.output and "use --store DIR" in result.output
    both = invoke("solve", "select", tmp_path / "path", "--features", store, "--store", store, "--overwrite")
    assert both.exit_code == 2 and "give --store only" in both.output


def _refusal_cases(tmp_path, store):
    """(command line, the existing output it must refuse to replace) for every command with --overwrite
    whose refusal comes before any expensive work."""
    out = tmp_path / "out"
    return [
        (["interpret", "fv", store, "--features", "0", "--out", out], out / "feature_0.png"),
        (["interpret", "fv", store, "--features", "0", "--out", out], out / "activations.csv"),
        (["interpret", "lime", store, "--features", "0", "--out", out], out / "lime.csv"),
        (["interpret", "order", tmp_path / "no-path", "--out", out], out / "feature_order.csv"),
        (["interpret", "wordcloud", store, "--features", "0", "--out", out], out / "explanations.csv.gz"),
        (["interpret", "counterfactual", tmp_path / "no-path", "--clouds", tmp_path, "--out", out],
         out / "counterfactuals.csv"),
        (["solve", "path", store, "--out", out], out / "path.npz"),
        (["plan", "--study", "spurious", "--out", out / "plan.csv"], out / "plan.csv"),
    ]


def test_overwrite_refusals_name_the_path(default_stores, tmp_path):
    store = default_stores["robust"].directory
    for args, existing in _refusal_cases(tmp_path, store):
        existing.parent.mkdir(parents=True, exist_ok=True)
        existing.write_text("mine")
        line = error_line(invoke(*args))
        assert str(existing) in line and "--overwrite" in line, (args, line)
        assert existing.read_text() == "mine"
        existing.unlink()


def test_simulate_and_analyze_refuse_without_overwrite(make_batch, tmp_path):
    batch = make_batch("simulatability", 5)
    results, report = tmp_path / "results.csv", tmp_path / "report"
    results.write_text("mine")
    line = error_line(invoke("simulate", batch, "--out", results))
    assert str(results) in line and "--overwrite" in line and results.read_text() == "mine"
    assert invoke("simulate", batch, "--out", results, "--overwrite").exit_code == 0
    report.mkdir()
    (report / "notes.md").write_text("mine")
    line = error_line(invoke("analyze", results, "--batch", batch, "--out", report, "--salt", "s"))
    assert str(report) in line and "overwrite" in line and (report / "notes.md").read_text() == "mine"


# ---------------------------------------------------------------------------------------------
def _run_cli(*args):
    root = str(Path(studykit.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "studykit.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=600)


def test_progress_in_a_log_is_a_line_per_stage(tmp_path, caplog):
    """stderr to a pipe (a log file, CI): no carriage-return bar updates, a start and an end line;
    none under -q."""
    store = make_store(tmp_path / "features")
    run = _run_cli("solve", "path", store, "--out", tmp_path / "path", "--n-alphas", 12, "--eps", 1e-2)
    assert run.returncode == 0, run.stderr
    assert "\r" not in run.stderr
    progress = [line for line in run.stderr.splitlines() if "studykit.progress" in line]
    assert 2 <= len(progress) < 12, run.stderr       # start, end, and a line per 30 s at most: not per alpha
    assert "alphas: started, 0/12 alpha" in progress[0] and "alphas: done, 12/12 alpha (100%)" in progress[-1]
    with caplog.at_level(logging.INFO, logger="studykit.progress"):
        assert invoke("solve", "path", store, "--out", tmp_path / "quiet", "--n-alphas", 4, "--eps", 1e-2,
                      "-q").exit_code == 0
        assert not [r for r in caplog.records if r.name == "studykit.progress"]
        assert invoke("solve", "path", store, "--out", tmp_path / "loud", "--n-alphas", 4, "--eps", 1e-2).exit_code == 0
        assert [r for r in caplog.records if r.name == "studykit.progress"]   # the same run without -q logs
