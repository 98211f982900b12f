"""``studykit solve``: fit a regularization path on a feature store, then select decision layers.

Thin commands: options -> :class:`~studykit.solver.PathConfig` -> :func:`~studykit.solver.fit_path`
/ :meth:`~studykit.solver.PathResult.select`. torch and the solver are imported inside the commands.

A path folder holds ``path.npz``, ``metrics.csv``, ``config.json`` (written by ``PathResult.save``;
the CLI adds ``features_dir`` and ``val_fraction`` to the configuration so that ``select`` can find
the store again), ``checkpoint/`` while a fit is running, then ``layers/{sparse,dense}.npz`` and
``analysis/`` once ``select`` has run.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path
from typing import NamedTuple

import click

from .common import user_errors

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"
LAYERS_DIR = "layers"
ANALYSIS_DIR = "analysis"
ACCURACY_METRICS = ("val_accuracy", "train_accuracy", "test_accuracy")


@click.group(name="solve")
def solve() -> None:
    """Fit elastic-net regularization paths and select dense and sparse decision layers."""


# ---------------------------------------------------------------------------------------------
@solve.command("path")
@click.argument("features_dir", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Path folder to write (path.npz, metrics.csv, config.json).")
@click.option("--family", type=click.Choice(["multinomial", "gaussian", "binomial", "multilabel"]), default="multinomial",
              show_default=True, help="binomial: 0/1 labels, one sigmoid; multilabel: a 0/1 label matrix.")
@click.option("--l1-ratio", type=float, default=0.99, show_default=True,
              help="L1/L2 mix of the elastic net (glm-saga calls it alpha).")
@click.option("--n-alphas", type=int, default=100, show_default=True, help="Number of regularization strengths.")
@click.option("--eps", type=float, default=1e-3, show_default=True, help="Smallest alpha as a fraction of alpha_max.")
@click.option("--method", type=click.Choice(["owlqn", "fista", "saga"]), default="owlqn", show_default=True)
@click.option("--stopping", type=click.Choice(["auto", "kkt", "gradient", "lookbehind"]), default="auto",
              show_default=True, help="Stopping rule (owlqn/fista: kkt; saga: also the appendix's gradient/lookbehind).")
@click.option("--tol", type=float, default=None, help="Stopping tolerance [default: 1e-4].")
@click.option("--lookbehind", type=int, default=5, show_default=True)
@click.option("--max-epochs", type=int, default=2000, show_default=True, help="Cap on passes over the data per alpha.")
@click.option("--batch-size", type=int, default=512, show_default=True, help="SAGA minibatch size.")
@click.option("--lr", type=float, default=None, help="SAGA step size [default: 1/L(b), halved on divergence; the paper used 0.1].")
@click.option("--standardize/--no-standardize", default=True, show_default=True)
@click.option("--val-fraction", type=float, default=0.1, show_default=True,
              help="Fraction of train rows held out for validation, only when the store has no val split (0: none).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default=None, help="Where the data and iterates live, e.g. cuda:0 [default: cpu].")
@click.option("--table-device", default=None, help="Where the SAGA gradient table lives [default: --device].")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default=None, help="[default: the features' dtype]")
@click.option("--grouped", is_flag=True,
              help="Group penalty: each feature is used by every class or by none (glm-saga's group=True).")
@click.option("--include-unregularized", is_flag=True, help="Append the alpha=0 fit to the path (glm-saga's do_zero).")
@click.option("--overwrite", is_flag=True, help="Replace a complete path already in --out.")
def path_command(features_dir: Path, out: Path, family: str, l1_ratio: float, n_alphas: int, eps: float,
                 method: str, stopping: str, tol: float | None, lookbehind: int, max_epochs: int, batch_size: int,
                 lr: float | None, standardize: bool, val_fraction: float, seed: int, device: str | None,
                 table_device: str | None, dtype: str | None, grouped: bool, include_unregularized: bool,
                 overwrite: bool) -> None:
    """Fit a regularization path on the features in FEATURES_DIR.

    An interrupted fit resumes from --out/checkpoint when run again with the same options.
    """
    from studykit.features import FeatureStore
    from studykit.solver import PathConfig

    with user_errors():
        config = PathConfig(family=family, l1_ratio=l1_ratio, n_alphas=n_alphas, eps=eps, method=method,
                            stopping=stopping, tol=tol, lookbehind=lookbehind, max_epochs=max_epochs,
                            batch_size=batch_size, lr=lr, standardize=standardize, seed=seed, dtype=dtype,
                            grouped=grouped, include_unregularized=include_unregularized)
        replacing = (out / "path.npz").exists()
        if replacing and not overwrite:
            raise click.ClickException(f"{out} already holds a complete path (path.npz); "
                                       "pass --overwrite to replace it or choose another --out")
        store = FeatureStore.open(features_dir)
        data = _load_splits(store, val_fraction)
        result = _fit(config, data, store, device=device, table_device=table_device,
                      checkpoint_dir=out / CHECKPOINT_DIR)
        result.config.update(features_dir=str(store.directory.resolve()), val_fraction=data.val_fraction)
        result.save(out)
    shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)
    if replacing:
        _remove_stale(out)
    click.echo(_path_summary(result, out))


class _Splits(NamedTuple):
    X: object
    y: object
    X_val: object
    y_val: object
    X_test: object
    y_test: object
    val_fraction: float


def _load_splits(store, val_fraction: float) -> _Splits:
    """The store's splits; ``val_fraction`` applies only when the store has no val split."""
    X, y = store.split("train")
    X_val, y_val = store.split("val") if store.has("val") else (None, None)
    X_test, y_test = store.split("test") if store.has("test") else (None, None)
    return _Splits(X, y, X_val, y_val, X_test, y_test, 0.0 if X_val is not None else float(val_fraction))


def _fit(config, data: _Splits, store, *, device=None, table_device=None, checkpoint_dir=None):
    from studykit.solver import fit_path

    classes = store.classes
    n_classes = len(classes) if classes is not None and config.family == "multinomial" else None
    return fit_path(data.X, data.y, X_val=data.X_val, y_val=data.y_val, X_test=data.X_test, y_test=data.y_test,
                    val_fraction=data.val_fraction, family=config.family, l1_ratio=config.l1_ratio,
                    n_alphas=config.n_alphas, eps=config.eps, alphas=config.alphas, method=config.method,
                    stopping=config.stopping, tol=config.tol, lookbehind=config.lookbehind,
                    max_epochs=config.max_epochs, batch_size=config.batch_size, lr=config.lr,
                    standardize=config.standardize, seed=config.seed, dtype=config.dtype, n_classes=n_classes,
                    classes=classes, device=device, table_device=table_device, checkpoint_dir=checkpoint_dir,
                    progress=True, grouped=config.grouped, include_unregularized=config.include_unregularized)


def _remove_stale(out: Path) -> None:
    """Layers and analyses selected from a replaced path no longer describe it."""
    for name in (LAYERS_DIR, ANALYSIS_DIR):
        if (out / name).exists():
            shutil.rmtree(out / name)
            click.echo(f"removed {out / name} (selected from the replaced path)", err=True)


def _path_summary(result, out: Path) -> str:
    m = result.metrics
    text = (f"{out}: {len(result)} alphas ({result.alphas[0]:.4g} to {result.alphas[-1]:.4g}), "
            f"nnz {int(m['nnz'].min())} to {int(m['nnz'].max())}")
    by = "val_loss" if result.family == "gaussian" else "val_accuracy"
    if m[by].notna().any():
        i = result.best(by)
        text += f", best {by.replace('_', ' ')} {m[by].iloc[i]:.4f} at index {i}"
    else:
        text += ", no validation split"
    unconverged = int((~m["converged"].astype(bool)).sum())
    if unconverged:
        text += f"; {unconverged} alphas did not converge (raise --max-epochs)"
    return text


# ---------------------------------------------------------------------------------------------
@solve.command("select")
@click.argument("path_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--within", type=float, default=0.05, show_default=True,
              help="Sparsest layer whose accuracy is at most this much below the best (0.05 = 5 points).")
@click.option("--relative", is_flag=True, help="Read --within as a fraction of the best accuracy.")
@click.option("--index", type=int, default=None, help="Take this path point instead.")
@click.option("--max-features-per-class", type=float, default=None,
              help="Most accurate layer using on average at most this many features per class.")
@click.option("--by", type=click.Choice(ACCURACY_METRICS), default="val_accuracy", show_default=True)
@click.option("--dense", "dense_spec", default=None, metavar="model|fit|FILE",
              help="Dense layer: the store's dense_layer.npz (model), a refit with l1_ratio=0 (fit), or a "
                   "DecisionLayer .npz [default: model when the store has one, else fit].")
@click.option("--features", "features_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Feature store [default: the one the path was fitted on, when it still exists].")
@click.option("--k", type=int, default=10, show_default=True, help="Top features per class in the analyses.")
@click.option("--device", default=None, help="Device for the dense refit (--dense fit).")
@click.option("--overwrite", is_flag=True, help="Replace layers already selected in PATH_DIR.")
def select_command(path_dir: Path, within: float, relative: bool, index: int | None,
                   max_features_per_class: float | None, by: str, dense_spec: str | None, features_dir: Path | None,
                   k: int, device: str | None, overwrite: bool) -> None:
    """Select the sparse and dense decision layers of the path in PATH_DIR and analyse them.

    Writes PATH_DIR/layers/sparse.npz, PATH_DIR/layers/dense.npz and PATH_DIR/analysis/.
    """
    from studykit.solver import PathResult

    sparse_path, dense_path = path_dir / LAYERS_DIR / "sparse.npz", path_dir / LAYERS_DIR / "dense.npz"
    with user_errors():
        result = PathResult.load(path_dir)
        existing = [p for p in (sparse_path, dense_path) if p.exists()]
        if existing and not overwrite:
            raise click.ClickException(f"{existing[0]} already exists; pass --overwrite to select again")
        store = _store_for(result, features_dir)
        sparse = result.select(index, within=within, relative=relative, by=by,
                               max_features_per_class=max_features_per_class, name="sparse")
        dense = _dense_layer(dense_spec, store, result, by=by, device=device)
        _check_compatible(sparse, dense, store)
        sparse.save(sparse_path)
        dense.save(dense_path)
        X_test, y_test = store.split("test") if store is not None and store.has("test") else (None, None)
        reports = _write_report(result, path_dir / ANALYSIS_DIR, sparse, dense, X_test, y_test, k)
    for layer, file in ((sparse, sparse_path), (dense, dense_path)):
        click.echo(_layer_summary(layer, file, X_test, y_test))
    click.echo(f"analysis: {path_dir / ANALYSIS_DIR} ({len(reports)} files)")


def _store_for(result, features_dir: Path | None):
    """The store given with --features, else the one recorded in the path's config, else None."""
    from studykit.features import FeatureStore

    if features_dir is not None:
        return FeatureStore.open(features_dir)
    recorded = result.config.get("features_dir")
    if recorded and Path(recorded).is_dir():
        return FeatureStore.open(recorded)
    if recorded:
        log.warning("the path's feature store %s is gone; pass --features to use another", recorded)
    return None


def _dense_layer(spec: str | None, store, result, *, by: str, device: str | None):
    from studykit.solver import DecisionLayer

    if spec in (None, "model"):
        model = store.dense_layer() if store is not None else None
        if model is not None:
            return dataclasses.replace(model, name="dense")
        if spec == "model":
            where = f"{store.directory} has no dense_layer.npz" if store is not None else "no feature store is known"
            raise ValueError(f"--dense model needs the model's own layer, but {where} (pass --features, "
                             "or use --dense fit or --dense FILE)")
        spec = "fit"
    if spec == "fit":
        if store is None:
            raise ValueError("--dense fit needs the feature store the path was fitted on: pass --features")
        return _fit_dense(result, store, by=by, device=device)
    file = Path(spec)
    if not file.is_file():
        raise FileNotFoundError(f"--dense {spec}: no such file (expected model, fit or a DecisionLayer .npz)")
    return dataclasses.replace(DecisionLayer.load(file), name="dense")


#: Grid of the dense refit. With l1_ratio=0 the path's alpha_max is computed with l1_ratio=1e-3
#: (glmnet's convention), i.e. 1000 times the lasso's, so eps=1e-3 would stop where the lasso path
#: starts (all points heavily shrunk); 1e-6 spans the same range below the lasso's alpha_max.
DENSE_N_ALPHAS, DENSE_EPS = 10, 1e-6


def _fit_dense(result, store, *, by: str, device: str | None):
    """Refit the path's problem without sparsity (l1_ratio=0) and keep the most accurate point."""
    from studykit.solver import PathConfig

    names = {f.name for f in dataclasses.fields(PathConfig)}
    base = PathConfig.from_dict({key: v for key, v in result.config.items() if key in names})
    config = dataclasses.replace(base, l1_ratio=0.0, n_alphas=DENSE_N_ALPHAS, eps=DENSE_EPS, alphas=None)
    data = _load_splits(store, result.config.get("val_fraction", 0.1) or 0.0)
    dense_path = _fit(config, data, store, device=device)
    layer = dense_path.select(_most_accurate(dense_path, by), name="dense")
    return dataclasses.replace(layer, source=f"fitted with l1_ratio=0 on {store.directory}: {layer.source}")


def _most_accurate(result, by: str) -> int:
    """The best point by ``by`` (an accuracy); ties, common on small splits, go to the lower loss.

    (``select(within=0)`` would break them by sparsity, which a ridge path does not vary, and so
    would take the most regularized of the tied points.)
    """
    import numpy as np

    accuracy = result.metrics[by].to_numpy(dtype=float)
    loss = result.metrics[by.replace("accuracy", "loss")].to_numpy(dtype=float)
    tied = np.flatnonzero(accuracy >= result.metrics[by].iloc[result.best(by)] - 1e-12)
    return int(tied[np.argmin(loss[tied])])


def _check_compatible(sparse, dense, store) -> None:
    if dense.weight.shape != sparse.weight.shape:
        raise ValueError(f"the dense layer has shape {dense.weight.shape} but the path's layers have "
                         f"{sparse.weight.shape} (n_classes, n_features)")
    if store is not None and store.n_features != sparse.n_features:
        raise ValueError(f"{store.directory} has {store.n_features} features but the path has {sparse.n_features}")


def _write_report(result, out_dir: Path, sparse, dense, X_test, y_test, k: int) -> dict:
    from studykit.solver.analyses import write_report

    if sparse.family != "multinomial":  # issue 19: the top-k table is defined for class scores only
        X_test = y_test = None

    return write_report(result, out_dir, sparse=sparse, dense=dense, X_test=X_test, y_test=y_test, k=k,
                        scale=result.scale)


def _layer_summary(layer, file: Path, X_test, y_test) -> str:
    import numpy as np

    fpc = layer.features_per_class
    text = (f"{layer.name}: {file} ({fpc.mean():.1f} features per class on average, {fpc.min()} to {fpc.max()}; "
            f"{layer.source})")
    if X_test is None:
        return text + ", no test split"
    if layer.family == "multinomial":
        return text + f", test accuracy {float(np.mean(layer.predict(X_test) == y_test)):.4f}"
    if layer.family in ("binomial", "multilabel"):  # issue 19: mean per-label accuracy
        return text + f", test accuracy {float(np.mean(layer.predict(X_test) == np.asarray(y_test))):.4f}"
    residual = layer.predict(X_test) - np.asarray(y_test, dtype=np.float64).reshape(len(y_test), -1)
    return text + f", test mean squared error {float(np.mean(residual ** 2)):.4g}"
