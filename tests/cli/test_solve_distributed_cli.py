"""``torchrun --nproc-per-node 2 studykit solve path`` on CPU (gloo) equals one process (issue 14): the same
objective at every alpha (relative 1e-5), the same supports, each rank reading only its block of the
training rows, rank 0 alone writing; a rank killed mid-path resumes from rank 0's checkpoint and fits only
the remaining alphas."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from cli_runner import ok
from studykit.features import FeatureStore
from studykit.solver import PathResult
from test_solve_cli import make_store

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="torchrun with gloo on POSIX")

WORKTREE = Path(__file__).resolve().parents[2]
#: A tolerance below the default (1e-4): two runs that differ only in the order of their sums may each
#: stop anywhere within the tolerance (relative objective differences up to ~1e-5 at 1e-4 on larger
#: problems); at 1e-6 reduction order alone is left (about 1e-8).
ARGS = ["--n-alphas", "8", "--eps", "1e-2", "--device", "cpu", "--tol", "1e-6"]
N_TRAIN = 300

#: ``python runner.py solve path ...`` under torchrun: logs, per rank, the training rows of its design
#: and every alpha it solves to ``$LOG_DIR/rank-$RANK.log``; kills itself (SIGKILL, no cleanup) at
#: solve number ``$KILL_AT`` on rank ``$KILL_RANK``.
RUNNER = textwrap.dedent('''
    import os, signal, sys
    import studykit.solver.path as path_module
    from studykit.solver.design import Design
    from studykit.cli.main import main

    rank = os.environ.get("RANK", "0")
    log = os.path.join(os.environ["LOG_DIR"], f"rank-{rank}.log")
    real_solve, real_build, calls = path_module.solve_working_set, Design.build.__func__, [0]

    def solve(design, Y, datafit, W, b, alpha, *args, **kwargs):
        calls[0] += 1
        if rank == os.environ.get("KILL_RANK") and calls[0] == int(os.environ["KILL_AT"]):
            os.kill(os.getpid(), signal.SIGKILL)
        with open(log, "a") as fh:
            fh.write(f"alpha {alpha!r}\\n")
        return real_solve(design, Y, datafit, W, b, alpha, *args, **kwargs)

    def build(cls, X, rows=None, **kwargs):
        if kwargs.get("sharded"):
            with open(log, "a") as fh:
                fh.write(f"rows {' '.join(map(str, rows))}\\n")
        return real_build(cls, X, rows, **kwargs)

    path_module.solve_working_set = solve
    Design.build = classmethod(build)
    main(sys.argv[1:], prog_name="studykit")
''')


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("dist_path")
    make_store(base / "features", n_train=N_TRAIN)   # train, val and test splits
    (base / "runner.py").write_text(RUNNER)
    return base


@pytest.fixture(scope="module")
def one_process(setup):
    ok("solve", "path", setup / "features", "--out", setup / "one", *ARGS)
    return PathResult.load(setup / "one")


def _torchrun(base: Path, out: str, **env):
    logs = base / f"logs-{out}-{len(list(base.glob(f'logs-{out}-*')))}"
    logs.mkdir()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
               str(base / "runner.py"), "solve", "path", str(base / "features"), "--out", str(base / out), *ARGS]
    full_env = dict(os.environ, PYTHONPATH=str(WORKTREE), LOG_DIR=str(logs), OMP_NUM_THREADS="1", **env)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        full_env.pop(name, None)
    # its own session, so that a hung launch (ranks waiting on each other) is killed with its ranks
    with subprocess.Popen(command, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as launch:
        try:
            stdout, stderr = launch.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(launch.pid, signal.SIGKILL)
            raise
    return subprocess.CompletedProcess(command, launch.returncode, stdout, stderr), logs


def _log(logs: Path, rank: int, kind: str) -> list[list[str]]:
    path = logs / f"rank-{rank}.log"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [line.split()[1:] for line in lines if line.startswith(kind + " ")]


def _assert_same_path(a: PathResult, b: PathResult):
    np.testing.assert_array_equal(a.alphas, b.alphas)
    objective_a, objective_b = (r.metrics["train_objective"].to_numpy() for r in (a, b))
    np.testing.assert_allclose(objective_b, objective_a, rtol=1e-5)
    for i, (Wa, Wb) in enumerate(zip(a.coefs, b.coefs)):
        Wa, Wb = Wa.toarray(), Wb.toarray()
        big = 1e-2 * max(np.abs(Wa).max(), 1e-12)   # supports up to coefficients at the rounding level
        assert ((np.abs(Wa) > big) <= (Wb != 0)).all() and ((np.abs(Wb) > big) <= (Wa != 0)).all(), i


def test_two_processes_equal_one(setup, one_process):
    proc, logs = _torchrun(setup, "two")
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = PathResult.load(setup / "two")
    _assert_same_path(one_process, two)
    assert two.info["world_size"] == 2 and one_process.info["world_size"] == 1
    assert json.loads((setup / "two" / "config.json").read_text())["world_size"] == 2
    assert proc.stdout.count("alphas (") == 1 and not (setup / "two" / "checkpoint").exists()
    # each rank read its own contiguous block of the training rows, together all of them once
    blocks = [[int(r) for r in _log(logs, rank, "rows")[0]] for rank in (0, 1)]
    assert blocks[0] == list(range(N_TRAIN // 2)) and blocks[1] == list(range(N_TRAIN // 2, N_TRAIN))
    assert len(FeatureStore.open(setup / "features").split("train")[1]) == N_TRAIN
    # the same alphas were solved on both ranks (the same decisions everywhere)
    assert _log(logs, 0, "alpha") == _log(logs, 1, "alpha") and len(_log(logs, 0, "alpha")) == 7


def test_a_killed_rank_resumes_from_rank0s_checkpoint(setup, one_process):
    out = setup / "killed"
    proc, _ = _torchrun(setup, "killed", KILL_RANK="1", KILL_AT="4")
    assert proc.returncode != 0 and not (out / "path.npz").exists()
    done = torch.load(out / "checkpoint" / "checkpoint.pt", weights_only=False)["done"]
    assert 2 <= done <= 4   # index 0 needs no solve: rank 1 died solving index 4

    proc, logs = _torchrun(setup, "killed")
    assert proc.returncode == 0, proc.stderr[-3000:]
    resumed = [float(a) for (a,) in _log(logs, 0, "alpha")]
    np.testing.assert_array_equal(resumed, one_process.alphas[done:])   # exactly the remainder
    assert _log(logs, 1, "alpha") == _log(logs, 0, "alpha")
    _assert_same_path(one_process, PathResult.load(out))
    assert not (out / "checkpoint").exists()
