"""studykit.distributed: the launcher's environment, shards, and collectives in one process and across two."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from studykit import distributed as D
from studykit.features.sharded import batch_block

WORKTREE = Path(__file__).resolve().parents[1]


def test_launch_env_reads_torchrun_variables_and_rejects_bad_ones():
    assert D.launch_env({}) is None
    assert D.launch_env({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1"}) == D.LaunchEnv(3, 8, 1)
    with pytest.raises(ValueError, match="RANK=8 is invalid"):
        D.launch_env({"RANK": "8", "WORLD_SIZE": "8", "LOCAL_RANK": "0"})
    with pytest.raises(ValueError, match="WORLD_SIZE='two' is invalid"):
        D.launch_env({"RANK": "0", "WORLD_SIZE": "two"})


@pytest.mark.parametrize("n, size", [(0, 3), (10, 3), (7, 7), (5, 8), (1000, 6)])
def test_shards_cover_every_item_once_in_order(n, size):
    blocks = [D.shard_range(n, r, size) for r in range(size)]
    assert blocks[0][0] == 0 and blocks[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
    assert max(b - a for a, b in blocks) - min(b - a for a, b in blocks) <= 1


@pytest.mark.parametrize("n, batch, size", [(37, 4, 2), (37, 4, 3), (8, 4, 4), (1, 256, 2), (1000, 7, 5)])
def test_batch_blocks_are_whole_batches_of_one_process(n, batch, size):
    blocks = [batch_block(n, batch, r, size) for r in range(size)]
    assert [i for b in blocks for i in b] == list(range(n))
    assert all(b.start % batch == 0 for b in blocks)   # each rank's batches are one process's batches


def test_one_process_without_a_group():
    assert D.world() == (0, 1) and D.is_rank0()
    assert D.all_gather_object({"a": 1}) == [{"a": 1}] and D.broadcast_object(5) == 5
    D.barrier()
    with D.rank0_first():
        pass
    with pytest.raises(FileExistsError, match="boom"):
        D.collective(lambda: (_ for _ in ()).throw(FileExistsError("boom")))
    assert D.on_rank0(lambda: 42) == 42
    with D.process_group("cpu", D.LaunchEnv(0, 1, 0)) as device:   # one process: nothing to join
        assert device == "cpu" and D.world() == (0, 1)
    assert D.backend_for("cuda:1") == "nccl" and D.backend_for("cpu") == "gloo"


def test_import_loads_no_torch():
    code = "import sys, studykit, studykit.distributed; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ, PYTHONPATH=str(WORKTREE)))


SCRIPT = textwrap.dedent('''
    import json, os, sys
    import torch
    from studykit import distributed as D

    with D.process_group("cpu") as device:
        rank, size = D.world()
        out = {"world": [rank, size], "device": str(device)}
        t = torch.tensor([float(rank + 1), 10.0 * rank])
        out["sum"] = D.all_reduce(t.clone()).tolist()
        out["max"] = D.all_reduce(t.clone(), op="max").tolist()
        out["gather"] = D.all_gather_object({"rank": rank})
        out["from0"] = D.on_rank0(lambda: f"computed by {D.rank()}")
        def step():
            if D.rank() == 1:
                raise ValueError("bad row 7")
            return "fine"
        try:
            D.collective(step)
        except ValueError as exc:
            out["error"] = str(exc)
        with D.rank0_first():
            out["order"] = len(os.listdir(sys.argv[1]))
            open(os.path.join(sys.argv[1], f"{rank}.done"), "w").close()
        D.barrier()
        with open(os.path.join(sys.argv[1], f"out-{rank}.json"), "w") as fh:
            json.dump(out, fh)
    import torch.distributed as dist
    assert not dist.is_initialized()
''')


def test_collectives_across_two_processes_with_gloo(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    results = tmp_path / "results"
    results.mkdir()
    env = dict(os.environ, PYTHONPATH=str(WORKTREE), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           str(script), str(results)], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads((results / f"out-{r}.json").read_text()) for r in (0, 1)]
    for rank, o in enumerate(out):
        assert o["world"] == [rank, 2] and o["device"] == "cpu"
        assert o["sum"] == [3.0, 10.0] and o["max"] == [2.0, 10.0]
        assert o["gather"] == [{"rank": 0}, {"rank": 1}] and o["from0"] == "computed by 0"
    assert out[0]["error"] == "rank 1: bad row 7" and out[1]["error"] == "bad row 7"
    assert out[0]["order"] == 0 and out[1]["order"] == 1     # rank 0 first, then the others


def test_fit_path_distributed_needs_a_process_group():
    """``distributed=True`` outside torchrun is a one-line error, not a silent one-process fit."""
    import numpy as np

    from studykit.solver import fit_path

    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 2
    with pytest.raises(ValueError, match="process group with more than one rank"):
        fit_path(X, y, n_alphas=2, distributed=True)
