"""``studykit solve path`` and ``studykit solve select`` end to end on a tiny synthetic feature store."""

import importlib.util
import json
import shutil
import subprocess
import sys
import types

import numpy as np
import pandas as pd
import pytest

from cli_runner import invoke, ok
from studykit.features import FeatureStore, write_meta, write_split

N_ALPHAS = 8
PATH_ARGS = ["--n-alphas", str(N_ALPHAS), "--eps", "1e-2"]
CLASSES = ["ant", "bee", "cow"]


def make_store(directory, *, seed=0, val=True, test=True, n_train=300, n_eval=60, d=16):
    """Three classes separated along features 0-2; features 3-15 are noise."""
    rng = np.random.default_rng(seed)

    def draw(n):
        y = rng.integers(0, 3, n)
        X = rng.normal(size=(n, d))
        X[np.arange(n), y] += 2.5
        return X, y

    write_meta(directory, {"n_features": d, "classes": CLASSES, "model": "synthetic", "layer": "none",
                           "dataset": "gaussian blobs"})
    write_split(directory, "train", *draw(n_train))
    for name, present in (("val", val), ("test", test)):
        if present:
            write_split(directory, name, *draw(n_eval))
    return directory


def analyses_available() -> bool:
    return importlib.util.find_spec("studykit.solver.analyses") is not None


@pytest.fixture(scope="module")
def analyses_stub():
    """Until ``studykit.solver.analyses`` exists, stand in for it so the layers can be checked."""
    if analyses_available():
        yield None
        return
    calls = []
    stub = types.ModuleType("studykit.solver.analyses")
    stub.write_report = lambda result, out_dir, **kwargs: calls.append((out_dir, kwargs)) or {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "studykit.solver.analyses", stub)
        yield calls


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, analyses_stub):
    """A store, its path (``solve path``) and its selected layers (``solve select``)."""
    root = tmp_path_factory.mktemp("solve")
    store = make_store(root / "features")
    path_dir = root / "path"
    path_run = ok("solve", "path", store, "--out", path_dir, *PATH_ARGS)
    select_run = ok("solve", "select", path_dir)
    return types.SimpleNamespace(store=store, path=path_dir, path_run=path_run, select_run=select_run)


@pytest.fixture
def path_copy(fitted, tmp_path):
    """A private copy of the fitted path folder (it still points at the shared store)."""
    return shutil.copytree(fitted.path, tmp_path / "path")


# ---------------------------------------------------------------------------------------------
def test_help_lists_commands():
    result = ok("--help")
    assert "solve" in result.output and "demo" in result.output
    assert "path" in ok("solve", "--help").output
    assert "studykit, version" in ok("--version").output


def test_cli_import_is_cheap():
    code = "import sys, studykit.cli; assert 'torch' not in sys.modules and 'pandas' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_path_artifacts(fitted):
    assert (fitted.path / "path.npz").is_file()
    assert not (fitted.path / "checkpoint").exists()
    metrics = pd.read_csv(fitted.path / "metrics.csv")
    assert len(metrics) == N_ALPHAS
    assert metrics["val_accuracy"].notna().all() and metrics["test_accuracy"].notna().all()
    config = json.loads((fitted.path / "config.json").read_text())
    assert config["n_alphas"] == N_ALPHAS and config["eps"] == 1e-2 and config["classes"] == CLASSES
    assert config["features_dir"] == str(fitted.store.resolve()) and config["val_fraction"] == 0.0
    assert f"{N_ALPHAS} alphas" in fitted.path_run.stdout and "best val accuracy" in fitted.path_run.stdout


def test_select_artifacts(fitted, analyses_stub):
    from studykit.solver import DecisionLayer

    sparse = DecisionLayer.load(fitted.path / "layers" / "sparse.npz")
    dense = DecisionLayer.load(fitted.path / "layers" / "dense.npz")
    assert sparse.name == "sparse" and dense.name == "dense"
    assert sparse.classes == tuple(CLASSES)
    assert "fitted with l1_ratio=0" in dense.source
    assert sparse.features_per_class.mean() < dense.features_per_class.mean()
    X_test, y_test = FeatureStore.open(fitted.store).split("test")
    for layer in (sparse, dense):
        assert np.mean(layer.predict(X_test) == y_test) > 0.6  # chance is 1/3
    out = fitted.select_run.stdout
    assert "layers/sparse.npz" in out and "layers/dense.npz" in out and out.count("test accuracy") == 2
    if analyses_stub is not None:  # studykit.solver.analyses is not written yet
        ((out_dir, kwargs),) = analyses_stub
        assert out_dir == fitted.path / "analysis"
        assert kwargs["X_test"].shape == (60, 16) and kwargs["sparse"].name == "sparse"
        pytest.skip("studykit.solver.analyses is absent: report files not checked")
    files = [p for p in (fitted.path / "analysis").rglob("*") if p.is_file()]
    assert files and any(p.suffix == ".csv" for p in files)


def test_path_refuses_to_overwrite(fitted, path_copy):
    before = (path_copy / "path.npz").stat().st_mtime_ns
    result = invoke("solve", "path", fitted.store, "--out", path_copy, *PATH_ARGS)
    assert result.exit_code == 1 and "--overwrite" in result.output
    assert (path_copy / "path.npz").stat().st_mtime_ns == before
    result = ok("solve", "path", fitted.store, "--out", path_copy, "--n-alphas", 4, "--eps", "1e-2", "--overwrite")
    assert len(pd.read_csv(path_copy / "metrics.csv")) == 4
    assert not (path_copy / "layers").exists()  # selected from the replaced path: removed, and said so
    assert "removed" in result.stderr


def test_select_refuses_to_overwrite(path_copy):
    before = (path_copy / "layers" / "sparse.npz").read_bytes()
    result = invoke("solve", "select", path_copy, "--index", 0)
    assert result.exit_code == 1 and "--overwrite" in result.output
    assert (path_copy / "layers" / "sparse.npz").read_bytes() == before
    ok("solve", "select", path_copy, "--index", 0, "--dense", path_copy / "layers" / "dense.npz", "--overwrite")
    from studykit.solver import DecisionLayer

    assert DecisionLayer.load(path_copy / "layers" / "sparse.npz").nnz == 0  # index 0 is alpha_max


def test_missing_store_file_is_a_clear_error(tmp_path):
    store = make_store(tmp_path / "features")
    (store / "train_labels.npy").unlink()
    result = invoke("solve", "path", store, "--out", tmp_path / "path", *PATH_ARGS)
    assert result.exit_code == 1
    assert "train_labels.npy" in result.output and "missing" in result.output
    assert not (tmp_path / "path" / "path.npz").exists()
    result = invoke("solve", "path", tmp_path / "nowhere", "--out", tmp_path / "path")
    assert result.exit_code == 1 and "nowhere" in result.output
    result = invoke("solve", "select", tmp_path / "path")
    assert result.exit_code == 1 and "path.npz is missing" in result.output


def test_bad_option_is_a_clear_error(tmp_path):
    result = invoke("solve", "path", tmp_path, "--out", tmp_path / "path", "--l1-ratio", 2)
    assert result.exit_code == 1 and "l1_ratio=2.0 is invalid" in result.output


def test_resumes_from_a_checkpoint(tmp_path):
    """A folder with only a checkpoint is resumed: the metric rows come from the checkpoint."""
    from studykit.solver import fit_path

    store = FeatureStore.open(make_store(tmp_path / "features"))
    (X, y), (Xv, yv), (Xt, yt) = (store.split(s) for s in ("train", "val", "test"))
    first = fit_path(X, y, X_val=Xv, y_val=yv, X_test=Xt, y_test=yt, n_alphas=N_ALPHAS, eps=1e-2, n_classes=3,
                     classes=store.classes, checkpoint_dir=tmp_path / "path" / "checkpoint")
    assert not (tmp_path / "path" / "path.npz").exists()
    ok("solve", "path", store.directory, "--out", tmp_path / "path", *PATH_ARGS)
    resumed = pd.read_csv(tmp_path / "path" / "metrics.csv")
    np.testing.assert_allclose(resumed["seconds"], first.metrics["seconds"])
    assert not (tmp_path / "path" / "checkpoint").exists()


def test_val_fraction_without_val_split(tmp_path, analyses_stub):
    store = make_store(tmp_path / "features", val=False, test=False)
    ok("solve", "path", store, "--out", tmp_path / "path", *PATH_ARGS, "--val-fraction", 0.2)
    metrics = pd.read_csv(tmp_path / "path" / "metrics.csv")
    assert metrics["val_accuracy"].notna().all() and metrics["test_accuracy"].isna().all()
    assert json.loads((tmp_path / "path" / "config.json").read_text())["val_fraction"] == 0.2
    result = invoke("solve", "select", tmp_path / "path", "--dense", "model")
    assert result.exit_code == 1 and "dense_layer.npz" in result.output
    result = ok("solve", "select", tmp_path / "path")  # no model layer in the store: dense is refitted
    assert "no test split" in result.stdout and "fitted with l1_ratio=0" in result.stdout


def test_dense_defaults_to_the_models_layer(fitted, tmp_path, analyses_stub):
    from studykit.solver import DecisionLayer

    store = shutil.copytree(fitted.store, tmp_path / "features")
    rng = np.random.default_rng(1)
    model = DecisionLayer(rng.normal(size=(3, 16)).astype(np.float32), np.zeros(3, np.float32),
                          name="fc", source="model final Linear")
    model.save(store / "dense_layer.npz")
    path_dir = shutil.copytree(fitted.path, tmp_path / "path")
    shutil.rmtree(path_dir / "layers")
    ok("solve", "select", path_dir, "--store", store)
    dense = DecisionLayer.load(path_dir / "layers" / "dense.npz")
    assert dense.name == "dense" and dense.source == "model final Linear"
    np.testing.assert_array_equal(dense.weight, model.weight)


def test_grouped_path_with_the_unregularized_fit(tmp_path, analyses_stub):
    """Issue 19: --grouped gives layers whose features are used by every class or none; select works unchanged."""
    from studykit.solver import DecisionLayer

    store = make_store(tmp_path / "features", n_train=150, n_eval=40)
    ok("solve", "path", store, "--out", tmp_path / "path", "--grouped", "--include-unregularized", "--max-epochs", 100,
       "--n-alphas", 4, "--eps", "1e-2")
    metrics = pd.read_csv(tmp_path / "path" / "metrics.csv")
    assert len(metrics) == 5 and metrics["alpha"].iloc[-1] == 0
    config = json.loads((tmp_path / "path" / "config.json").read_text())
    assert config["grouped"] is True and config["solver_method"] == "fista"
    ok("solve", "select", tmp_path / "path", "--dense", "fit")
    sparse = DecisionLayer.load(tmp_path / "path" / "layers" / "sparse.npz")
    used = sparse.weight != 0
    assert used.any() and (used.any(0) == used.all(0)).all()


def test_binomial_path_and_select(tmp_path, analyses_stub):
    """Issue 19: --family binomial on a two-class store; the one output is named after class 1."""
    from studykit.solver import DecisionLayer

    rng = np.random.default_rng(0)
    store = tmp_path / "features"
    write_meta(store, {"n_features": 6, "classes": ["neg", "pos"], "model": "synthetic", "layer": "none",
                       "dataset": "two blobs"})
    for split, n in (("train", 120), ("val", 40), ("test", 40)):
        y = rng.integers(0, 2, n)
        X = rng.normal(size=(n, 6))
        X[:, 0] += 2.5 * y
        write_split(store, split, X, y)
    ok("solve", "path", store, "--out", tmp_path / "path", "--family", "binomial", "--n-alphas", 5, "--eps", "1e-2")
    run = ok("solve", "select", tmp_path / "path")
    sparse = DecisionLayer.load(tmp_path / "path" / "layers" / "sparse.npz")
    assert sparse.family == "binomial" and sparse.weight.shape == (1, 6) and sparse.classes == ("pos",)
    assert sparse.weight[0, 0] > 0 and run.stdout.count("test accuracy") == 2
    X_test, y_test = FeatureStore.open(store).split("test")
    assert np.mean(sparse.predict(X_test) == y_test) > 0.8
