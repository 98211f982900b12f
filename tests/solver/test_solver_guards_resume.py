"""Resume counts work (issue 20): after a crash, only the alphas not yet checkpointed are fitted."""

import numpy as np
import pytest

import studykit.solver.path as path_module
from studykit.solver import fit_path

N_ALPHAS = 7
CRASH_AT = 4  # the crash happens while fitting this alpha: 0..CRASH_AT-1 are checkpointed


def counting_solver(monkeypatch, crash_at=None):
    """Wrap the per-alpha solver: record each alpha it is asked to fit, optionally crash on one."""
    fitted, real = [], path_module.solve_working_set

    def solve(design, Y, datafit, W, b, alpha, *args, **kwargs):
        if crash_at is not None and len(fitted) == crash_at:
            raise KeyboardInterrupt("killed while fitting")
        fitted.append(alpha)
        return real(design, Y, datafit, W, b, alpha, *args, **kwargs)

    monkeypatch.setattr(path_module, "solve_working_set", solve)
    return fitted


@pytest.mark.parametrize("method", ["owlqn", "fista"])
def test_resume_fits_only_the_remainder(tmp_path, clf_data, monkeypatch, method):
    X, y = clf_data
    kwargs = dict(n_alphas=N_ALPHAS, eps=1e-2, method=method, dtype="float64")
    with monkeypatch.context() as patch:
        all_fitted = counting_solver(patch)
        full = fit_path(X, y, **kwargs)
    # alpha_max needs no iteration (W = 0 exactly); every other alpha is fitted once
    assert all_fitted == pytest.approx(list(full.alphas[1:]), rel=0)

    with monkeypatch.context() as patch:
        before_crash = counting_solver(patch, crash_at=CRASH_AT - 1)
        with pytest.raises(KeyboardInterrupt):
            fit_path(X, y, checkpoint_dir=tmp_path, **kwargs)
    assert len(before_crash) == CRASH_AT - 1

    seen = []
    with monkeypatch.context() as patch:
        on_resume = counting_solver(patch)
        resumed = fit_path(X, y, checkpoint_dir=tmp_path, callback=lambda i, row: seen.append(i), **kwargs)
    assert on_resume == pytest.approx(list(full.alphas[CRASH_AT:]), rel=0), "resume refitted checkpointed alphas"
    assert seen == list(range(CRASH_AT, N_ALPHAS))
    assert len(resumed) == N_ALPHAS
    np.testing.assert_array_equal(resumed.intercepts, full.intercepts)
    for a, b in zip(resumed.coefs, full.coefs):
        np.testing.assert_array_equal(a.toarray(), b.toarray())
    cols = ["alpha", "nnz", "train_objective"]
    np.testing.assert_array_equal(resumed.metrics[cols].to_numpy(), full.metrics[cols].to_numpy())

    with monkeypatch.context() as patch:  # a complete checkpoint: nothing left to fit
        again = counting_solver(patch)
        fit_path(X, y, checkpoint_dir=tmp_path, **kwargs)
    assert again == []
