"""``studykit solve path`` killed (SIGKILL) mid-path resumes from its checkpoint and fits only the rest (issue 20)."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import studykit.solver.path as path_module
from studykit.cli import main

from test_solve_cli import make_store

ARGS = ["--n-alphas", "6", "--eps", "1e-2", "--dtype", "float64"]
KILL_AT = 3  # the process dies while fitting the 3rd fitted alpha (path index 3): indices 0-2 are checkpointed

KILLER = textwrap.dedent("""
    import os, signal, sys
    import studykit.solver.path as path_module
    from studykit.cli import main
    real, calls = path_module.solve_working_set, [0]
    def solve(*args, **kwargs):
        calls[0] += 1
        if calls[0] == int(os.environ["KILL_AT"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    path_module.solve_working_set = solve
    main(sys.argv[1:])
""")


def run_counting(monkeypatch, *args):
    """Run the CLI in this process, recording the alphas the solver is asked to fit."""
    fitted, real = [], path_module.solve_working_set

    def solve(design, Y, datafit, W, b, alpha, *rest, **kwargs):
        fitted.append(alpha)
        return real(design, Y, datafit, W, b, alpha, *rest, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(path_module, "solve_working_set", solve)
        result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return fitted


def test_killed_path_resumes_with_only_the_remaining_alphas(tmp_path, monkeypatch):
    store = make_store(tmp_path / "features")
    full_fitted = run_counting(monkeypatch, "solve", "path", store, "--out", tmp_path / "full", *ARGS)
    assert len(full_fitted) == 5  # alpha_max needs no iteration

    out = tmp_path / "killed"
    env = {**os.environ, "KILL_AT": str(KILL_AT), "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run([sys.executable, "-c", KILLER, "solve", "path", str(store), "--out", str(out), *ARGS],
                            env=env, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (out / "checkpoint").is_dir() and not (out / "path.npz").exists()

    resumed_fitted = run_counting(monkeypatch, "solve", "path", store, "--out", out, *ARGS)
    assert resumed_fitted == pytest.approx(full_fitted[KILL_AT - 1:], rel=0), "the resumed run refitted alphas"
    assert not (out / "checkpoint").exists()
    cols = ["alpha", "nnz", "train_objective", "val_accuracy"]
    full_metrics, resumed_metrics = pd.read_csv(tmp_path / "full" / "metrics.csv"), pd.read_csv(out / "metrics.csv")
    np.testing.assert_array_equal(resumed_metrics[cols].to_numpy(), full_metrics[cols].to_numpy())
    with np.load(tmp_path / "full" / "path.npz") as a, np.load(out / "path.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
