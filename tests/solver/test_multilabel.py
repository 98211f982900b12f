"""Multilabel and binomial families (issue 19): against scikit-learn's per-label LogisticRegression,
average precision against scikit-learn's, target checks and the layer's predictions."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from studykit.solver import fit_path
from studykit.solver.multilabel import average_precision, label_metrics

from solver_problems import make_classification, standardize

L1_RATIO = 0.8


def make_multilabel(n=160, d=8, k=3, seed=0):
    X, _ = make_classification(n=n, d=d, seed=seed)
    rng = np.random.default_rng(seed)
    Xs = standardize(X)
    W = np.zeros((k, d))
    W[:, :3] = 1.5 * rng.normal(size=(k, 3))
    Y = (rng.random((n, k)) < 1 / (1 + np.exp(-(Xs @ W.T + 0.3)))).astype(float)
    return X, Y


def bce_objective(Xs, Y, W, b, alpha, l1_ratio):
    Z = Xs @ W.T + b
    loss = (np.logaddexp(0, Z) - Y * Z).sum(1).mean()
    return loss + alpha * (l1_ratio * np.abs(W).sum() + 0.5 * (1 - l1_ratio) * (W ** 2).sum())


def sklearn_per_label(Xs, Y, alpha, l1_ratio):
    coefs, intercepts = [], []
    for c in range(Y.shape[1]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (ConvergenceWarning, FutureWarning, UserWarning))
            model = LogisticRegression(l1_ratio=l1_ratio, C=1.0 / (len(Y) * alpha), solver="saga", tol=1e-10,
                                       max_iter=50_000, random_state=0).fit(Xs, Y[:, c])
        coefs.append(model.coef_[0])
        intercepts.append(model.intercept_[0])
    return np.array(coefs), np.array(intercepts)


@pytest.mark.parametrize("method", ["owlqn", "fista", "saga"])
def test_multilabel_path_matches_per_label_logistic_regression(method):
    X, Y = make_multilabel()
    extra = dict(stopping="kkt", tol=1e-6, batch_size=32, max_epochs=20_000) if method == "saga" else \
        dict(tol=1e-8, max_epochs=20_000)
    result = fit_path(X, Y, family="multilabel", l1_ratio=L1_RATIO, n_alphas=5, eps=1e-2, method=method,
                      dtype="float64", **extra)
    Xs = standardize(X)
    assert result.metrics["converged"].all()
    freq = Y.mean(0)
    np.testing.assert_allclose(result.intercepts[0], np.log(freq / (1 - freq)), rtol=1e-10)
    assert result.metrics["nnz"].iloc[0] == 0 and result.metrics["nnz"].iloc[1] > 0
    for i in (1, 2, 4):
        alpha = result.alphas[i]
        W_ref, b_ref = sklearn_per_label(Xs, Y, alpha, L1_RATIO)
        W, b = result.coef_dense(i), result.intercepts[i]
        ours, theirs = (bce_objective(Xs, Y, W, b, alpha, L1_RATIO), bce_objective(Xs, Y, W_ref, b_ref, alpha, L1_RATIO))
        assert ours == pytest.approx(result.metrics["train_objective"][i], rel=1e-9)
        assert (ours - theirs) / abs(theirs) <= 1e-3, (i, ours, theirs)
        scale = np.abs(W_ref).max()
        np.testing.assert_array_equal(np.abs(W) > 1e-4 * scale, np.abs(W_ref) > 1e-4 * scale, err_msg=f"alpha {i}")


def test_binomial_is_the_one_output_case():
    X, Y = make_multilabel(k=1)
    y = Y[:, 0].astype(int)
    binomial = fit_path(X, y, family="binomial", l1_ratio=L1_RATIO, n_alphas=4, eps=1e-2, tol=1e-9, dtype="float64")
    multilabel = fit_path(X, Y, family="multilabel", l1_ratio=L1_RATIO, n_alphas=4, eps=1e-2, tol=1e-9,
                          dtype="float64")
    np.testing.assert_allclose(binomial.alphas, multilabel.alphas)
    for i in range(4):
        np.testing.assert_allclose(binomial.coef_dense(i), multilabel.coef_dense(i), atol=1e-12)
    layer = binomial.layer(-1)
    assert layer.weight.shape == (1, X.shape[1]) and layer.family == "binomial"
    predicted = layer.predict(X)
    assert predicted.shape == (len(X),) and set(np.unique(predicted)) <= {0, 1}
    np.testing.assert_allclose(binomial.metrics["train_accuracy"].iloc[-1], np.mean(predicted == y), atol=1e-6)
    proba = layer.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(proba[:, 1] > 0.5, predicted == 1)


def test_metrics_are_mean_per_label_accuracy_and_mean_average_precision():
    X, Y = make_multilabel(n=200, k=3)
    result = fit_path(X[:150], Y[:150], X_val=X[150:], y_val=Y[150:], family="multilabel", n_alphas=4, eps=1e-2)
    layer = result.layer(-1)
    table = label_metrics(layer, X[150:], Y[150:])
    scores = layer.decision_function(X[150:])
    for c in range(3):
        assert table["average_precision"][c] == pytest.approx(average_precision_score(Y[150:, c], scores[:, c]))
        assert table["accuracy"][c] == pytest.approx(np.mean((scores[:, c] > 0) == Y[150:, c]))
    row = result.metrics.iloc[-1]
    assert row["val_accuracy"] == pytest.approx(table["accuracy"].mean(), abs=1e-6)
    assert row["val_average_precision"] == pytest.approx(table["average_precision"].mean(), abs=1e-6)
    assert np.isnan(fit_path(*make_classification(), n_alphas=2, eps=0.1).metrics["train_average_precision"]).all()
    assert result.best("val_average_precision") in range(4)


def test_average_precision_matches_scikit_learn_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(5):
        y = rng.integers(0, 2, 50)
        scores = rng.integers(0, 6, 50).astype(float)  # many ties
        assert average_precision(scores, y) == pytest.approx(average_precision_score(y, scores), rel=1e-12)
    assert np.isnan(average_precision([0.1, 0.2], [0, 0]))


@pytest.mark.parametrize("family, y, message", [
    ("multilabel", np.zeros(20), "n_samples, n_labels"),
    ("multilabel", np.c_[np.r_[np.ones(10), np.zeros(10)], np.r_[[2.0], np.zeros(19)]], "row 0, label 1 is 2.0"),
    ("multilabel", np.c_[np.r_[np.ones(10), np.zeros(10)], np.zeros(20)], "label 1 is 0 in every training row"),
    ("binomial", np.r_[np.ones(10), 3 * np.ones(10)].astype(int), "row 10 is 3"),
    ("binomial", np.ones(20), "class 1 is 1 in every training row"),
])
def test_bad_targets_are_named(family, y, message):
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match=message):
        fit_path(X, y, family=family, n_alphas=2)
