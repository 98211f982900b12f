r"""Elastic-net regularization paths for dense and sparse decision layers (appendix A).

The objective, for ``W`` of shape ``(n_classes, n_features)`` and an unpenalized intercept ``b``:

.. math::

    F(W, b) = \frac{1}{n} \sum_{i=1}^{n} \ell(W x_i + b, y_i)
              + \alpha \Big( \rho \lVert W \rVert_1 + \frac{1 - \rho}{2} \lVert W \rVert_F^2 \Big)

with ``alpha`` the regularization strength and ``rho = l1_ratio`` (scikit-learn's names; glm-saga
calls them ``lam`` and ``alpha``), ``x_i`` the training features standardized with the training
split's mean and population standard deviation, and ``l`` the datafit: ``1/2 ||z - y||^2`` for
``family="gaussian"``, softmax cross-entropy for ``family="multinomial"``.

The path starts at ``alpha_max`` (eq. 5), the smallest ``alpha`` whose solution is ``W = 0``,
computed on exactly the rows and the standardization the solver uses,
``alpha_max = max_{j,c} |sum_i x_ij (y_ic - mean_c(y))| / (n * max(l1_ratio, 1e-3))``,
and descends on a log grid to ``eps * alpha_max``; each solution warm-starts the next (and, for
SAGA, so does the gradient table).

Issue 19 adds: ``grouped=True``, the penalty ``alpha (rho sum_j ||W[:, j]||_2 + (1 - rho)/2 ||W||_F^2)``
(whole feature columns; ``alpha_max`` from the largest column norm of the null model's gradient);
``family="multilabel"`` / ``"binomial"`` (binary cross-entropy per output, :mod:`.multilabel`); and
``include_unregularized=True``, which appends ``alpha = 0`` to the grid (glm-saga's ``do_zero``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from studykit import distributed as dist
from studykit._device import resolve_device
from studykit._progress import progress_bar

from .compressed import compressed_problem, worth_it
from .config import PathConfig
from .datafits import SIGMOID_FAMILIES, get_datafit
from .design import Design, as_index
from .gramcd import gram_statistics, solve_gram_cd
from .multilabel import mean_average_precision, null_intercept, sigmoid_targets
from .penalties import penalty_functions
from .pathstate import PathState
from .results import METRIC_COLUMNS, PathResult
from .saga import SagaState, default_step, solve_saga
from .warmstart import extrapolate
from .workingset import SolveInfo, full_gradient, max_violation, solve_working_set

log = logging.getLogger(__name__)

EXTRAPOLATE = True  #: owlqn/fista warm starts extrapolated along the path (:mod:`.warmstart`, issue 12)


def fit_path(X, y, config: PathConfig | None = None, *, X_val=None, y_val=None, X_test=None, y_test=None,
             val_fraction: float = 0.0, n_classes: int | None = None, classes=None, device=None,
             table_device=None, preload: str = "auto", checkpoint_dir=None, progress: bool = False,
             callback=None, distributed: bool | None = None, **options) -> PathResult:
    """Fit an elastic-net regularization path of linear decision layers on deep features.

    For each ``alpha`` of the path, minimizes over ``W`` ``(n_classes, n_features)`` and ``b``::

        mean_i loss(W x_i + b, y_i) + alpha * (l1_ratio * |W|_1 + (1 - l1_ratio) / 2 * |W|_F^2)

    on the standardized training features, the intercept unpenalized; ``loss`` is softmax
    cross-entropy (multinomial) or ``1/2 |z - y|^2`` (gaussian). glm-saga's ``lam`` is ``alpha``
    and its ``alpha`` is ``l1_ratio``. The grid starts at eq. (5)'s ``alpha_max`` (all weights zero)
    and each solution warm-starts the next.

    What is solved is ``config`` (a :class:`PathConfig`; default ``PathConfig()``); the other
    arguments say which data, which evaluation splits and which device. Keyword shortcuts
    ``fit_path(X, y, l1_ratio=0.9, method="fista")`` are applied to ``config`` with
    :meth:`PathConfig.replace`, so ``fit_path(X, y, config)`` and ``fit_path(X, y, **fields)`` are
    the same call.

    Parameters
    ----------
    X : array, memmap or tensor, shape (n_samples, n_features)
        Training features (raw: standardization is fitted here and folded into the layers).
        Never modified or copied when it can be used in place.
    y : array or tensor, shape (n_samples,) integer labels (multinomial) or (n_samples[, n_outputs])
        float targets (gaussian).
    X_val, y_val, X_test, y_test : optional evaluation splits (metrics only).
    val_fraction : when ``X_val`` is None and this is > 0, hold out this fraction of ``X``'s rows
        (seeded) as the validation split *before* anything is fitted.
    config : PathConfig
        The objective, grid, method and stopping rule (see :class:`PathConfig` for every field).
    **options : PathConfig fields, applied on top of ``config``. Issue 19's fields:
        ``grouped=True`` penalizes each feature column as one group across all outputs (see
        :func:`studykit.solver.penalties.group_penalty_value`; ``method="owlqn"``/``"auto"`` then
        runs as ``"fista"``, recorded as ``info["solver_method"]``); ``include_unregularized=True``
        appends ``alpha = 0`` (the unregularized fit, glm-saga's ``do_zero``) to the grid.
    n_classes, classes : number and names of classes (default: ``max(label) + 1``); for
        ``binomial``, two names keep the second (the output is the logit of class 1).
    device, table_device : where the data and iterates live (default: ``X``'s device, or CPU) and
        where the SAGA table lives (default: ``device``). Data that does not fit on the device is
        streamed from ``X`` in row chunks.
    checkpoint_dir : after each alpha the path so far and the solver state are saved here; a later
        call with the same data and configuration resumes where it stopped.
    callback : called as ``callback(index, metrics_row)`` after each alpha; when it returns True
        the path stops there and the result holds the alphas fitted so far (e.g. stop once the
        layer is denser than needed, or at a time budget). Across ranks, rank 0's answer counts.
    distributed : split the training rows across the ranks of the active ``torch.distributed``
        process group (default None: when one with more than one rank is initialized, e.g. under
        ``torchrun``). Every rank must then call ``fit_path`` with the same arguments, each on its
        own device; each reads only its contiguous block of the training rows, every iteration
        all-reduces the gradient and the loss, and every rank returns the same result (equal to one
        process's up to the order of floating-point sums). Rank 0 alone writes the checkpoints.
        ``owlqn``, ``fista`` and ``cd``; ``saga``'s sequential minibatches are not split.

    Returns
    -------
    PathResult
    """
    config = (config if config is not None else PathConfig()).replace(**options)
    seed = config.seed
    train_rows = val_rows = None
    if X_val is None and val_fraction:
        train_rows, val_rows = split_rows(_n_rows(X, "X"), val_fraction, seed)
        X_val, y_val = X, y
    shard = _shard(distributed, config)

    def build():
        return _Problem.build(config, X, y, train_rows, X_val, y_val, val_rows, X_test, y_test, n_classes, device,
                              table_device, preload, shard)

    problem = dist.collective(build) if shard else build()  # across ranks: an error on one is raised on all
    if config.family == "binomial" and classes is not None and len(classes) == 2:
        classes = tuple(classes)[1:]  # issue 19: the one output is the logit of class 1
    return _run(problem, config, classes, Path(checkpoint_dir) if checkpoint_dir else None, progress, callback)


def _shard(distributed: bool | None, config: PathConfig) -> tuple[int, int] | None:
    """``(rank, world_size)`` when the training rows are split across a process group, else None."""
    rank, size = dist.world()
    if distributed is False or (distributed is None and size == 1):
        return None
    if size == 1:
        raise ValueError("distributed=True needs an initialized torch.distributed process group with more than "
                         "one rank (run under torchrun)")
    if config.solver == "saga":
        raise ValueError("method='saga' cannot split its rows across processes (its minibatches are sequential); "
                         "use method='owlqn' (default), 'fista' or 'cd', or run one process")
    return rank, size


def split_rows(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of ``range(n)`` into sorted (train, validation) row indices."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"val_fraction={fraction!r} is invalid: expected a number in (0, 1)")
    n_val = int(round(n * fraction))
    if not 0 < n_val < n:
        raise ValueError(f"val_fraction={fraction} of {n} rows leaves an empty split")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def alpha_grid(alpha_max: float, n_alphas: int, eps: float) -> np.ndarray:
    """``n_alphas`` values from ``alpha_max`` down to ``eps * alpha_max``, evenly spaced in log."""
    if alpha_max <= 0:
        return np.zeros(n_alphas)
    return np.logspace(math.log10(alpha_max), math.log10(eps * alpha_max), n_alphas)


# ---------------------------------------------------------------------------------------------
class _Problem:
    """Validated tensors and designs for the train/val/test splits."""

    @classmethod
    def build(cls, config, X, y, train_rows, X_val, y_val, val_rows, X_test, y_test, n_classes, device,
              table_device, preload, shard):
        """``shard``: ``(rank, world_size)`` when this rank fits on its block of the training rows."""
        self = cls()
        self.datafit = get_datafit(config.family)
        torch_dtype = {None: None, "float32": torch.float32, "float64": torch.float64}[config.dtype]
        ys = {"train": _labels(y, "y", train_rows), "val": _labels(y_val, "y_val", val_rows),
              "test": _labels(y_test, "y_test", None)}
        _check_lengths(X, y, "X", "y")
        for Xs, ys_, nx, ny in ((X_val, y_val, "X_val", "y_val"), (X_test, y_test, "X_test", "y_test")):
            if (Xs is None) != (ys_ is None):
                raise ValueError(f"{nx} and {ny} must be given together")
            if Xs is not None:
                _check_lengths(Xs, ys_, nx, ny)
                if Xs.shape[1] != X.shape[1]:
                    raise ValueError(f"{nx} has {Xs.shape[1]} features; X has {X.shape[1]}")
        self.k = _n_outputs(config.family, ys, n_classes)
        self.fingerprint = _fingerprint(X, ys["train"], train_rows, self.k)
        rows, block = train_rows, slice(None)
        if shard is not None:  # this rank's contiguous block of the training rows
            block = slice(*dist.shard_range(len(ys["train"]), *shard))
            rows = (train_rows if train_rows is not None else np.arange(len(ys["train"])))[block]
        self.train = Design.build(X, rows, device=device, dtype=torch_dtype, standardize=config.standardize,
                                  preload=preload, sharded=shard is not None)
        _check_finite(self.train, "X")
        if self.train.n_total < 2:
            raise ValueError("X needs at least 2 training rows")
        stats = (self.train.mean, self.train.scale, self.train.inv_scale)
        self.device, self.dtype = self.train.device, self.train.dtype
        self.table_device = resolve_device(table_device) if table_device else self.device
        self.Y = self._targets(ys["train"], "y")[block]  # checked whole: errors name the row of y
        self.splits = {}
        for name, Xs, rows in (("val", X_val, val_rows), ("test", X_test, None)):
            if Xs is not None:
                design = Design.build(Xs, rows, device=self.device, dtype=self.dtype, stats=stats, preload=preload)
                self.splits[name] = (design, self._targets(ys[name], "y_" + name))
        return self

    def _targets(self, y: np.ndarray, name: str) -> torch.Tensor:
        if self.datafit.name == "multinomial":
            if not np.issubdtype(y.dtype, np.integer):
                if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
                    raise ValueError(f"{name}: multinomial labels must be integers")
            bad = np.flatnonzero((y < 0) | (y >= self.k))
            if len(bad):
                raise ValueError(f"{name}: label {y[bad[0]].item()!r} at row {bad[0]} is outside [0, {self.k})")
            return torch.as_tensor(y.astype(np.int64), device=self.device)
        if self.datafit.name in SIGMOID_FAMILIES:  # issue 19: multilabel / binomial
            return torch.as_tensor(sigmoid_targets(y, self.datafit.name, name, self.k), dtype=self.dtype,
                                   device=self.device)
        if not np.all(np.isfinite(y)):
            row = int(np.flatnonzero(~np.isfinite(y).reshape(len(y), -1).all(1))[0])
            raise ValueError(f"{name}: target at row {row} is NaN or Inf")
        return torch.as_tensor(y.reshape(len(y), self.k), dtype=self.dtype, device=self.device)


def _labels(y, name, rows):
    if y is None:
        return None
    arr = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if arr.ndim == 0 or arr.ndim > 2:
        raise ValueError(f"{name} must be 1-D labels or a 2-D target matrix, got shape {arr.shape}")
    rows = as_index(rows)
    return arr[rows] if rows is not None else arr


def _n_rows(X, name):
    if not hasattr(X, "shape") or len(X.shape) != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features)")
    return X.shape[0]


def _check_lengths(X, y, nx, ny):
    if _n_rows(X, nx) != len(y):
        raise ValueError(f"{nx} has {X.shape[0]} rows but {ny} has {len(y)}")


def _n_outputs(family, ys, n_classes) -> int:
    if family == "gaussian":
        y = ys["train"]
        return 1 if y.ndim == 1 else y.shape[1]
    if family in SIGMOID_FAMILIES:  # issue 19
        return sigmoid_targets(ys["train"], family, "y").shape[1]
    labels = [v for v in ys.values() if v is not None]
    k = n_classes if n_classes is not None else int(max(np.max(v) for v in labels if len(v))) + 1
    counts = np.bincount(ys["train"][(ys["train"] >= 0) & (ys["train"] < k)].astype(np.int64), minlength=k)
    absent = np.flatnonzero(counts == 0)
    if len(absent):
        raise ValueError(f"y: class {int(absent[0])} has no training rows (classes 0..{k - 1} must all appear)")
    return k


def _check_finite(design: Design, name: str) -> None:
    for start, _, Xc in design.chunks():
        bad = ~torch.isfinite(Xc)
        if bool(bad.any()):
            r, c = (int(v) for v in torch.nonzero(bad)[0])
            row = design.rows[start + r] if design.rows is not None else start + r
            raise ValueError(f"{name}: row {row}, feature {c} is NaN or Inf")


def _fingerprint(X, y, rows, k) -> str:
    """A cheap identity of the training data: shape, labels and a few rows."""
    h = hashlib.sha256()
    h.update(repr((tuple(X.shape), k, None if rows is None else len(rows))).encode())
    h.update(np.ascontiguousarray(y).tobytes())
    n = X.shape[0]
    for i in sorted({0, n // 2, n - 1}):
        row = X[i].detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X[i])
        h.update(np.ascontiguousarray(row).tobytes())
    if rows is not None:
        h.update(np.ascontiguousarray(rows).tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
def null_model(problem):
    """Intercept of the ``W = 0`` optimum and the :class:`Gradient` there."""
    design, Y, datafit = problem.train, problem.Y, problem.datafit
    if datafit.name == "multinomial":
        freq = design.reduce(torch.bincount(Y, minlength=problem.k).to(torch.float64)) / design.n_total
        b0 = freq.log() - freq.log().mean()
    else:
        b0 = design.reduce(Y.double().sum(0)) / design.n_total
        if datafit.name in SIGMOID_FAMILIES:  # issue 19
            b0 = null_intercept(b0, datafit.name)
    b0 = b0.to(problem.dtype)
    W0 = torch.zeros(problem.k, design.n_features, dtype=problem.dtype, device=problem.device)
    return b0, full_gradient(design, Y, datafit, W0, b0)


def _run(problem, config: PathConfig, classes, checkpoint_dir, progress, callback) -> PathResult:
    b0, grad = null_model(problem)
    null_objective = grad.loss
    grad_scale = float(grad.G.norm(dim=0).max() if config.grouped else grad.G.abs().max())  # issue 19: groups
    l1_eff = max(config.l1_ratio, 1e-3)
    alpha_max = grad_scale / l1_eff
    grid = np.asarray(config.alphas) if config.alphas is not None else alpha_grid(alpha_max, config.n_alphas, config.eps)
    if config.include_unregularized and (len(grid) == 0 or grid[-1] > 0):  # issue 19: glm-saga's do_zero
        grid = np.append(grid, 0.0)
    if grad_scale == 0:
        grad_scale = 1.0  # y is constant: every coefficient is zero at every alpha
    state = PathState.start(problem, config, b0, grid, null_objective)
    if checkpoint_dir is not None and state.resume(checkpoint_dir, config, problem.fingerprint):
        grad = None  # recomputed at the checkpointed point
    method = config.solver
    lipschitz = problem.train.operator_norm_sq() if method in ("owlqn", "fista") else math.nan
    if method == "saga" and state.lr is None:
        state.lr = config.lr or default_step(problem.train, problem.datafit, config.batch_size)
        log.info("SAGA step size %.3g", state.lr)
    gram = gram_statistics(problem.train, problem.Y) if method == "cd" else None
    compressed = compressed_problem(problem.train, problem.Y) \
        if method in ("owlqn", "fista") and problem.datafit.name == "gaussian" and \
        worth_it(problem.train.n_total, problem.train.n_features, problem.k, len(grid) - state.done) else None
    writes = dist.is_rank0() or not problem.train.sharded  # across ranks, rank 0 saves and reports
    bar = progress_bar(total=len(grid), initial=state.done, desc="alphas", unit="alpha",
                       disable=not (progress and writes))
    for i in range(state.done, len(grid)):
        t0 = time.perf_counter()
        alpha = float(grid[i])
        if alpha >= alpha_max * (1 - 1e-12) and not bool((state.W != 0).any()):
            info = None  # W = 0 is the exact solution (eq. 5): nothing to iterate
        else:
            grad, info = _solve_alpha(problem, config, state, i, alpha, grad, grad_scale, lipschitz, gram,
                                      compressed)
        if grad is None:
            grad = full_gradient(problem.train, problem.Y, problem.datafit, state.W, state.b)
        state.record(i, alpha, _metrics(problem, state, alpha, config, info, grad_scale, grad),
                     time.perf_counter() - t0)
        if checkpoint_dir is not None and writes:
            state.save(checkpoint_dir, config, problem.fingerprint)
        bar.update(1)
        bar.set_postfix(alpha=f"{alpha:.3g}", nnz=int(state.rows[-1]["nnz"]))
        stop = callback is not None and bool(callback(i, dict(state.rows[-1])))
        if problem.train.sharded and callback is not None:
            stop = dist.broadcast_object(stop)  # the same decision on every rank
        if stop:
            log.info("path stopped by the callback after alpha %d of %d", i + 1, len(grid))
            break
    bar.close()
    info = {"alpha_max": alpha_max, "n_samples": problem.train.n_total,
            "n_features": problem.train.n_features, "n_classes": problem.k, "device": str(problem.device),
            "lipschitz": lipschitz, "lr": state.lr, "solver_method": method,
            "world_size": dist.world_size() if problem.train.sharded else 1,
            "compressed_rows": compressed[0].n_samples if compressed is not None else None}
    return PathResult(np.asarray(grid[:state.done], dtype=np.float64), state.coefs, np.stack(state.intercepts),
                      problem.train.mean.double().cpu().numpy(), problem.train.scale.double().cpu().numpy(),
                      pd.DataFrame(state.rows, columns=list(METRIC_COLUMNS)), config,
                      tuple(str(c) for c in classes) if classes is not None else None, info)


def _solve_alpha(problem, config, state, i, alpha, grad, grad_scale, lipschitz, gram, compressed=None):
    """Solve alpha ``i`` from the state's warm start with the configured method; returns the
    :class:`Gradient` at the solution when the method has it (else None) and the solve info.
    ``compressed``: the gaussian problem on ``d + 1`` rows (:mod:`.compressed`), solved first; the
    real rows then certify (and, if rounding left anything, finish) the solution."""
    method = config.solver
    if method in ("owlqn", "fista"):
        def solve(design, Y, W, b, grad, max_epochs=config.max_epochs):
            return solve_working_set(
                design, Y, problem.datafit, W, b, alpha, config.l1_ratio, grad=grad, grad_scale=grad_scale,
                tol=config.tolerance, max_epochs=max_epochs, lipschitz_full=lipschitz, inner=method,
                precision=config.matmul_precision, grouped=config.grouped,
                curvature=state.curvature)

        W, b, first, passes = state.W, state.b, None, 0
        if compressed is not None:
            W, b, _, first = solve(*compressed, W, b, None)
            grad = None
        elif EXTRAPOLATE:  # issue 12: may move state.W, state.b to the extrapolated point
            grad, passes = extrapolate(problem, config, state, alpha, grad)
            W, b = state.W, state.b
        state.W, state.b, grad, info = solve(problem.train, problem.Y, W, b, grad, config.max_epochs - passes)
        info.epochs += passes
        if first is not None:  # epochs count passes over the real rows: the compressed ones are m/n of one
            info.epochs += 1 + math.ceil(first.epochs * compressed[0].n_samples / problem.train.n_total)
        return grad, info
    if method == "cd":
        S, C, Ybar = gram
        W, sweeps, converged = solve_gram_cd(S, C, state.W.double().cpu().numpy(), alpha, config.l1_ratio,
                                             target=config.tolerance * grad_scale, max_sweeps=config.max_epochs)
        state.W = torch.as_tensor(W, dtype=problem.dtype, device=problem.device)
        state.b = torch.as_tensor(Ybar, dtype=problem.dtype, device=problem.device)
        return None, SolveInfo(sweeps, converged, int((W != 0).any(0).sum()))
    return None, _solve_saga(problem, config, state, i, alpha, grad_scale)


def _solve_saga(problem, config, state, i, alpha, grad_scale):
    """SAGA for alpha ``i``. If the iterates diverge (non-finite, or an epoch's objective estimate
    above twice the intercept-only objective, which bounds every alpha's optimum), retry from the
    same warm start with half the step and a fresh (zero) table, which is a valid SAGA state."""
    while True:
        gen = torch.Generator().manual_seed(config.seed * 1_000_003 + i)
        W, b, info = solve_saga(
            problem.train, problem.Y, problem.datafit, state.W, state.b, alpha, config.l1_ratio, state.saga,
            lr=state.lr, batch_size=config.batch_size, max_epochs=config.max_epochs, stopping=config.stopping_rule,
            tol=config.tolerance, lookbehind=config.lookbehind, grad_scale=grad_scale, generator=gen,
            diverge_above=2.0 * state.null_objective, grouped=config.grouped)
        if not info.diverged:
            state.W, state.b = W, b
            return info
        log.warning("alpha=%.4g: SAGA diverged with step %.3g; retrying with %.3g", alpha, state.lr, state.lr / 2)
        state.lr /= 2
        state.saga = SagaState.zeros(*state.saga.table.shape, state.W.shape[1], device=state.W.device,
                                     table_device=state.saga.table.device, dtype=state.W.dtype)


def _metrics(problem, state, alpha, config, info, grad_scale, grad) -> dict:
    """One row of ``PathResult.metrics`` from the :class:`Gradient` at the solution."""
    datafit, W, b = problem.datafit, state.W, state.b
    kkt = max_violation(W, grad.G, grad.gb, alpha, config.l1_ratio, grouped=config.grouped)[0] / grad_scale
    penalty = penalty_functions(config.grouped)[0]
    row = {"train_loss": grad.loss, "train_objective": grad.loss + penalty(W, alpha, config.l1_ratio),
           "train_accuracy": _accuracy(datafit, grad.Z, problem.Y, problem.train), "kkt": kkt,
           "epochs": info.epochs if info else 0, "converged": info.converged if info else True,
           "working_set": info.working_set if info else 0}
    if info is not None and config.stopping_rule == "kkt":
        row["converged"] = kkt <= config.tolerance
    for name in ("val", "test"):
        if name in problem.splits:
            split, Ys = problem.splits[name]
            Zs = split.forward(W, b)
            row[f"{name}_loss"] = float(datafit.loss_sum(Zs, Ys)) / split.n_samples
            row[f"{name}_accuracy"] = _accuracy(datafit, Zs, Ys)
            if datafit.name in SIGMOID_FAMILIES:  # issue 19
                row[f"{name}_average_precision"] = mean_average_precision(Zs, Ys)
    if datafit.name in SIGMOID_FAMILIES and not problem.train.sharded:  # AP does not add up over ranks
        row["train_average_precision"] = mean_average_precision(grad.Z, problem.Y)
    nz = (W != 0)
    row.update(nnz=int(nz.sum()), features_per_class=float(nz.sum(1).double().mean()),
               features_used=int(nz.any(0).sum()))
    return row


def _accuracy(datafit, Z, Y, design=None) -> float:
    """Fraction of correct rows; ``design``: the training design (counts summed over its ranks)."""
    correct = datafit.correct(Z, Y)
    if correct is None:
        return math.nan
    return float(correct) / len(Z) if design is None else design.total(correct) / design.n_total
