"""Issue 12: paths at a large class count, certified by KKT conditions recomputed from the returned
layers (numpy float64, independent of the solver's own metric); the default solver equals the
previous default, is deterministic and resumes exactly; methods agree; config API."""

import json

import numpy as np
import pytest
import torch

from studykit.solver import PathConfig, PathResult, fit_path
from studykit.solver import owlqn as owlqn_module
from studykit.solver import path as path_module
from studykit.solver import workingset as workingset_module

from solver_problems import interrupt_path

K = 200


@pytest.fixture(scope="module")
def many_classes():
    """k=200 classes, n=1000 rows, d=12 features: a sparse linear signal plus label noise."""
    rng = np.random.default_rng(3)
    n, d = 1000, 12
    X = rng.normal(size=(n, d)) @ (np.eye(d) + 0.3 * rng.normal(size=(d, d)))
    W = rng.normal(size=(K, d)) * (rng.random((K, d)) < 0.2) * 2.0
    y = (X @ W.T + rng.gumbel(size=(n, K))).argmax(1)
    y[:K] = np.arange(K)  # every class present
    return X.astype(np.float32), y


CONFIG = PathConfig(n_alphas=6, eps=0.05)


def previous_default(monkeypatch):
    """The owlqn default before issue 12: every direction coordinate aligned with the
    pseudo-gradient's orthant, curvature pairs on every coordinate, 10 L-BFGS pairs, plain warm
    starts, working sets that double after a failed round, no pairs carried between rounds, no
    early KKT check."""
    monkeypatch.setattr(owlqn_module, "ALIGN_ALL", True)
    monkeypatch.setattr(owlqn_module, "FREE_PAIRS", False)
    monkeypatch.setattr(owlqn_module, "MEMORY", 10)
    monkeypatch.setattr(path_module, "EXTRAPOLATE", False)
    monkeypatch.setattr(workingset_module, "GROW_BY_VIOLATORS", False)
    monkeypatch.setattr(workingset_module, "CARRY_PAIRS", False)
    monkeypatch.setattr(workingset_module, "EARLY_CHECK", 0)
    monkeypatch.setattr(workingset_module, "COORDINATES", False)


@pytest.fixture(scope="module")
def paths(many_classes):
    X, y = many_classes
    out = {"float32": fit_path(X, y, CONFIG), "float64": fit_path(X, y, CONFIG, dtype="float64")}
    with pytest.MonkeyPatch.context() as mp:
        previous_default(mp)
        out["previous"] = fit_path(X, y, CONFIG)
    return out


def kkt_from_layers(result: PathResult, X, y):
    """Worst relative KKT violation per alpha, from the raw-feature layers and X alone."""
    Xd = X.astype(np.float64)
    n, k = len(y), int(y.max()) + 1
    Y = np.eye(k)[y]
    out = []
    for i, alpha in enumerate(result.alphas):
        layer = result.layer(i)
        Z = Xd @ layer.weight.astype(np.float64).T + layer.bias
        P = np.exp(Z - Z.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        Ws = result.coef_dense(i)  # the penalized variables: standardized-scale coefficients
        Xs = (Xd - result.mean) / result.scale
        G = (P - Y).T @ Xs / n
        gb = (P - Y).mean(0)
        l1, l2 = alpha * result.config.l1_ratio, alpha * (1 - result.config.l1_ratio)
        V = np.where(Ws != 0, np.abs(G + l2 * Ws + l1 * np.sign(Ws)), np.maximum(np.abs(G) - l1, 0))
        if i == 0:
            scale = np.abs((np.eye(k)[y] - Y.mean(0)).T @ Xs / n).max()
        out.append(max(V.max(), np.abs(gb).max()) / scale)
    return np.array(out)


def test_every_alpha_is_certified_by_kkt_recomputed_from_the_layers(paths, many_classes):
    X, y = many_classes
    result = paths["float32"]
    assert result.coefs[-1].shape == (K, X.shape[1]) and result.metrics["nnz"].iloc[-1] > 50
    recomputed = kkt_from_layers(result, X, y)
    # float32 layers and data: allow 3x the solver's 1e-4 for rounding of the raw-scale weights
    assert (recomputed <= 3e-4).all(), recomputed
    np.testing.assert_allclose(recomputed, result.metrics["kkt"], atol=1e-4)


@pytest.mark.parametrize("other", ["float64", "previous"])
def test_the_default_path_agrees_on_the_objective_at_every_alpha(paths, many_classes, other):
    """float32 vs float64, and the issue-12 default (unaligned non-zero coordinates, pairs on the
    free coordinates, 60 pairs, extrapolated warm starts) vs the previous default: the same optimum to 1e-4 at every alpha."""
    a, b = (paths[m].metrics["train_objective"].to_numpy() for m in ("float32", other))
    np.testing.assert_allclose(a, b, rtol=1e-4)
    assert paths[other].metrics["converged"].all()
    assert (kkt_from_layers(paths[other], *many_classes) <= 3e-4).all()


def test_large_k_path_is_deterministic(paths, many_classes):
    again = fit_path(*many_classes, CONFIG)
    np.testing.assert_array_equal(again.intercepts, paths["float32"].intercepts)
    for a, b in zip(again.coefs, paths["float32"].coefs):
        np.testing.assert_array_equal(a.toarray(), b.toarray())
    np.testing.assert_array_equal(again.metrics["epochs"], paths["float32"].metrics["epochs"])


def test_large_k_path_resumes_exactly_with_extrapolated_warm_starts(tmp_path, paths, many_classes, monkeypatch):
    """Killed after 4 alphas, the resumed path extrapolates its next warm start from the checkpointed
    solutions exactly as the uninterrupted one did: bit-identical layers and epochs."""
    full = paths["float32"]
    interrupt_path(monkeypatch, lambda: fit_path(*many_classes, CONFIG, checkpoint_dir=tmp_path), at=5)
    extrapolated = []
    real_extrapolate = path_module.extrapolate

    def spy(problem, config, state, alpha, grad):
        before = state.W
        out = real_extrapolate(problem, config, state, alpha, grad)
        extrapolated.append(state.W is not before)
        return out

    monkeypatch.setattr(path_module, "extrapolate", spy)
    resumed = fit_path(*many_classes, CONFIG, checkpoint_dir=tmp_path)
    assert extrapolated and extrapolated[0], "the first alpha after the resume did not use the extrapolation"
    np.testing.assert_array_equal(resumed.intercepts, full.intercepts)
    for a, b in zip(resumed.coefs, full.coefs):
        np.testing.assert_array_equal(a.toarray(), b.toarray())
    cols = ["alpha", "nnz", "train_objective", "epochs"]
    np.testing.assert_array_equal(resumed.metrics[cols].to_numpy(), full.metrics[cols].to_numpy())


@pytest.fixture(scope="module")
def wide():
    """k=40 classes, n=800 rows, d=240 correlated features of which 24 carry the signal: the path's
    working sets hold fewer columns than d, so their growth and the carried curvature are used."""
    rng = np.random.default_rng(5)
    n, d, k = 800, 240, 40
    X = rng.normal(size=(n, d)) + 0.8 * rng.normal(size=(n, 1))  # one shared factor
    W = np.zeros((k, d))
    W[:, :24] = rng.normal(size=(k, 24)) * (rng.random((k, 24)) < 0.3) * 3.0
    y = (X @ W.T + rng.gumbel(size=(n, k))).argmax(1)
    y[:k] = np.arange(k)
    return X.astype(np.float32), y


WIDE = PathConfig(n_alphas=10, eps=0.05)


def test_wide_path_is_certified_and_equals_the_previous_default(wide, monkeypatch):
    X, y = wide
    spans = []
    real = workingset_module.working_set

    def spy(per_feature, support, target, **kw):
        cols = real(per_feature, support, target, **kw)
        spans.append(len(cols))
        return cols

    monkeypatch.setattr(workingset_module, "working_set", spy)
    new = fit_path(X, y, WIDE)
    assert min(spans) < X.shape[1] and new.metrics["nnz"].iloc[-1] > 40  # working sets were used
    with pytest.MonkeyPatch.context() as mp:
        previous_default(mp)
        old = fit_path(X, y, WIDE)
    for result in (new, old):
        assert result.metrics["converged"].all()
        assert (kkt_from_layers(result, X, y) <= 3e-4).all()
    np.testing.assert_allclose(new.metrics["train_objective"], old.metrics["train_objective"], rtol=1e-4)


def test_wide_path_resumes_exactly_with_the_carried_curvature(tmp_path, wide, monkeypatch):
    """The checkpoint holds OWL-QN's curvature pairs: the resumed path starts its next alpha from
    the same pairs as the uninterrupted one (bit-identical layers and epochs)."""
    full = fit_path(*wide, WIDE)
    interrupt_path(monkeypatch, lambda: fit_path(*wide, WIDE, checkpoint_dir=tmp_path), at=6)
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    saved = checkpoint["curvature"]
    free = saved["pairs"][0][0]  # stored, on its free coordinates only
    assert saved["pairs"] and free is not None and len(free) < len(saved["coords"])
    resumed = fit_path(*wide, WIDE, checkpoint_dir=tmp_path)
    for a, b in zip(resumed.coefs, full.coefs):
        np.testing.assert_array_equal(a.toarray(), b.toarray())
    cols = ["alpha", "nnz", "train_objective", "epochs"]
    np.testing.assert_array_equal(resumed.metrics[cols].to_numpy(), full.metrics[cols].to_numpy())


def test_working_set_holds_the_support_and_every_violating_column():
    g = torch.Generator().manual_seed(0)
    d, target = 1000, 1.0
    order = torch.randperm(d, generator=g)
    support = torch.zeros(d, dtype=torch.bool)
    support[order[:300]] = True
    violating = order[300:400]  # 100 columns outside the support violate ...
    per_feature = torch.rand(d, generator=g) * 0.9  # ... the others do not
    per_feature[violating] = 1.0 + torch.rand(100, generator=g)
    per_feature[support] = 0.0  # a support column's violation does not decide its membership
    cols = workingset_module.working_set(per_feature, support, target, previous=500, rounds=1, minimum=32)
    chosen = torch.zeros(d, dtype=torch.bool)
    chosen[cols] = True
    assert bool(chosen[support].all()) and bool(chosen[violating].all())
    assert len(cols) == 300 + 2 * 100  # grows by twice what the check found, not to 2 x 500
    assert torch.equal(cols, torch.sort(cols).values)
    late = workingset_module.working_set(per_feature, support, target, previous=500, rounds=3, minimum=32)
    assert len(late) == 1000  # from the third failed round on the size doubles: rounds stay bounded


def test_curvature_pairs_move_to_a_new_working_set_and_a_new_l2():
    """On a quadratic ``f(W) = <W, A W>/2 + l2 |W|^2/2`` a pair measured at ``l2`` on its free
    coordinates and re-expressed at ``l2'`` on another working set equals the pair measured there
    directly; the two-loop recursion with it equals the dense recursion."""
    from studykit.solver.coordinates import column_coords
    from studykit.solver.owlqn import Curvature, _two_loop, make_pair

    g = torch.Generator().manual_seed(1)
    k, d = 3, 8
    A = torch.randn(k * d, k * d, generator=g, dtype=torch.float64)
    A = A @ A.T
    grad = lambda W, l2: (A @ W.reshape(-1)).reshape(k, d) + l2 * W  # noqa: E731
    old_cols, new_cols = torch.tensor([0, 2, 3, 5]), torch.tensor([0, 3, 4, 5, 7])
    W0 = torch.zeros(k, d, dtype=torch.float64)
    W1 = W0.clone()
    W1[:, [0, 3, 5]] = torch.randn(k, 3, generator=g, dtype=torch.float64)  # column 2 stays at zero
    b = torch.zeros(k, dtype=torch.float64)
    s_old, y_old = (W1 - W0)[:, old_cols], (grad(W1, 0.1) - grad(W0, 0.1))[:, old_cols]
    free = (s_old != 0).reshape(-1).nonzero().squeeze(1)
    curv = Curvature([make_pair(free, s_old.reshape(-1), b, y_old.reshape(-1), b)], column_coords(old_cols, k, d), 0.1)
    moved, = curv.on(column_coords(new_cols, k, d), k * d, 0.3)
    y_true = (grad(W1, 0.3) - grad(W0, 0.3))[:, new_cols]
    y_true[:, [2, 4]] = 0  # columns 4 and 7 joined the working set at zero
    dense = lambda idx, v: torch.zeros(k * len(new_cols), dtype=v.dtype).index_put_((idx,), v).reshape(k, -1)  # noqa: E731
    torch.testing.assert_close(dense(moved[0], moved[1]), (W1 - W0)[:, new_cols])
    torch.testing.assert_close(dense(moved[0], moved[3]), y_true)
    s_new, y_new = (W1 - W0)[:, new_cols], y_true
    assert moved[5] == pytest.approx(float((s_new * y_new).sum()))
    q = torch.randn(k, len(new_cols), generator=g, dtype=torch.float64)
    full = make_pair(None, s_new.reshape(-1), b, y_new.reshape(-1), b)
    torch.testing.assert_close(_two_loop(q, b, [moved], 1.0)[0], _two_loop(q, b, [full], 1.0)[0])
    back = Curvature.from_state_dict(curv.state_dict(), "cpu")
    assert torch.equal(back.pairs[0][3], curv.pairs[0][3]) and back.l2 == 0.1 and torch.equal(back.coords, curv.coords)
    # a checkpoint of the column era ("cols") converts to the same coordinates
    old_state = {**curv.state_dict(), "cols": old_cols}
    del old_state["coords"]
    assert torch.equal(Curvature.from_state_dict(old_state, "cpu", (k, d)).coords, curv.coords)
    # onto a working set of single coefficients (issue 12's coordinate working sets): positions of
    # the flat coordinates, the pair's entries on the coefficients that stayed
    flat = torch.tensor([0 * d + 0, 0 * d + 4, 1 * d + 3, 2 * d + 5, 2 * d + 7])
    on_coords, = curv.on(flat, k * d, 0.3)
    full_y = grad(W1, 0.3) - grad(W0, 0.3)
    expect_s, expect_y = (W1 - W0).reshape(-1)[flat], full_y.reshape(-1)[flat]
    expect_y[[1, 4]] = 0  # (0, 4) and (2, 7) were not in the old working set
    as_vector = lambda idx, v: torch.zeros(len(flat), dtype=v.dtype).index_put_((idx,), v)  # noqa: E731
    torch.testing.assert_close(as_vector(on_coords[0], on_coords[1]), expect_s)
    torch.testing.assert_close(as_vector(on_coords[0], on_coords[3]), expect_y)


def test_reduced_precision_gemms_keep_the_certificate_and_the_path(clf_data):
    X, y = clf_data
    exact = fit_path(X, y, PathConfig(n_alphas=4, eps=0.05, dtype="float32"))
    lowp = fit_path(X, y, PathConfig(n_alphas=4, eps=0.05, dtype="float32", matmul_precision="bf16"))
    assert lowp.metrics["converged"].all() and (lowp.metrics["kkt"] <= 1e-4).all()
    np.testing.assert_allclose(lowp.metrics["train_objective"], exact.metrics["train_objective"], rtol=1e-4)
    assert lowp.config.matmul_precision == "bf16"


def test_gaussian_gram_cd_matches_owlqn(reg_data):
    X, Y = reg_data
    cd = fit_path(X, Y, family="gaussian", n_alphas=8, eps=1e-2, method="cd")
    qn = fit_path(X, Y, family="gaussian", n_alphas=8, eps=1e-2, method="owlqn")
    assert cd.metrics["converged"].all() and (cd.metrics["kkt"] <= 1e-4).all()
    np.testing.assert_allclose(cd.metrics["train_objective"], qn.metrics["train_objective"], rtol=1e-4)
    with pytest.raises(ValueError, match="gaussian only"):
        PathConfig(method="cd")


def test_config_argument_equals_keyword_shortcuts(clf_data):
    X, y = clf_data
    config = PathConfig(n_alphas=4, eps=0.05, l1_ratio=0.9)
    a = fit_path(X, y, config)
    b = fit_path(X, y, n_alphas=4, eps=0.05, l1_ratio=0.9)
    c = fit_path(X, y, PathConfig(n_alphas=4), eps=0.05, l1_ratio=0.9)
    assert a.config == b.config == c.config == config
    for other in (b, c):
        np.testing.assert_array_equal(a.intercepts, other.intercepts)
    with pytest.raises(TypeError, match="l1ratio"):
        fit_path(X, y, l1ratio=0.5)
    with pytest.raises(ValueError, match="matmul_precision"):
        PathConfig(matmul_precision="fp8")


def test_typed_config_round_trips_and_old_untyped_files_load(tmp_path, clf_data):
    X, y = clf_data
    result = fit_path(X, y, n_alphas=3, eps=0.1, method="fista", alphas=None)
    result.info["features_dir"] = "/somewhere"
    result.save(tmp_path / "new")
    stored = json.loads((tmp_path / "new" / "config.json").read_text())
    assert stored["method"] == "fista" and stored["alpha_max"] == result.info["alpha_max"]
    loaded = PathResult.load(tmp_path / "new")
    assert isinstance(loaded.config, PathConfig) and loaded.config == result.config
    assert loaded.info["features_dir"] == "/somewhere"
    # a config.json of an earlier version: no matmul_precision, data facts mixed in
    del stored["matmul_precision"]
    (tmp_path / "new" / "config.json").write_text(json.dumps(stored))
    old = PathResult.load(tmp_path / "new")
    assert old.config.method == "fista" and old.config.matmul_precision == "highest"
    stored["l1_ratio"] = 7.0
    (tmp_path / "new" / "config.json").write_text(json.dumps(stored))
    with pytest.raises(ValueError, match="config.json.*l1_ratio"):
        PathResult.load(tmp_path / "new")
