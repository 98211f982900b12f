"""Issue 12: coordinate working sets (studykit.solver.coordinates). The sparse products equal the
dense ones; a k=200 path that solves on coefficient sets is certified by KKT recomputed from its
layers, equals the previous default, is deterministic and resumes exactly."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from studykit.solver import PathConfig, fit_path
from studykit.solver import coordinates as coordinates_module
from studykit.solver import workingset as workingset_module
from studykit.solver.coordinates import CoordinateDesign, cheaper, column_coords
from studykit.solver.design import Design

from solver_problems import interrupt_path
from test_large_k import kkt_from_layers, previous_default


@pytest.mark.parametrize("streamed", [False, True])
def test_sparse_products_equal_the_dense_ones(tmp_path, streamed):
    """Forward with W zero outside the coordinates, and the gradient on the coordinates, equal the
    dense design's (standardization folded in; row blocks of 256 inside chunks of 300 rows when
    streamed from a memmap, so blocks cross chunk boundaries)."""
    rng = np.random.default_rng(0)
    n, d, k = 700, 30, 7
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, d) + rng.uniform(-2, 2, d)
    if streamed:
        mm = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float64, shape=X.shape)
        mm[:] = X
        mm.flush()
        X = np.load(tmp_path / "X.npy", mmap_mode="r")
    design = Design.build(X, dtype=torch.float64, preload="never" if streamed else "auto", chunk_rows=300)
    assert (design.data is None) == streamed
    g = torch.Generator().manual_seed(1)
    flat = torch.sort(torch.randperm(k * d, generator=g)[:40]).values
    W = torch.zeros(k, d, dtype=torch.float64)
    W.view(-1)[flat] = torch.randn(40, generator=g, dtype=torch.float64)
    b = torch.randn(k, generator=g, dtype=torch.float64)
    sparse = CoordinateDesign(design, flat, k)
    torch.testing.assert_close(sparse.forward(W.view(-1)[flat], b), design.forward(W, b), rtol=1e-12, atol=1e-12)
    U = torch.randn(n, k, generator=g, dtype=torch.float64)
    G, gb = design.gradient(U)
    g_coords, gb_coords = sparse.gradient(U)
    torch.testing.assert_close(g_coords, G.view(-1)[flat], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gb_coords, gb)
    empty = CoordinateDesign(design, flat[:0], k)  # no coefficient: the intercept alone
    torch.testing.assert_close(empty.forward(W.view(-1)[:0], b), b.expand(n, k))
    assert empty.gradient(U)[0].shape == (0,)


def test_the_cost_model_keeps_columns_for_few_classes_and_takes_coefficients_for_many():
    design = Design.build(np.zeros((4, 2048), dtype=np.float32))
    assert not cheaper(design, 200, 100, 10, 100)  # k=10: a dense GEMM over the columns is cheaper
    assert cheaper(design, 25_000, 2048, 1000, 2048)  # k=1000, 1.2% of the coefficients: sparse
    assert not cheaper(design, 1_000_000, 2048, 1000, 2048)  # half of them: dense
    assert torch.equal(column_coords(torch.tensor([1, 3]), 2, 5), torch.tensor([1, 3, 6, 8]))


K = 200


@pytest.fixture(scope="module")
def sparse_classes():
    """k=200 classes, n=2000 rows, d=256 features, each class driven by about 4 of them."""
    rng = np.random.default_rng(5)
    n, d = 2000, 256
    X = rng.normal(size=(n, d)) + 0.5 * rng.normal(size=(n, 1))
    W = rng.normal(size=(K, d)) * (rng.random((K, d)) < 0.015) * 4.0
    y = (X @ W.T + rng.gumbel(size=(n, K))).argmax(1)
    y[:K] = np.arange(K)
    return X.astype(np.float32), y


CONFIG = PathConfig(n_alphas=8, eps=0.05)


@pytest.fixture(scope="module")
def coordinate_paths(sparse_classes):
    rounds = []
    real = workingset_module.CoordinateDesign

    def spy(design, coords, k):
        rounds.append(len(coords))
        return real(design, coords, k)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(workingset_module, "CoordinateDesign", spy)
        new = fit_path(*sparse_classes, CONFIG)
    with pytest.MonkeyPatch.context() as mp:
        previous_default(mp)
        old = fit_path(*sparse_classes, CONFIG)
    return {"new": new, "old": old, "rounds": rounds}


def test_a_k200_path_on_coefficient_sets_is_certified_and_equals_the_previous_default(coordinate_paths,
                                                                                      sparse_classes):
    new, old = coordinate_paths["new"], coordinate_paths["old"]
    assert coordinate_paths["rounds"], "no working set of coefficients was used"
    assert max(coordinate_paths["rounds"]) < K * sparse_classes[0].shape[1] // 4
    for result in (new, old):
        assert result.metrics["converged"].all()
        assert (kkt_from_layers(result, *sparse_classes) <= 3e-4).all()
    assert new.metrics["nnz"].iloc[-1] > 100
    np.testing.assert_allclose(new.metrics["train_objective"], old.metrics["train_objective"], rtol=1e-4)


def test_a_path_on_coefficient_sets_is_deterministic_and_resumes_exactly(coordinate_paths, sparse_classes,
                                                                         tmp_path, monkeypatch):
    full = coordinate_paths["new"]
    again = fit_path(*sparse_classes, CONFIG)
    interrupt_path(monkeypatch, lambda: fit_path(*sparse_classes, CONFIG, checkpoint_dir=tmp_path), at=5)
    resumed = fit_path(*sparse_classes, CONFIG, checkpoint_dir=tmp_path)
    cols = ["alpha", "nnz", "train_objective", "epochs"]
    for other in (again, resumed):
        np.testing.assert_array_equal(other.intercepts, full.intercepts)
        for a, b in zip(other.coefs, full.coefs):
            np.testing.assert_array_equal(a.toarray(), b.toarray())
        np.testing.assert_array_equal(other.metrics[cols].to_numpy(), full.metrics[cols].to_numpy())


def test_coefficient_sets_are_off_when_switched_off(sparse_classes, monkeypatch):
    monkeypatch.setattr(workingset_module, "COORDINATES", False)
    monkeypatch.setattr(coordinates_module.CoordinateDesign, "forward", None)  # any use would fail
    result = fit_path(*sparse_classes, CONFIG.replace(n_alphas=4))
    assert result.metrics["converged"].all()


TWO_RANKS = '''
import json, sys
import numpy as np
from studykit import distributed as D
from studykit.solver import fit_path, workingset

real, sharded = workingset.CoordinateDesign, []
def spy(design, coords, k):
    sharded.append(design.sharded)
    return real(design, coords, k)
workingset.CoordinateDesign = spy
folder = sys.argv[1]
with D.process_group("cpu"):
    result = fit_path(np.load(folder + "/X.npy"), np.load(folder + "/y.npy"), n_alphas=8, eps=0.05, distributed=True)
    with open(f"{folder}/rank{D.rank()}.json", "w") as fh:
        json.dump({"objective": result.metrics["train_objective"].tolist(), "kkt": result.metrics["kkt"].tolist(),
                   "sharded": sharded}, fh)
'''


@pytest.mark.skipif(sys.platform == "win32", reason="torchrun with gloo on POSIX")
def test_two_ranks_on_coefficient_sets_equal_one_process(coordinate_paths, sparse_classes, tmp_path):
    """Under torchrun each rank holds half of the rows: the sampled gradients are all-reduced with
    the intercept's, and the path equals one process's (up to the order of the sums)."""
    np.save(tmp_path / "X.npy", sparse_classes[0])
    np.save(tmp_path / "y.npy", sparse_classes[1])
    (tmp_path / "script.py").write_text(TWO_RANKS)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           str(tmp_path / "script.py"), str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one = coordinate_paths["new"].metrics
    for rank in (0, 1):
        out = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert out["sharded"] and all(out["sharded"]), "the ranks did not solve on coefficient sets"
        assert max(out["kkt"]) <= one["kkt"].max() + 1e-4 and max(out["kkt"]) <= 1e-4
        np.testing.assert_allclose(out["objective"], one["train_objective"], rtol=1e-5)
