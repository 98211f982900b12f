"""ImageNet-shaped path check (issue 12), run by ``benchmarks/gpu_check.sh`` (``CHECK=imagenet``).

Part 1, resident: ``N`` x ``D`` float32 features with ``K`` classes generated on the device (low-rank
latent factors + class means -> ReLU, as benchmarks/solver.py; labels: the class-balanced cluster
with 30% uniform label noise), then ``fit_path`` (owlqn, KKT certificate 1e-4) over ``N_ALPHAS``
alphas down to ``EPS * alpha_max``, stopped by a callback once ``PATH_BUDGET`` seconds have passed.
Prints: one full gradient (ms) next to its GEMM bound, time per alpha, alphas done (and the full
path *extrapolated* from them, labelled so), peak device memory, worst KKT, convergence.

Part 2, streamed: ``ROWS21K`` x ``D`` float16 features written to a memmap under ``TMPDIR``
(ImageNet-21k has about 14M rows: 57 GB in float16; reduce ROWS21K to what the disk holds), read
through ``Design`` in row chunks (``preload="never"``): seconds per streamed full gradient next
to the disk read rate measured here, and the path time extrapolated from the first
``STREAM_ALPHAS`` alphas (grads per alpha from part 1 x seconds per streamed gradient).

Usage: ``python benchmarks/solver_imagenet_check.py`` with the environment variables above
(defaults: N=1281167 D=2048 K=1000 N_ALPHAS=100 EPS=1e-3 PATH_BUDGET=150 ROWS21K=2000000
STREAM_ALPHAS=2 DEVICE=cuda MATMUL_PRECISION=highest). Prints measured figures only.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from studykit.solver import PathConfig, fit_path
from studykit.solver.datafits import get_datafit
from studykit.solver.design import Design
from studykit.solver.workingset import full_gradient


def env(name, default, cast=str):
    return cast(os.environ.get(name, default))


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def generate(n, d, k, dev, seed=0, chunk=131072, dtype=torch.float32, out=None):
    """Deep-feature-like rows on ``dev`` (or into the array ``out``) and balanced noisy labels."""
    g = torch.Generator(device=dev).manual_seed(seed)
    r = max(8, d // 32)
    M = 1.5 * torch.randn(k, r, generator=g, device=dev)
    A = torch.randn(r, d, generator=g, device=dev) / math.sqrt(r)
    t = -0.6 + 0.5 * torch.randn(d, generator=g, device=dev)
    s = torch.exp(0.5 * torch.randn(d, generator=g, device=dev))
    u = torch.randint(0, k, (n,), generator=g, device=dev)
    X = torch.empty(n, d, device=dev, dtype=dtype) if out is None else None
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        h = (M[u[a:b]] + torch.randn(b - a, r, generator=g, device=dev)) @ A + t
        h += 0.6 * torch.randn(b - a, d, generator=g, device=dev)
        block = (torch.relu_(h) * s).to(dtype)
        if out is None:
            X[a:b] = block
        else:
            out[a:b] = block.cpu().numpy()
    noisy = torch.rand(n, generator=g, device=dev) < 0.3
    y = torch.where(noisy, torch.randint(0, k, (n,), generator=g, device=dev), u)
    return X, y.cpu().numpy()


def grad_ms(design, y, k, dev, repeats=3):
    Y = torch.as_tensor(y, device=dev)
    W = 0.01 * torch.randn(k, design.n_features, device=dev)
    b = torch.zeros(k, device=dev)
    best = math.inf
    for _ in range(repeats):
        sync(dev)
        t0 = time.perf_counter()
        full_gradient(design, Y, get_datafit("multinomial"), W, b)
        sync(dev)
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def gemm_tflops(dev, size=4096):
    A = torch.randn(size, size, device=dev)
    A @ A
    sync(dev)
    t0 = time.perf_counter()
    for _ in range(3):
        A @ A
    sync(dev)
    return 3 * 2 * size**3 / (time.perf_counter() - t0) / 1e12


def run_path(X, y, config, budget, dev, max_alphas=None, **kw):
    t0 = time.perf_counter()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)

    def stop(i, row):
        return time.perf_counter() - t0 > budget or (max_alphas is not None and i + 1 >= max_alphas)

    res = fit_path(X, y, config, callback=stop, **kw)
    sync(dev)
    seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else float("nan")
    return res, seconds, peak


def report_path(label, res, seconds, peak, n_alphas, g_ms):
    m = res.metrics
    done = len(res)
    per_alpha = seconds / done
    grads = seconds * 1e3 / g_ms / done
    full = "measured" if done == n_alphas else f"extrapolated from {done} alphas"
    print(f"{label}: {done}/{n_alphas} alphas in {seconds:.1f} s, {per_alpha:.2f} s/alpha, "
          f"{grads:.1f} full gradients/alpha, path {per_alpha * n_alphas:.0f} s ({full}); "
          f"peak memory {peak:.2f} GiB; worst KKT {m['kkt'].max():.2e}; all converged {bool(m['converged'].all())}; "
          f"nnz at last alpha {int(m['nnz'].iloc[-1])}", flush=True)
    return grads


def main():
    n, d, k = env("N", 1281167, int), env("D", 2048, int), env("K", 1000, int)
    n_alphas, eps = env("N_ALPHAS", 100, int), env("EPS", 1e-3, float)
    budget, rows21k = env("PATH_BUDGET", 150, float), env("ROWS21K", 2000000, int)
    stream_alphas = env("STREAM_ALPHAS", 2, int)
    dev = torch.device(env("DEVICE", "cuda"))
    precision = env("MATMUL_PRECISION", "highest")
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit("solver_imagenet_check: torch.cuda.is_available() is False")
    print(f"device {dev}: {torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu'}; "
          f"fp32 GEMM {gemm_tflops(dev):.1f} TFLOP/s", flush=True)
    # ---- part 1: resident
    t0 = time.perf_counter()
    X, y = generate(n, d, k, dev)
    sync(dev)
    print(f"generated {n} x {d} float32, k={k} on {dev} in {time.perf_counter() - t0:.1f} s", flush=True)
    design = Design.build(X, device=dev)
    g_ms = grad_ms(design, y, k, dev)
    print(f"one full gradient: {g_ms:.1f} ms (4 n d k = {4 * n * d * k / 1e12:.2f} TFLOP)", flush=True)
    del design
    config = PathConfig(n_alphas=n_alphas, eps=eps, matmul_precision=precision)
    res, seconds, peak = run_path(X, y, config, budget, dev, device=dev)
    grads = report_path(f"resident path (matmul_precision={precision})", res, seconds, peak, n_alphas, g_ms)
    del X, res
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    # ---- part 2: streamed memmap
    if rows21k <= 0:
        return
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        path = Path(tmp) / "features21k.npy"
        t0 = time.perf_counter()
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(rows21k, d))
        _, y21 = generate(rows21k, d, k, dev, seed=1, dtype=torch.float16, out=mm)
        mm.flush()
        del mm
        write_s = time.perf_counter() - t0
        nbytes = rows21k * d * 2
        print(f"wrote {rows21k} x {d} float16 memmap ({nbytes / 2**30:.1f} GiB) in {write_s:.1f} s", flush=True)
        X21 = np.load(path, mmap_mode="r")
        t0 = time.perf_counter()
        for a in range(0, rows21k, 262144):
            np.asarray(X21[a:a + 262144]).sum(dtype=np.float32)
        read_gbs = nbytes / (time.perf_counter() - t0) / 1e9
        design = Design.build(X21, device=dev, dtype=torch.float32, preload="never", chunk_rows=262144)
        s_grad = grad_ms(design, y21, k, dev, repeats=1) / 1e3
        print(f"streamed full gradient: {s_grad:.3g} s; reading the file alone (page cache or disk): "
              f"{read_gbs:.2f} GB/s -> bound {nbytes / read_gbs / 1e9:.1f} s", flush=True)
        config = PathConfig(n_alphas=n_alphas, eps=eps, matmul_precision=precision)
        res, seconds, peak = run_path(X21, y21, config, budget, dev, max_alphas=stream_alphas, device=dev,
                                      preload="never")
        done = len(res)
        print(f"streamed path: {done} alphas in {seconds:.1f} s (budget {budget:.0f} s); extrapolated full path "
              f"{grads:.1f} grads/alpha (part 1) x {n_alphas} alphas x {s_grad:.3g} s = "
              f"{grads * n_alphas * s_grad / 3600:.3g} h (an estimate, not measured)", flush=True)


if __name__ == "__main__":
    main()
