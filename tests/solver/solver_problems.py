"""Small seeded problems shared by the solver tests (imported by name: `from solver_problems import ...`)."""

import numpy as np


def make_classification(n=240, d=12, k=3, seed=0, informative=4):
    """Features with a sparse class signal, one correlated pair, one constant column, raw scales."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[:, 1] = X[:, 0] + 0.3 * rng.normal(size=n)
    W = np.zeros((k, d))
    W[:, :informative] = 1.5 * rng.normal(size=(k, informative))
    y = (X @ W.T + rng.gumbel(size=(n, k))).argmax(1)
    X = X * rng.uniform(0.5, 3.0, size=d) + rng.uniform(-2, 2, size=d)
    X[:, -1] = 1.7  # a constant feature
    return X, y


def make_regression(n=200, d=10, k=2, seed=1, informative=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=d)
    W = np.zeros((k, d))
    W[:, :informative] = rng.normal(size=(k, informative))
    Y = X @ W.T + 0.5 * rng.normal(size=(n, k)) + 3.0
    return X, Y


def standardize(X):
    mean, std = X.mean(0), X.std(0)
    std = np.where(std > 1e-12 * (1 + np.abs(mean)), std, 1.0)
    return (X - mean) / std


def datafit_loss(family, Xs, Y, W, b):
    """The mean loss of the path's objective (float64 reference): 1/2 |z - y|^2 (gaussian) or softmax
    cross-entropy (multinomial) of ``Xs @ W.T + b``."""
    Z = Xs @ W.T + b
    if family == "gaussian":
        return 0.5 * ((Z - Y) ** 2).sum(1).mean()
    Z = Z - Z.max(1, keepdims=True)
    return (np.log(np.exp(Z).sum(1)) - Z[np.arange(len(Y)), Y]).mean()


def interrupt_path(monkeypatch, fit, at):
    """Run ``fit()`` (a ``fit_path`` call with a ``checkpoint_dir``) killed by a KeyboardInterrupt
    when the metrics of its ``at``-th alpha are computed, i.e. after ``at - 1`` alphas were
    checkpointed. Returns the number of metric computations the killed run reached."""
    import pytest

    import studykit.solver.path as path_module

    real, calls = path_module._metrics, {"n": 0}

    def crash(*args, **kw):
        calls["n"] += 1
        if calls["n"] == at:
            raise KeyboardInterrupt("killed")
        return real(*args, **kw)

    with monkeypatch.context() as patch:
        patch.setattr(path_module, "_metrics", crash)
        with pytest.raises(KeyboardInterrupt):
            fit()
    return calls["n"]
