"""``studykit solve``: fit a regularization path on a feature store, then select decision layers.

Thin commands: options -> :class:`~studykit.solver.PathConfig` -> :func:`~studykit.solver.fit_store`
(``fit_path`` on the store's splits) / :meth:`~studykit.solver.PathResult.select` and
:func:`~studykit.solver.dense_layer`. torch and the solver are imported inside the commands.

A path folder holds ``path.npz``, ``metrics.csv``, ``config.json`` (written by ``PathResult.save``;
``fit_store`` records ``features_dir`` and ``val_fraction`` in ``PathResult.info`` so that ``select``
can find the store again), ``checkpoint/`` while a fit is running, then ``layers/{sparse,dense}.npz`` and
``analysis/`` once ``select`` has run.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import click

from .common import DEVICE_HELP, device_option, overwrite_option, store_option, torch_device, user_errors

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
@click.argument("features_dir", metavar="STORE", type=click.Path(path_type=Path))
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
@device_option
@click.option("--table-device", default=None, help="Where the SAGA gradient table lives [default: --device]: "
              + DEVICE_HELP)
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default=None, help="[default: the features' dtype]")
@click.option("--matmul-precision", type=click.Choice(["highest", "tf32", "bf16"]), default="highest", show_default=True,
              help="GEMM precision on a GPU (owlqn/fista); the KKT certificate and objective stay float32.")
@click.option("--grouped", is_flag=True,
              help="Group penalty: each feature is used by every class or by none (glm-saga's group=True).")
@click.option("--include-unregularized", is_flag=True, help="Append the alpha=0 fit to the path (glm-saga's do_zero).")
@overwrite_option("a complete path already in --out")
def path_command(features_dir: Path, out: Path, family: str, l1_ratio: float, n_alphas: int, eps: float,
                 method: str, stopping: str, tol: float | None, lookbehind: int, max_epochs: int, batch_size: int,
                 lr: float | None, standardize: bool, val_fraction: float, seed: int, device: str,
                 table_device: str | None, dtype: str | None, matmul_precision: str, grouped: bool,
                 include_unregularized: bool, overwrite: bool) -> None:
    """Fit a regularization path on the features of the feature store STORE.

    An interrupted fit resumes from --out/checkpoint when run again with the same options.
    Under torchrun (--nproc-per-node N, --nnodes M) each process reads its block of the training
    rows on its own device (cuda:LOCAL_RANK) and every solver iteration all-reduces the gradient;
    rank 0 writes the checkpoints and the path (owlqn, fista; --method saga runs in one process).
    """
    from studykit.features import FeatureStore
    from studykit.solver import PathConfig, fit_store

    from .distributed import torchrun_session

    with user_errors():
        config = PathConfig(family=family, l1_ratio=l1_ratio, n_alphas=n_alphas, eps=eps, method=method,
                            stopping=stopping, tol=tol, lookbehind=lookbehind, max_epochs=max_epochs,
                            batch_size=batch_size, lr=lr, standardize=standardize, seed=seed, dtype=dtype,
                            matmul_precision=matmul_precision, grouped=grouped,
                            include_unregularized=include_unregularized)
        replacing = (out / "path.npz").exists()
        if replacing and not overwrite:
            raise click.ClickException(f"{out / 'path.npz'} already exists (a complete path); "
                                       "pass --overwrite to replace it or choose another --out")
        store = FeatureStore.open(features_dir)
        with torchrun_session(torch_device(device)) as (device, talks):
            result = fit_store(store, config, val_fraction=val_fraction, device=device,
                               table_device=table_device and torch_device(table_device),
                               checkpoint_dir=out / CHECKPOINT_DIR, progress=True)
            if talks:
                result.save(out)
    if not talks:
        return
    shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)
    if replacing:
        _remove_stale(out)
    click.echo(_path_summary(result, out))


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
@click.argument("path_dir", metavar="PATH", type=click.Path(file_okay=False, path_type=Path))
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
@store_option("Feature store [default: the one the path was fitted on, when it still exists].")
@click.option("--k", type=int, default=10, show_default=True, help="Top features per class in the analyses.")
@device_option
@overwrite_option("layers already selected in PATH")
def select_command(path_dir: Path, within: float, relative: bool, index: int | None,
                   max_features_per_class: float | None, by: str, dense_spec: str | None, store_dir: Path | None,
                   k: int, device: str, overwrite: bool) -> None:
    """Select the sparse and dense decision layers of the path folder PATH and analyse them.

    Writes PATH/layers/sparse.npz, PATH/layers/dense.npz and PATH/analysis/.
    """
    from studykit.solver import PathResult, dense_layer

    sparse_path, dense_path = path_dir / LAYERS_DIR / "sparse.npz", path_dir / LAYERS_DIR / "dense.npz"
    with user_errors():
        result = PathResult.load(path_dir)
        existing = [p for p in (sparse_path, dense_path) if p.exists()]
        if existing and not overwrite:
            raise click.ClickException(f"{existing[0]} already exists; pass --overwrite to select again")
        store = _store_for(result, store_dir)
        sparse = result.select(index, within=within, relative=relative, by=by,
                               max_features_per_class=max_features_per_class, name="sparse")
        dense = dense_layer(dense_spec, result, store, by=by, device=torch_device(device))
        _check_compatible(sparse, dense, store)
        sparse.save(sparse_path)
        dense.save(dense_path)
        X_test, y_test = store.split("test") if store is not None and store.has("test") else (None, None)
        reports = _write_report(result, path_dir / ANALYSIS_DIR, sparse, dense, X_test, y_test, k)
    for layer, file in ((sparse, sparse_path), (dense, dense_path)):
        click.echo(_layer_summary(layer, file, X_test, y_test))
    click.echo(f"analysis: {path_dir / ANALYSIS_DIR} ({len(reports)} files)")


def _store_for(result, features_dir: Path | None):
    """The store given with --store, else the one recorded in the path's config, else None."""
    from studykit.features import FeatureStore

    if features_dir is not None:
        return FeatureStore.open(features_dir)
    recorded = result.info.get("features_dir")
    if recorded and Path(recorded).is_dir():
        return FeatureStore.open(recorded)
    if recorded:
        log.warning("the path's feature store %s is gone; pass --store to use another", recorded)
    return None


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
