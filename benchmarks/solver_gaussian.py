"""Gaussian family: studykit's path against scikit-learn's coordinate descent on the same problem (issue 12).

    .venv/bin/python benchmarks/solver_gaussian.py --n 2000 --d 512 --k 10 --n-alphas 10 --eps 0.01

One seeded problem: correlated Gaussian features (``X = Z L^T`` with an AR(0.7) correlation between
neighbouring columns), ``k`` outputs from a sparse ground truth (20 nonzeros per output) plus noise.
studykit fits the multi-output path (its gaussian datafit is ``1/2 ||z - y||^2`` summed over outputs,
an l1 on every coefficient, so the outputs are independent problems); scikit-learn's ``enet_path``
(coordinate descent, its default ``tol=1e-4``) is run once per output on the same standardized
features and centered targets with studykit's alpha grid, which is the same objective. Reported:
wall seconds of each path (after a warm-up call), and per alpha the relative objective gap of each
solver against the best objective any of them reached (its accuracy on the same run).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def problem(n: int, d: int, k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, d))
    X = np.empty_like(Z)
    X[:, 0] = Z[:, 0]
    for j in range(1, d):   # AR(0.7) across neighbouring columns
        X[:, j] = 0.7 * X[:, j - 1] + np.sqrt(1 - 0.49) * Z[:, j]
    W = np.zeros((k, d))
    for c in range(k):
        W[c, rng.choice(d, 20, replace=False)] = rng.normal(size=20)
    Y = X @ W.T + 0.5 * rng.normal(size=(n, k))
    return X.astype(np.float64), Y


def objective(Xs, Yc, W, alpha, l1_ratio):
    R = Xs @ W.T - Yc
    return 0.5 * (R ** 2).sum() / len(Xs) + alpha * (l1_ratio * np.abs(W).sum() + 0.5 * (1 - l1_ratio) * (W ** 2).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--n-alphas", type=int, default=10)
    parser.add_argument("--eps", type=float, default=0.01)
    parser.add_argument("--l1-ratio", type=float, default=0.99)
    parser.add_argument("--methods", nargs="+", default=["owlqn", "cd"])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (scikit-learn's coordinate descent runs on one)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from sklearn.linear_model import enet_path

    from studykit.solver import fit_path

    X, Y = problem(args.n, args.d, args.k)
    Xs = (X - X.mean(0)) / X.std(0)
    Yc = Y - Y.mean(0)
    fit_path(X[:200], Y[:200], family="gaussian", n_alphas=2, dtype="float64")   # warm-up (imports, threads)
    results, seconds = {}, {}
    for method in args.methods:
        start = time.perf_counter()
        path = fit_path(X, Y, family="gaussian", n_alphas=args.n_alphas, eps=args.eps, l1_ratio=args.l1_ratio,
                        method=method, dtype="float64")
        seconds[f"studykit {method}"] = time.perf_counter() - start
        alphas = path.alphas
        results[f"studykit {method}"] = [layer.toarray() for layer in path.coefs]   # standardized scale
    start = time.perf_counter()
    per_output = [enet_path(Xs, Yc[:, c], l1_ratio=args.l1_ratio, alphas=alphas)[1] for c in range(args.k)]
    seconds["scikit-learn enet_path (per output)"] = time.perf_counter() - start
    results["scikit-learn enet_path (per output)"] = [np.stack([coefs[:, i] for coefs in per_output])
                                                     for i in range(len(alphas))]
    values = {name: np.array([objective(Xs, Yc, W, a, args.l1_ratio) for W, a in zip(Ws, alphas)])
              for name, Ws in results.items()}
    best = np.min(np.stack(list(values.values())), axis=0)
    print(f"# Gaussian path: studykit vs scikit-learn coordinate descent\n\nMachine: {platform.machine()}, "
          f"{os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads. Command: `benchmarks/solver_gaussian.py --n {args.n} --d {args.d} "
          f"--k {args.k} --n-alphas {args.n_alphas} --eps {args.eps} --threads {args.threads}`, float64.\n")
    print("| solver | path (s) | ratio to scikit-learn | max rel. objective gap to the best |\n|---|---|---|---|")
    reference = seconds["scikit-learn enet_path (per output)"]
    for name, value in values.items():
        gap = float(np.max((value - best) / np.abs(best)))
        print(f"| {name} | {seconds[name]:.2f} | {seconds[name] / reference:.2f} | {gap:.1e} |")


if __name__ == "__main__":
    main()
