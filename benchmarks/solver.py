"""Regularization-path benchmark: studykit's solvers against glm-saga, scikit-learn and glmnet.

Every solver fits the *same* problem: the multinomial elastic net

    F(W, b) = (1/n) sum_i CE(W x_i + b, y_i) + alpha * (l1_ratio |W|_1 + (1 - l1_ratio)/2 |W|_F^2)

(intercept unpenalized) on the *same* standardized float32 features, over the *same* grid of
alphas (eq. 5 of the paper's appendix A: ``alpha_max = max_jc |X^T (Y - Ybar)|_jc / (n l1_ratio)``,
``n_alphas`` log-spaced values down to ``eps * alpha_max``), each warm-starting along the path.
Names: glm-saga's ``lam`` is our ``alpha`` and its ``alpha`` is our ``l1_ratio``; scikit-learn's
``C`` is ``1 / (n alpha)``; glmnet's ``lambda`` is our ``alpha``.

Solvers (each gets ``--budget`` seconds of wall clock per problem size; one that runs past it is
stopped after the alpha in progress and reported as "> budget (m of N alphas)", with an
*extrapolated* full-path time = time so far / m * N, labelled as such, never as measured):

* ``owlqn``   studykit ``fit_path()`` with its defaults: working sets + OWL-QN, stopped by the KKT
              certificate (relative violation <= 1e-4). The reference of the ratio column.
* ``fista``   studykit ``fit_path(method="fista")``: working sets + FISTA, same certificate.
* ``saga``    studykit ``fit_path(method="saga")``: Algorithm 1 with glm-saga's settings (batch 512,
              lr 0.1) and the appendix's gradient stopping rule at tol 1e-4, checked once per epoch.
* ``glmsaga`` glm-saga 0.1.2 ``train_saga`` called once per alpha exactly as its ``glm_saga`` path
              driver does (``group=False``, state carried across alphas, ``n_ex``/``n_classes``
              given, constant lr since ``lr_decay_factor=1``) with the appendix A.1 settings:
              batch 512, lr 0.1, tol 1e-4, gradient stopping rule (``lookbehind=None``), at most
              ``--max-epochs`` epochs per alpha, fed by a shuffled ``DataLoader`` over its
              ``IndexedTensorDataset`` (how its users feed it). The driver's per-alpha
              train-loss/accuracy pass is *not* run (slightly favours glm-saga).
* ``sklearn`` ``LogisticRegression(solver="saga", l1_ratio=..., C=1/(n alpha), tol=1e-4,
              warm_start=True)`` refitted along the grid (single-threaded by design).
* ``glmnet``  python-glmnet ``LogitNet(alpha=l1_ratio, lambda_path=grid, standardize=False,
              n_splits=0)`` (coordinate descent, Fortran, single-threaded, thr 1e-7). glmnet fits a
              whole lambda path in one Fortran call, so the budget is enforced by fitting growing
              *prefixes* of the grid in a child process (the first m alphas of a path cost the same
              whether or not more follow) and killing the child at the budget; the longest prefix
              that finished is what is reported. glmnet may also end a path early by itself (its
              deviance-change rule); missing alphas are then reported as not reached.

For every solver and alpha the solution is scored by one shared function, :func:`objective`, in
float64, together with its number of nonzero coefficients and the epochs (passes over the data) the
solver reports. Per solver and size the table gives the path time, its ratio to studykit's default, the
worst relative objective gap ``(F - F_best) / F_best`` to the best objective any solver reached at
that alpha (over the alphas the solver completed), nnz at the smallest alpha, mean epochs per alpha
and milliseconds per epoch next to a lower bound for one pass over X: ``max(bytes of X / memory
bandwidth, 4 n d k flops / sgemm rate)``, both measured here at start-up (numpy copy, torch matmul).

Usage (full size, the lead's run)::

    .venv/bin/python benchmarks/solver.py --sizes 2000 10000 50000 --d 2048 --k 10 \\
        --n-alphas 100 --budget 600 --out benchmarks/results/solver.md

A markdown table is printed and written to ``--out``; the raw numbers go to the same path with the
suffix ``.json``.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import math
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch

ALL_SOLVERS = ("owlqn", "fista", "saga", "glmsaga", "sklearn", "glmnet")
LABELS = {"owlqn": "studykit owlqn (default)", "fista": "studykit fista", "saga": "studykit saga", "glmsaga": "glm-saga 0.1.2",
          "sklearn": "sklearn saga", "glmnet": "glmnet (LogitNet)"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def n_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# ---------------------------------------------------------------------------------------------
# Data
def make_deep_features(n: int, d: int, k: int, *, seed: int = 0, rank: int | None = None,
                       dead_fraction: float = 0.02, true_per_class: int = 20, gain: float = 2.0,
                       chunk: int = 16384, balance: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
    """Synthetic penultimate-layer (post-ReLU) deep features with a sparse linear ground truth.

    Generative model (every draw from ``np.random.default_rng(seed)``, so a seed fixes the data):

    * cluster ``u_i ~ Uniform{0..k-1}``: the class-like mode an image comes from;
    * low-rank latent factors ``z_i = M[u_i] + N(0, I_r)``, ``M[c] ~ N(0, 1.5^2 I_r)``, rank
      ``r = max(8, d // 32)``: features are strongly correlated through a shared r-dim subspace,
      with class-dependent means;
    * pre-activation ``h_ij = (z_i A)_j / sqrt(r) + t_j + 0.6 * N(0, 1)`` with loadings
      ``A ~ N(0, 1)`` (r x d) and per-unit offsets ``t_j ~ N(-0.6, 0.5)``: each unit fires for a
      different fraction of inputs (median about a third);
    * ``x_ij = s_j * relu(h_ij)`` with per-unit scales ``s_j ~ LogNormal(0, 0.5)``: non-negative,
      sparse-ish (about 2/3 zeros), heterogeneous scales like ResNet avgpool features;
    * dead units: a fraction ``dead_fraction`` of units never fire (constant zero columns);
    * labels from a sparse ground-truth layer: ``W*`` has ``true_per_class`` nonzeros per class,
      3/4 of them on the live units whose mean pre-activation is highest for cluster c (positive
      weights) and the rest on random live units (random signs); with ``x~`` the standardized
      features, ``y_i ~ softmax(gain * W* x~_i / sqrt(true_per_class))`` (Gumbel-max sampling),
      i.e. a linear model plus label noise;
    * ``balance=True`` (the k >= 100 cases, where some classes would otherwise never win the
      softmax): a per-class bias ``beta`` is added to the logits, fitted without random draws
      (so the data stay a function of the seed) such that the expected class frequencies are
      uniform, the way ImageNet's classes are roughly balanced. Still a linear ground truth.

    Returns ``X`` (float32, ``(n, d)``), ``y`` (int64) and a dict of facts about the data.
    """
    rng = np.random.default_rng(seed)
    r = rank or max(8, d // 32)
    M = rng.normal(0.0, 1.5, size=(k, r)).astype(np.float32)
    A = rng.standard_normal((r, d), dtype=np.float32) / np.float32(math.sqrt(r))
    t = rng.normal(-0.6, 0.5, size=d).astype(np.float32)
    scale = rng.lognormal(0.0, 0.5, size=d).astype(np.float32)
    dead = rng.choice(d, size=int(round(dead_fraction * d)), replace=False)
    t[dead] = -np.inf
    u = rng.integers(0, k, size=n)
    X = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        z = M[u[s:e]] + rng.standard_normal((e - s, r), dtype=np.float32)
        h = z @ A
        h += t
        h += np.float32(0.6) * rng.standard_normal((e - s, d), dtype=np.float32)
        np.maximum(h, 0.0, out=h)
        h *= scale
        X[s:e] = h
    live = np.setdiff1d(np.arange(d), dead)
    W = np.zeros((k, d))
    m_top = (3 * true_per_class) // 4
    for c in range(k):
        mean_pre = (M[c] @ A)[live] + t[live]
        top = live[np.argsort(-mean_pre)[:m_top]]
        W[c, top] = rng.uniform(0.5, 1.5, size=len(top))
        rest = rng.choice(np.setdiff1d(live, top), size=true_per_class - m_top, replace=False)
        W[c, rest] = rng.uniform(0.5, 1.5, size=len(rest)) * rng.choice([-1.0, 1.0], size=len(rest))
    mean, std = column_stats(X)
    Wt = W / std * (gain / math.sqrt(true_per_class))
    bias = _balancing_bias(X, mean, Wt, chunk) if balance else np.zeros(k)
    y = np.empty(n, dtype=np.int64)
    agree = 0
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        logits = (X[s:e].astype(np.float64) - mean) @ Wt.T + bias
        y[s:e] = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
        agree += int((np.argmax(logits, axis=1) == y[s:e]).sum())
    counts = np.bincount(y, minlength=k)
    if counts.min() == 0:
        raise ValueError(f"n={n} is too small for k={k}: some class got no example")
    info = {"seed": seed, "rank": r, "dead_units": len(dead), "fraction_zero": float((X == 0).mean()),
            "true_nnz": int((W != 0).sum()), "class_counts_min_max": [int(counts.min()), int(counts.max())],
            "ground_truth_accuracy": agree / n}
    return X, y, info


def _balancing_bias(X, mean, Wt, chunk, n_iter: int = 30) -> np.ndarray:
    """Per-class bias making the mean softmax probability of every class ``1/k`` (fixed point)."""
    k = Wt.shape[0]
    logits = np.concatenate([(X[s:s + chunk].astype(np.float64) - mean) @ Wt.T
                             for s in range(0, X.shape[0], chunk)]).astype(np.float32)
    bias = np.zeros(k)
    for _ in range(n_iter):
        Z = logits + bias.astype(np.float32)
        Z -= Z.max(1, keepdims=True)
        np.exp(Z, out=Z)
        Z /= Z.sum(1, keepdims=True)
        bias -= np.log(np.maximum(Z.mean(0, dtype=np.float64), 1e-300) * k)
    return bias


def column_stats(X: np.ndarray, chunk: int = 16384) -> tuple[np.ndarray, np.ndarray]:
    """Column mean and population standard deviation (float64); constant columns get std 1."""
    n = X.shape[0]
    s1 = np.zeros(X.shape[1])
    for s in range(0, n, chunk):
        s1 += X[s:s + chunk].sum(0, dtype=np.float64)
    mean = s1 / n
    s2 = np.zeros_like(s1)
    for s in range(0, n, chunk):
        s2 += ((X[s:s + chunk] - mean) ** 2).sum(0)
    std = np.sqrt(s2 / n)
    std[std <= 1e-12 * (1 + np.abs(mean))] = 1.0
    return mean, std


def standardize(X: np.ndarray, chunk: int = 16384) -> np.ndarray:
    """``(X - mean) / std`` as float32 (population std; constant columns become zero columns)."""
    mean, std = column_stats(X, chunk)
    Xs = np.empty_like(X, dtype=np.float32)
    for s in range(0, X.shape[0], chunk):
        Xs[s:s + chunk] = (X[s:s + chunk] - mean) / std
    return Xs


def alpha_grid(Xs: np.ndarray, y: np.ndarray, k: int, l1_ratio: float, n_alphas: int, eps: float,
               chunk: int = 16384) -> tuple[np.ndarray, float]:
    """Eq. 5: ``alpha_max = max_jc |sum_i x_ij (Y_ic - Ybar_c)| / (n max(l1_ratio, 1e-3))`` in float64,
    then ``n_alphas`` log-spaced values from ``alpha_max`` down to ``eps * alpha_max``."""
    n = len(y)
    Y = np.eye(k)[y]
    Yc = Y - Y.mean(0)
    G = np.zeros((Xs.shape[1], k))
    for s in range(0, n, chunk):
        G += Xs[s:s + chunk].astype(np.float64).T @ Yc[s:s + chunk]
    alpha_max = float(np.abs(G).max() / (n * max(l1_ratio, 1e-3)))
    return np.logspace(math.log10(alpha_max), math.log10(eps * alpha_max), n_alphas), alpha_max


# ---------------------------------------------------------------------------------------------
# The one objective every solution is scored with
def objective(Xs: np.ndarray, y: np.ndarray, W, b, alpha: float, l1_ratio: float, chunk: int = 8192) -> float:
    """``F(W, b)`` in float64: mean softmax cross-entropy + elastic-net penalty (intercept free)."""
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    cols = np.flatnonzero((W != 0).any(0))
    Wc = W[:, cols]
    n = len(y)
    total = 0.0
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        if len(cols):
            Z = Xs[s:e][:, cols].astype(np.float64) @ Wc.T + b
        else:
            Z = np.broadcast_to(b, (e - s, len(b))).copy()
        zmax = Z.max(1, keepdims=True)
        lse = np.log(np.exp(Z - zmax).sum(1)) + zmax[:, 0]
        total += float((lse - Z[np.arange(e - s), y[s:e]]).sum())
    penalty = alpha * (l1_ratio * np.abs(W).sum() + 0.5 * (1.0 - l1_ratio) * (W ** 2).sum())
    return total / n + float(penalty)


# ---------------------------------------------------------------------------------------------
# Machine calibration
def memory_bandwidth(mb: int, repeats: int = 5) -> float:
    """GB/s of a numpy copy (bytes read + bytes written), best of ``repeats``."""
    a = np.ones(mb * 2**20 // 4, dtype=np.float32)
    b = np.empty_like(a)
    np.copyto(b, a)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t0)
    return 2 * a.nbytes / best / 1e9


def sgemm_gflops(size: int, repeats: int = 5) -> float:
    """GFLOP/s of a float32 ``size x size`` torch matmul on the CPU, best of ``repeats``."""
    g = torch.Generator().manual_seed(0)
    A = torch.randn(size, size, generator=g)
    B = torch.randn(size, size, generator=g)
    A @ B
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        A @ B
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best / 1e9


# ---------------------------------------------------------------------------------------------
# Runners. Each returns a dict with: coefs (list of (k, d) arrays), intercepts, epochs (per alpha,
# None where unknown), seconds (measured wall clock), done (alphas completed), status, note.
def run_studykit(method, Xs, y, grid, args, budget):
    """studykit's path on the shared grid; the public ``callback`` stops it at the budget."""
    from studykit.solver import fit_path

    t0 = time.perf_counter()

    def over_budget(index, row):
        return time.perf_counter() - t0 > budget

    lr = args.glmsaga_lr if method == "saga" else None  # SAGA at the paper's step, as glm-saga
    res = fit_path(Xs, y, family="multinomial", l1_ratio=args.l1_ratio, alphas=grid, method=method,
                   standardize=False, max_epochs=args.max_epochs, seed=args.seed, lr=lr,
                   batch_size=args.glmsaga_batch, callback=over_budget)
    seconds = time.perf_counter() - t0
    meta = {"alpha_max_studykit": res.info.get("alpha_max"), "lr": res.info.get("lr"),
            "lipschitz": res.info.get("lipschitz")}
    rows = res.metrics.to_dict("records")
    return _studykit_result(res.coefs, res.intercepts, rows, seconds,
                            "ok" if len(res) == len(grid) else "budget", meta)


def _studykit_result(coefs, intercepts, rows, seconds, status, meta):
    converged = [bool(r["converged"]) for r in rows]
    bad = len(converged) - sum(converged)
    return {"coefs": [c.toarray() for c in coefs], "intercepts": [np.asarray(b) for b in intercepts],
            "epochs": [int(r["epochs"]) for r in rows], "alpha_seconds": [float(r["seconds"]) for r in rows],
            "converged": converged, "kkt": [float(r["kkt"]) for r in rows], "seconds": seconds,
            "done": len(rows), "status": status, "meta": meta,
            "note": f"{bad} of {len(rows)} alphas not converged (epoch cap)" if bad else None}


class _CountingLoader:
    """Iterates a DataLoader and counts the minibatches handed out (glm-saga reports no epochs)."""

    def __init__(self, loader):
        self.loader = loader
        self.batches = 0

    def __iter__(self):
        for batch in self.loader:
            self.batches += 1
            yield batch

    def __len__(self):
        return len(self.loader)


def run_glmsaga(Xs, y, grid, args, budget):
    from glm_saga.elasticnet import IndexedTensorDataset, train_saga
    from torch.utils.data import DataLoader

    n, d = Xs.shape
    k = int(y.max()) + 1
    t0 = time.perf_counter()
    dataset = IndexedTensorDataset(torch.from_numpy(Xs), torch.from_numpy(y))
    loader = _CountingLoader(DataLoader(dataset, batch_size=args.glmsaga_batch, shuffle=True,
                                        generator=torch.Generator().manual_seed(args.seed)))
    linear = torch.nn.Linear(d, k)
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.zero_()
    state = None
    out = {"coefs": [], "intercepts": [], "epochs": [], "alpha_seconds": [], "status": "ok"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # F.softmax without dim= warns on every minibatch
        for i, lam in enumerate(grid):
            ta, b0 = time.perf_counter(), loader.batches
            state = train_saga(linear, loader, args.glmsaga_lr, args.max_epochs, float(lam), args.l1_ratio,
                               group=False, state=state, n_ex=n, n_classes=k, tol=args.tol, lookbehind=None,
                               family="multinomial", logger=lambda *a, **kw: None)
            out["alpha_seconds"].append(time.perf_counter() - ta)
            out["epochs"].append((loader.batches - b0) / len(loader))
            out["coefs"].append(linear.weight.detach().double().numpy().copy())
            out["intercepts"].append(linear.bias.detach().double().numpy().copy())
            if time.perf_counter() - t0 > budget and i + 1 < len(grid):
                out["status"] = "budget"
                break
    out["seconds"] = time.perf_counter() - t0
    out["done"] = len(out["coefs"])
    capped = sum(e >= args.max_epochs for e in out["epochs"])
    if capped:
        out["note"] = f"{capped} of {out['done']} alphas stopped at the epoch cap ({args.max_epochs})"
    return out


def run_sklearn(Xs, y, grid, args, budget):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    n = len(y)
    t0 = time.perf_counter()
    clf = LogisticRegression(C=1.0 / (n * grid[0]), l1_ratio=args.l1_ratio, solver="saga", tol=args.tol,
                             max_iter=args.sklearn_max_iter, warm_start=True, random_state=args.seed)
    out = {"coefs": [], "intercepts": [], "epochs": [], "alpha_seconds": [], "status": "ok", "capped": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)
        for i, alpha in enumerate(grid):
            ta = time.perf_counter()
            clf.set_params(C=1.0 / (n * alpha))
            clf.fit(Xs, y)
            out["alpha_seconds"].append(time.perf_counter() - ta)
            it = int(np.max(clf.n_iter_))
            out["epochs"].append(it)
            out["capped"] += it >= args.sklearn_max_iter
            out["coefs"].append(np.asarray(clf.coef_, dtype=np.float64).copy())
            out["intercepts"].append(np.asarray(clf.intercept_, dtype=np.float64).copy())
            if time.perf_counter() - t0 > budget and i + 1 < len(grid):
                out["status"] = "budget"
                break
    out["seconds"] = time.perf_counter() - t0
    out["done"] = len(out["coefs"])
    if out["capped"]:
        out["note"] = f"{out['capped']} of {out['done']} alphas stopped at max_iter={args.sklearn_max_iter}"
    return out


def _glmnet_child(data_path, grid, l1_ratio, conn):
    """Runs in a spawned process: one LogitNet path over ``grid``; sends the timing and the path."""
    try:
        import glmnet.logistic as gl
        from glmnet import LogitNet

        with np.load(data_path) as f:
            X, y = f["X"], f["y"]
        passes = {}
        lognet = gl.lognet

        def counted(*a, **kw):  # keep glmnet's total number of passes (nlp), which LogitNet drops
            res = lognet(*a, **kw)
            passes["nlp"] = int(res[8])
            return res

        gl.lognet = counted
        model = LogitNet(alpha=l1_ratio, lambda_path=np.asarray(grid, dtype=np.float64), standardize=False,
                         fit_intercept=True, n_splits=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            model.fit(X, y)
            seconds = time.perf_counter() - t0
        m = int(model.n_lambda_)
        conn.send({"seconds": seconds, "m": m, "nlp": passes.get("nlp"), "jerr": int(model.jerr_),
                   "warnings": [str(w.message) for w in caught],
                   "coef": model.coef_path_[..., :m].astype(np.float64),
                   "intercept": model.intercept_path_[..., :m].astype(np.float64)})
    except Exception:  # pragma: no cover - reported by the parent
        conn.send({"error": traceback.format_exc()})
    finally:
        conn.close()


def run_glmnet(Xs, y, grid, args, budget):
    import glmnet  # noqa: F401  (fail early in the parent, with the reason, when it is missing)

    t0 = time.perf_counter()
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        data_path = os.path.join(tmp, "data.npz")
        np.savez(data_path, X=Xs, y=y)
        prep = time.perf_counter() - t0
        N = len(grid)
        m = min(N, max(5, N // 10))
        best, attempts = None, []
        while True:
            remaining = budget - (time.perf_counter() - t0 - prep)
            if remaining <= 1:
                break
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_glmnet_child, args=(data_path, grid[:m], args.l1_ratio, child))
            proc.start()
            child.close()
            msg = parent.recv() if parent.poll(remaining) else None
            proc.join(timeout=5 if msg is not None else 0)
            if proc.is_alive():
                proc.kill()
                proc.join()
            if msg is None:
                attempts.append({"prefix": m, "killed_after_s": round(remaining, 1)})
                break
            if "error" in msg:
                raise RuntimeError(msg["error"])
            attempts.append({"prefix": m, "seconds": msg["seconds"], "returned": msg["m"], "nlp": msg["nlp"],
                             "jerr": msg["jerr"], "warnings": msg["warnings"]})
            best = msg
            if m == N or msg["m"] < m:  # whole grid done, or glmnet ended its path early by itself
                break
            per_alpha = msg["seconds"] / m
            remaining = budget - (time.perf_counter() - t0 - prep)
            # later alphas are denser and cost more: jump to the whole grid only with a wide margin
            m = N if per_alpha * N * 3 < remaining else min(N, 2 * m)
    if best is None:
        return {"coefs": [], "intercepts": [], "epochs": [], "seconds": budget, "done": 0, "status": "budget",
                "attempts": attempts, "note": "no prefix of the path finished within the budget"}
    m = best["m"]
    coef = best["coef"]  # (k, d, m)
    status = "ok" if m == N else "budget"
    note = None
    last = attempts[-1] if "returned" in attempts[-1] else attempts[-2]
    if last["returned"] < last["prefix"]:
        why = (f"did not converge (jerr={last['jerr']}: {'; '.join(last['warnings'])})" if last["jerr"]
               else "its deviance-change rule")
        status, note = "early", f"glmnet ended the path after {m} of {last['prefix']} alphas: {why}"
    elif "killed_after_s" in attempts[-1]:
        note = (f"the next prefix ({attempts[-1]['prefix']} alphas) was killed at the budget; "
                f"reported: the {m}-alpha prefix")
    nlp = best["nlp"]
    killed = attempts[-1].get("killed_after_s")
    return {"lower_bound_s": max(best["seconds"], killed or 0.0), "coefs": [coef[..., j] for j in range(m)], "intercepts": [best["intercept"][..., j] for j in range(m)],
            "epochs": [None] * m, "total_passes": nlp, "seconds": best["seconds"], "done": m, "status": status,
            "attempts": attempts, "note": note}


RUNNERS = {"owlqn": lambda *a: run_studykit("owlqn", *a), "fista": lambda *a: run_studykit("fista", *a),
           "saga": lambda *a: run_studykit("saga", *a),
           "glmsaga": run_glmsaga, "sklearn": run_sklearn, "glmnet": run_glmnet}


# ---------------------------------------------------------------------------------------------
def bench_size(n, args, calib):
    log(f"n={n}: generating d={args.d} k={args.k} features (seed {args.seed})")
    X, y, info = make_deep_features(n, args.d, args.k, seed=args.seed, balance=args.k >= 100)
    Xs = standardize(X)
    del X
    grad_ms = full_gradient_ms(Xs, y, args.k)
    log(f"n={n}: one studykit full gradient: {grad_ms:.2f} ms")
    grid, alpha_max = alpha_grid(Xs, y, args.k, args.l1_ratio, args.n_alphas, args.eps)
    log(f"n={n}: alpha_max={alpha_max:.6g}, {info}")
    results = {}
    for name in args.solvers:
        log(f"n={n}: {LABELS[name]} ...")
        if args.k < 3 and name in ("sklearn", "glmnet"):
            # with two classes both switch to binomial logistic regression (one coefficient row),
            # whose elastic-net problem is not the symmetric two-row softmax problem solved here
            results[name] = {"status": "skipped", "note": "k < 3: binomial parametrization, not comparable",
                             "done": 0}
            continue
        try:
            res = RUNNERS[name](Xs, y, grid, args, args.budget)
        except Exception as exc:  # a missing or broken peer is skipped with its reason
            reason = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
            log(f"n={n}: {LABELS[name]} skipped ({reason})")
            results[name] = {"status": "skipped", "note": reason, "done": 0}
            continue
        ts = time.perf_counter()
        res["objective"] = [objective(Xs, y, W, b, float(a), args.l1_ratio)
                            for W, b, a in zip(res["coefs"], res["intercepts"], grid)]
        res["nnz"] = [int(np.count_nonzero(W)) for W in res["coefs"]]
        log(f"n={n}: {LABELS[name]}: {res['done']}/{len(grid)} alphas in {res['seconds']:.2f} s "
            f"({res['status']}; scoring {time.perf_counter() - ts:.1f} s)")
        del res["coefs"], res["intercepts"]
        results[name] = res
    # best objective any solver reached at each alpha, and every solver's gap to it
    best = np.full(len(grid), np.inf)
    for res in results.values():
        for j, f in enumerate(res.get("objective", [])):
            best[j] = min(best[j], f)
    for res in results.values():
        if res.get("objective"):
            gaps = [(f - best[j]) / abs(best[j]) for j, f in enumerate(res["objective"])]
            res["rel_gap"] = gaps
    return {"n": n, "d": args.d, "k": args.k, "alpha_max": alpha_max, "alphas": grid.tolist(), "data": info,
            "best_objective": best.tolist(), "solvers": results,
            "bound_ms_per_epoch": bound_ms(n, args.d, args.k, calib), "full_gradient_ms": grad_ms}


def full_gradient_ms(Xs: np.ndarray, y: np.ndarray, k: int, repeats: int = 3) -> float:
    """Milliseconds of one studykit full gradient (forward GEMM, softmax, backward GEMM) at a
    dense random point, best of ``repeats``: the unit of the "full gradients / alpha" column."""
    from studykit.solver.datafits import get_datafit
    from studykit.solver.design import Design
    from studykit.solver.workingset import full_gradient

    design = Design.build(Xs, standardize=False)
    Y = torch.as_tensor(y)
    W = 0.01 * torch.randn(k, Xs.shape[1], generator=torch.Generator().manual_seed(0))
    b = torch.zeros(k)
    best = math.inf
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        full_gradient(design, Y, get_datafit("multinomial"), W, b)
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def bound_ms(n, d, k, calib) -> dict:
    mem = n * d * 4 / (calib["memory_GBps"] * 1e9) * 1e3
    gemm = 4 * n * d * k / (calib["sgemm_GFLOPs"] * 1e9) * 1e3
    return {"memory": mem, "gemm": gemm, "bound": max(mem, gemm)}


def summarize(size: dict, n_alphas: int) -> list[dict]:
    rows = []
    ref = size["solvers"].get("owlqn")
    ref_time, ref_extrapolated = None, False
    if ref and ref.get("done"):
        ref_extrapolated = ref["done"] != n_alphas
        ref_time = ref["seconds"] / ref["done"] * n_alphas
    for name, res in size["solvers"].items():
        row = {"n": size["n"], "solver": LABELS[name], "status": res["status"], "note": res.get("note")}
        if res["status"] == "skipped":
            rows.append(row)
            continue
        done, secs = res["done"], res["seconds"]
        row["done"] = done
        row["measured_s"] = secs
        complete = done == n_alphas
        row["extrapolated_s"] = None if complete or not done else secs / done * n_alphas
        t_cmp = secs if complete else row["extrapolated_s"]
        row["ratio"] = t_cmp / ref_time if (ref_time and t_cmp) else None
        row["ratio_extrapolated"] = ref_extrapolated or not complete
        # an unfinished path took at least what it ran (glmnet: the killed longer prefix)
        row["lower_bound_s"] = None if complete else res.get("lower_bound_s", secs)
        row["ratio_lower"] = row["lower_bound_s"] / ref_time if (ref_time and row["lower_bound_s"]) else None
        gaps = res.get("rel_gap") or []
        row["worst_gap"] = max(gaps) if gaps else None
        row["nnz_last"] = res["nnz"][-1] if res.get("nnz") else None
        epochs = [e for e in res.get("epochs", []) if e is not None]
        if res.get("total_passes") is not None:
            total = res["total_passes"]
        else:
            total = sum(epochs) if epochs else None
        row["epochs_per_alpha"] = total / done if (total is not None and done) else None
        row["ms_per_epoch"] = secs / total * 1e3 if total else None
        grad_ms = size.get("full_gradient_ms")
        row["grads_per_alpha"] = secs * 1e3 / grad_ms / done if (grad_ms and done) else None
        rows.append(row)
    return rows


def _fmt(x, spec):
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def render(report: dict) -> str:
    a, c = report["args"], report["calibration"]
    lines = [
        "# Solver benchmark: regularization paths",
        "",
        f"Problem: multinomial elastic net, l1_ratio={a['l1_ratio']}, {a['n_alphas']} alphas from alpha_max "
        f"(eq. 5) down to {a['eps']} alpha_max, d={a['d']}, k={a['k']}, synthetic ReLU deep features "
        f"(seed {a['seed']}), standardized once; every solver sees the same float32 data and alpha grid.",
        f"Budget: {a['budget']} s per solver per size (a solver past it stops after the alpha in progress).",
        "",
        f"Machine: {c['cpu']}, {c['cores']} cores available, torch threads = {c['torch_threads']} "
        "(studykit, glm-saga; scikit-learn saga and glmnet are single-threaded), "
        f"memory copy {c['memory_GBps']:.1f} GB/s, sgemm {c['sgemm_GFLOPs']:.1f} GFLOP/s.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".",
        "",
        "| n | solver | path time (s) | alphas | vs studykit | worst rel. obj. gap | nnz @ smallest alpha "
        "| epochs / alpha | ms / epoch | full gradients / alpha | ms / full gradient vs bound "
        "| bound ms / epoch (mem, gemm) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for size in report["sizes"]:
        b = size["bound_ms_per_epoch"]
        bound = f"{b['bound']:.2f} ({b['memory']:.2f}, {b['gemm']:.2f})"
        gms = size.get("full_gradient_ms")
        per_grad = f"{gms:.2f} vs {b['bound']:.2f} ({gms / b['bound']:.1f}x)" if gms else "–"
        for row in summarize(size, a["n_alphas"]):
            if row["status"] == "skipped":
                lines.append(f"| {row['n']} | {row['solver']} | skipped | – | – | – | – | – | – | – | – | – |")
                notes.append(f"n={row['n']}, {row['solver']} skipped: {row['note']}")
                continue
            if row.get("ratio_lower") is not None:
                ratio = f"≥ {_fmt(row['ratio_lower'], '.1f')} (extrap. ≈ {_fmt(row['ratio'], '.1f')})"
            elif row["ratio_extrapolated"]:
                ratio = f"*≈ {_fmt(row['ratio'], '.2f')} (extrap.)*"
            else:
                ratio = _fmt(row["ratio"], ".2f")
            if row["status"] == "ok":
                time_s = f"{row['measured_s']:.2f}"
            elif row["status"] == "early":
                time_s = (f"{row['measured_s']:.2f} for {row['done']} alphas (path ended early); "
                          f"*extrapolated ≈ {_fmt(row['extrapolated_s'], '.1f')}*")
            else:
                time_s = (f"> {_fmt(row['lower_bound_s'], '.0f')} ({row['done']} of {a['n_alphas']} alphas "
                          f"in {row['measured_s']:.1f} s); *extrapolated ≈ {_fmt(row['extrapolated_s'], '.1f')}*")
            nnz = _fmt(row["nnz_last"], "d")
            if row["done"] != a["n_alphas"] and row["nnz_last"] is not None:
                nnz += f" (alpha #{row['done']})"
            lines.append(f"| {row['n']} | {row['solver']} | {time_s} | {row['done']} | {ratio} | "
                         f"{_fmt(row['worst_gap'], '.1e')} | {nnz} | {_fmt(row['epochs_per_alpha'], '.1f')} | "
                         f"{_fmt(row['ms_per_epoch'], '.2f')} | {_fmt(row.get('grads_per_alpha'), '.1f')} | "
                         f"{per_grad} | {bound} |")
            if row.get("note"):
                notes.append(f"n={row['n']}, {row['solver']}: {row['note']}")
    lines += [
        "",
        "Columns: *path time* is measured wall clock for the whole path (set-up included); a solver "
        "stopped at the budget shows the alphas it finished and an **extrapolated** full-path time "
        "(time so far / alphas done x all alphas) that was not measured, and a measured lower bound "
        "(the time it ran; glmnet: the longer prefix killed at the budget); *≥* ratios use that bound. *vs studykit*: time / "
        "studykit's default (owlqn) time. *worst rel. obj. gap*: max over the alphas the solver completed of "
        "(F - F_best) / F_best, F evaluated in float64 by one function, F_best the lowest objective "
        "any solver reached at that alpha. *epochs*: passes over the data as each solver counts them "
        "(owlqn/FISTA: gradient evaluations, mostly on the working set only: feature columns, or single coefficients with sparse products on the CPU; SAGA/glm-saga/"
        "scikit-learn: epochs of minibatches or samples; glmnet: its total coordinate-descent passes "
        "`nlp`, over the active set). *bound*: one read of X (n d 4 bytes) at the measured copy "
        "bandwidth, or 4 n d k flops (forward + backward GEMM) at the measured sgemm rate, whichever "
        "is larger. *full gradients / alpha*: path time / alphas / the time of one studykit full "
        "gradient (forward GEMM, softmax, backward GEMM on all n x d) measured in the same run: the "
        "solver's cost in units of one pass, comparable across solvers and k. *ms / full gradient vs "
        "bound*: that measured time next to the bound. For k >= 100 the labels are class-balanced "
        "(make_deep_features(balance=True)).",
    ]
    if notes:
        lines += ["", "Notes:", ""] + [f"- {s}" for s in notes]
    return "\n".join(lines) + "\n"


def versions() -> dict:
    out = {"python": platform.python_version()}
    for dist in ("torch", "numpy", "studykit", "glm-saga", "scikit-learn", "python-glmnet"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000, 50000], help="numbers of rows n")
    p.add_argument("--d", type=int, default=2048, help="features")
    p.add_argument("--k", type=int, default=10, help="classes")
    p.add_argument("--n-alphas", type=int, default=100)
    p.add_argument("--eps", type=float, default=1e-3, help="alpha_min / alpha_max")
    p.add_argument("--l1-ratio", type=float, default=0.99)
    p.add_argument("--budget", type=float, default=600.0, help="wall-clock seconds per solver per size")
    p.add_argument("--solvers", nargs="+", choices=ALL_SOLVERS, default=list(ALL_SOLVERS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tol", type=float, default=1e-4, help="tolerance of glm-saga and scikit-learn")
    p.add_argument("--max-epochs", type=int, default=2000, help="epoch cap per alpha (studykit, glm-saga)")
    p.add_argument("--glmsaga-batch", type=int, default=512)
    p.add_argument("--glmsaga-lr", type=float, default=0.1)
    p.add_argument("--sklearn-max-iter", type=int, default=1000, help="epoch cap per alpha for scikit-learn")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: cores available)")
    p.add_argument("--calib-mb", type=int, default=256, help="array size of the memory-bandwidth test")
    p.add_argument("--gemm-size", type=int, default=2048, help="matrix size of the sgemm test")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/solver.md"))
    args = p.parse_args(argv)

    threads = args.threads or n_cores()
    torch.set_num_threads(threads)
    calib = {"cpu": cpu_name(), "cores": n_cores(), "torch_threads": torch.get_num_threads(),
             "memory_GBps": memory_bandwidth(args.calib_mb), "sgemm_GFLOPs": sgemm_gflops(args.gemm_size)}
    log(f"calibration: {calib}")
    report = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "calibration": calib, "versions": versions(), "sizes": []}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    json_path = args.out.with_suffix(".json")
    for n in args.sizes:
        report["sizes"].append(bench_size(n, args, calib))
        json_path.write_text(json.dumps(report, indent=1))  # keep what is done if a later size dies
    text = render(report)
    args.out.write_text(text)
    print(text)
    log(f"wrote {args.out} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
