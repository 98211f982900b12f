"""The gaussian path on the compressed ``d + 1``-row design equals the row-wise path (issue 12, item 2)."""

import numpy as np
import pytest
import torch

import studykit.solver.path as path_module
from studykit.solver import fit_path
from studykit.solver.compressed import compressed_problem
from studykit.solver.design import Design
from studykit.solver.workingset import full_gradient
from studykit.solver.datafits import get_datafit


def _data(n=600, d=20, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 3.0   # correlated, not centred
    X[:, 5] = 1.5                                                  # a constant column
    W = np.zeros((k, d))
    W[:, :4] = rng.normal(size=(k, 4))
    return X, X @ W.T + rng.normal(size=(n, k)) + 2.0


def test_same_gradient_at_any_point():
    X, Y = _data()
    design = Design.build(X, dtype=torch.float64)
    Yt = torch.as_tensor(Y)
    small, Ys = compressed_problem(design, Yt)
    assert small.n_samples <= X.shape[1] + 1
    gaussian = get_datafit("gaussian")
    rng = np.random.default_rng(1)
    for _ in range(3):
        W, b = torch.as_tensor(rng.normal(size=(3, 20))), torch.as_tensor(rng.normal(size=3))
        real, comp = full_gradient(design, Yt, gaussian, W, b), full_gradient(small, Ys, gaussian, W, b)
        torch.testing.assert_close(comp.G, real.G, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(comp.gb, real.gb, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("grouped", [False, True])
def test_compressed_path_equals_the_row_path(monkeypatch, grouped):
    X, Y = _data()
    kwargs = dict(family="gaussian", n_alphas=8, eps=1e-2, dtype="float64", grouped=grouped, tol=1e-6)
    compressed = fit_path(X, Y, **kwargs)
    assert compressed.info["compressed_rows"] == 20   # 19 nonconstant columns + 1
    monkeypatch.setattr(path_module, "worth_it", lambda *args: False)
    rows = fit_path(X, Y, **kwargs)
    assert rows.info["compressed_rows"] is None
    np.testing.assert_allclose(compressed.metrics["train_objective"], rows.metrics["train_objective"], rtol=1e-7)
    assert (compressed.metrics["kkt"] <= 1e-6).all()   # certified on the real rows
    for a, b in zip(compressed.coefs, rows.coefs):
        np.testing.assert_allclose(a.toarray(), b.toarray(), atol=1e-5)
        assert a[:, 5].nnz == 0   # the constant column stays out
