#!/usr/bin/env bash
# GPU check of studykit's path solver on one NVIDIA GPU (meant to finish in under 5 minutes).
#
# Needs: python3 with a CUDA build of torch, numpy, scipy, pandas, tqdm; studykit installed or this
# repository's root on PYTHONPATH (set below). Creates no virtualenv and downloads nothing.
#
# What it does, on synthetic ReLU deep features generated *on the GPU* (the same model as
# benchmarks/solver.py: low-rank latent factors + class means -> ReLU, dead units, labels from a
# sparse ground-truth layer + Gumbel noise), standardized once on the GPU:
#   1. device calibration: copy bandwidth (GB/s) and fp32 matmul rate (TFLOP/s);
#   2. one full-batch gradient (forward GEMM + softmax + backward GEMM over all d columns): the cost
#      of a FISTA iteration without working sets, next to its memory/GEMM bound;
#   3. the owlqn (default) and FISTA paths over N_ALPHAS alphas (eq. 5 alpha_max down to
#      EPS * alpha_max): path time, ms per iteration (epochs as studykit counts them), peak GPU memory;
#   4. SAGA: ms per epoch from a short capped run, then the same N_ALPHAS path with at most
#      SAGA_EPOCHS epochs per alpha if it is predicted to fit in SAGA_BUDGET seconds; peak memory;
#   5. accuracy: one alpha (0.1 alpha_max of the subsample) on a SUB-row subsample, solved on the
#      CPU in float64 (owlqn, tol 1e-8) as the reference and on the GPU in float32 (owlqn, FISTA, SAGA,
#      default tolerances); prints the relative objective differences, evaluated in float64.
#
# Sizes and knobs are environment variables (defaults: the check as specified):
#   N=200000 D=2048 K=100 N_ALPHAS=20 EPS=1e-2 SUB=10000 SAGA_EPOCHS=50 SAGA_BUDGET=90 TIMEOUT=295
#   DEVICE=cuda   (DEVICE=cpu with small N/D/K runs the same code path as a smoke test)
#
# CHECK=imagenet (the default since issue 12) runs benchmarks/solver_imagenet_check.py instead: the
# ImageNet shape resident on the GPU (N=1281167 D=2048 K=1000, 100 alphas to EPS=1e-3, stopped at
# PATH_BUDGET seconds with the rest extrapolated and labelled so; time per alpha, full gradients per
# alpha, peak memory, worst KKT), then an ImageNet-21k-shaped float16 memmap (ROWS21K rows) streamed
# in row chunks: seconds per streamed gradient vs the file read rate, path time extrapolated. Its
# knobs: N D K N_ALPHAS EPS PATH_BUDGET ROWS21K STREAM_ALPHAS MATMUL_PRECISION DEVICE TIMEOUT; see
# that file's docstring. CHECK=k100 runs the check below (k=100, FISTA/SAGA, float64 reference).
# CPU smoke test of the ImageNet check:
#   CHECK=imagenet DEVICE=cpu N=6000 D=64 K=50 N_ALPHAS=5 EPS=0.1 ROWS21K=20000 bash benchmarks/gpu_check.sh
#
# CHECK=distributed (issue 14) runs benchmarks/distributed_path.py --device cuda: the path on one GPU
# against all GPUs of the node (torchrun, NCCL, rank r on cuda:r), N x D x K features (default 1,281,167
# x 2048 x 10 would be 10.5 GB: the default here is N=500000 D=2048 K=10, 20 alphas to 0.05 alpha_max),
# with all-reduces per alpha and the objective difference between the layouts. Not yet run on a GPU.
#
# Usage, from anywhere:   bash benchmarks/gpu_check.sh

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if [[ "${CHECK:-imagenet}" == distributed ]]; then
    gpus=$(nvidia-smi -L | wc -l)
    exec timeout --signal=INT "${TIMEOUT:-295}" python3 benchmarks/distributed_path.py --device cuda \
        --n "${N:-500000}" --d "${D:-2048}" --k "${K:-10}" --n-alphas "${N_ALPHAS:-20}" --eps "${EPS:-0.05}" \
        --layouts 1x8 "${gpus}x8" --out "${OUT:-/tmp/distributed_path_gpu.md}"
fi

if [[ "${CHECK:-imagenet}" == imagenet ]]; then
    if [[ "${DEVICE:-cuda}" == cuda* ]] && command -v nvidia-smi >/dev/null 2>&1; then
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    fi
    exec timeout --signal=INT "${TIMEOUT:-295}" python3 benchmarks/solver_imagenet_check.py
fi

N=${N:-200000}
D=${D:-2048}
K=${K:-100}
N_ALPHAS=${N_ALPHAS:-20}
EPS=${EPS:-1e-2}
SUB=${SUB:-10000}
SAGA_EPOCHS=${SAGA_EPOCHS:-50}
SAGA_BUDGET=${SAGA_BUDGET:-90}
DEVICE=${DEVICE:-cuda}
TIMEOUT=${TIMEOUT:-295}

if [[ "$DEVICE" == cuda* ]] && command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi

timeout --signal=INT "$TIMEOUT" python3 - "$N" "$D" "$K" "$N_ALPHAS" "$EPS" "$SUB" "$SAGA_EPOCHS" \
    "$SAGA_BUDGET" "$DEVICE" <<'PY'
import math
import sys
import time

import numpy as np
import torch

from studykit.solver import fit_path

n, d, k, n_alphas = (int(v) for v in sys.argv[1:5])
eps = float(sys.argv[5])
n_sub, saga_epochs = int(sys.argv[6]), int(sys.argv[7])
saga_budget = float(sys.argv[8])
dev = torch.device(sys.argv[9])
L1 = 0.99
cuda = dev.type == "cuda"
if cuda and not torch.cuda.is_available():
    sys.exit("gpu_check: torch.cuda.is_available() is False (install a CUDA build of torch)")


def sync():
    if cuda:
        torch.cuda.synchronize(dev)


def timed(fn, repeats=1):
    """Best wall time of ``fn()`` over ``repeats`` runs, device-synchronized."""
    best = math.inf
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        out = fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best, out


def reset_peak():
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)


def peak_gb():
    return torch.cuda.max_memory_allocated(dev) / 2**30 if cuda else float("nan")


print(f"torch {torch.__version__}, device {torch.cuda.get_device_name(dev) if cuda else dev}, "
      f"allow_tf32(matmul)={torch.backends.cuda.matmul.allow_tf32}")
print(f"problem: n={n} d={d} k={k}, l1_ratio={L1}, {n_alphas} alphas down to {eps} alpha_max")

# ------------------------------------------------------------------ data, generated on the device
t_start = time.perf_counter()
g = torch.Generator(device=dev).manual_seed(0)
r = max(8, d // 32)
M = 1.5 * torch.randn(k, r, generator=g, device=dev)
A = torch.randn(r, d, generator=g, device=dev) / math.sqrt(r)
t_off = -0.6 + 0.5 * torch.randn(d, generator=g, device=dev)
unit_scale = torch.exp(0.5 * torch.randn(d, generator=g, device=dev))
dead = torch.randperm(d, generator=g, device=dev)[: max(1, d // 50)]
t_off[dead] = -math.inf
u = torch.randint(0, k, (n,), generator=g, device=dev)
X = torch.empty(n, d, device=dev)
CH = 32768
zeros = 0
for s in range(0, n, CH):
    e = min(n, s + CH)
    z = M[u[s:e]] + torch.randn(e - s, r, generator=g, device=dev)
    h = z @ A + t_off + 0.6 * torch.randn(e - s, d, generator=g, device=dev)
    X[s:e] = h.clamp_(min=0) * unit_scale
    zeros += int((h == 0).sum())
# standardize in place (float64 statistics, population std, constant columns -> scale 1)
s1 = torch.zeros(d, dtype=torch.float64, device=dev)
for s in range(0, n, CH):
    s1 += X[s:s + CH].double().sum(0)
mean = s1 / n
s2 = torch.zeros_like(s1)
for s in range(0, n, CH):
    s2 += (X[s:s + CH].double() - mean).pow(2).sum(0)
std = (s2 / n).sqrt()
std = torch.where(std > 1e-12 * (1 + mean.abs()), std, torch.ones_like(std))
X.sub_(mean.float()).div_(std.float())
# labels from a sparse ground-truth layer (20 features per class) + Gumbel noise
live = torch.ones(d, dtype=torch.bool, device=dev)
live[dead] = False
W_true = torch.zeros(k, d, device=dev)
pre = M @ A + t_off
pre[:, ~live] = -math.inf
top = pre.topk(15, dim=1).indices
W_true.scatter_(1, top, 0.5 + torch.rand(k, 15, generator=g, device=dev))
for c in range(k):
    cand = torch.nonzero(live).flatten()
    pick = cand[torch.randperm(len(cand), generator=g, device=dev)[:5]]
    W_true[c, pick] += torch.where(torch.rand(5, generator=g, device=dev) < 0.5, -1.0, 1.0)
W_true *= 2.0 / math.sqrt(20)
y = torch.empty(n, dtype=torch.long, device=dev)
for s in range(0, n, CH):
    e = min(n, s + CH)
    logits = X[s:e] @ W_true.T
    gumbel = -torch.log(-torch.log(torch.rand(e - s, k, generator=g, device=dev).clamp_(1e-12, 1 - 1e-7)))
    y[s:e] = (logits + gumbel).argmax(1)
counts = torch.bincount(y, minlength=k)
assert int(counts.min()) > 0, "a class got no example: raise N"
sync()
print(f"data: {time.perf_counter() - t_start:.1f} s, X {X.numel() * 4 / 1e9:.2f} GB float32, "
      f"{zeros / (n * d):.2f} of the raw features are ReLU zeros, {len(dead)} dead units")

# alpha grid, eq. 5, in float64 on the device
Yc = torch.nn.functional.one_hot(y, k).double()
Yc -= Yc.mean(0)
G0 = torch.zeros(d, k, dtype=torch.float64, device=dev)
for s in range(0, n, CH):
    G0 += X[s:s + CH].double().T @ Yc[s:s + CH]
del Yc
alpha_max = float(G0.abs().max()) / (n * L1)
grid = np.logspace(math.log10(alpha_max), math.log10(eps * alpha_max), n_alphas)
print(f"alpha_max = {alpha_max:.6g}")

# ------------------------------------------------------------------ 1. calibration
nbytes = X.numel() * 4
t_copy, _ = timed(lambda: X.clone(), repeats=3)
bw = 2 * nbytes / t_copy / 1e9
S = 8192 if cuda else 1024
Am, Bm = torch.randn(S, S, device=dev), torch.randn(S, S, device=dev)
t_mm, _ = timed(lambda: Am @ Bm, repeats=3)
tflops = 2 * S**3 / t_mm / 1e12
del Am, Bm
print(f"calibration: copy {bw:.0f} GB/s (read+write), fp32 matmul {tflops:.1f} TFLOP/s")

# ------------------------------------------------------------------ 2. one full-batch gradient
W = torch.zeros(k, d, device=dev)
W[:, :: max(1, d // 64)] = 0.01
b = torch.zeros(k, device=dev)


def full_gradient():
    Z = torch.addmm(b, X, W.T)
    P = torch.softmax(Z, 1)
    P[torch.arange(n, device=dev), y] -= 1
    return P.T @ X / n


t_grad, _ = timed(full_gradient, repeats=5)
bound = max(2 * nbytes / (bw / 2 * 1e9), 4 * n * d * k / (tflops * 1e12))  # X read twice at copy rate
print(f"full gradient (all {d} columns): {t_grad * 1e3:.2f} ms; bound {bound * 1e3:.2f} ms "
      f"(X read twice at {bw / 2:.0f} GB/s one-way, 4ndk flops at the matmul rate)")

# ------------------------------------------------------------------ 3. working-set paths
for method in ("owlqn", "fista"):
    reset_peak()
    t_path, res = timed(lambda: fit_path(X, y, alphas=grid, standardize=False, method=method))
    m = res.metrics
    ep = int(m["epochs"].sum())
    print(f"{method} path, {n_alphas} alphas: {t_path:.2f} s, {ep} iterations ({ep / n_alphas:.1f} per alpha), "
          f"{t_path / max(ep, 1) * 1e3:.2f} ms per iteration (working-set columns), "
          f"nnz at the last alpha {int(m['nnz'].iloc[-1])}, max relative KKT {m['kkt'].max():.1e}, "
          f"not converged: {int((~m['converged'].astype(bool)).sum())}, peak GPU memory {peak_gb():.2f} GiB")

# ------------------------------------------------------------------ 4. SAGA
reset_peak()
t_probe, probe = timed(lambda: fit_path(X, y, alphas=grid[:2], standardize=False, method="saga", max_epochs=3))
probe_epochs = int(probe.metrics["epochs"].sum())
saga_ms = t_probe / max(probe_epochs, 1) * 1e3
print(f"SAGA: {saga_ms:.1f} ms per epoch ({n // 512 + (n % 512 > 0)} minibatches of 512; from a {probe_epochs}-epoch "
      f"probe incl. set-up), step {probe.config.get('lr') or float('nan'):.3g}, peak GPU memory {peak_gb():.2f} GiB")
predicted = n_alphas * saga_epochs * saga_ms / 1e3
if predicted <= saga_budget:
    reset_peak()
    t_saga, res_s = timed(lambda: fit_path(X, y, alphas=grid, standardize=False, method="saga",
                                           max_epochs=saga_epochs))
    ms = res_s.metrics
    es = int(ms["epochs"].sum())
    print(f"SAGA path, {n_alphas} alphas, <= {saga_epochs} epochs each: {t_saga:.2f} s, {es} epochs, "
          f"{t_saga / max(es, 1) * 1e3:.1f} ms per epoch, at the epoch cap: "
          f"{int((ms['epochs'] >= saga_epochs).sum())} alphas, peak GPU memory {peak_gb():.2f} GiB")
else:
    print(f"SAGA path skipped: predicted {predicted:.0f} s > SAGA_BUDGET={saga_budget:.0f} s")

# ------------------------------------------------------------------ 5. CPU float64 reference vs device
rows = torch.randperm(n, generator=torch.Generator().manual_seed(1))[:n_sub].to(dev)
Xs = X.index_select(0, rows).double().cpu().numpy()
ys = y.index_select(0, rows).cpu().numpy()
del X
Xs -= Xs.mean(0)
sd = Xs.std(0)
Xs /= np.where(sd > 1e-12, sd, 1.0)
ks = int(ys.max()) + 1
Ycs = np.eye(ks)[ys]
Ycs -= Ycs.mean(0)
alpha = 0.1 * float(np.abs(Xs.T @ Ycs).max()) / (len(ys) * L1)


def objective(W, b):
    W = np.asarray(W, dtype=np.float64)
    Z = Xs @ W.T + np.asarray(b, dtype=np.float64)
    zmax = Z.max(1, keepdims=True)
    lse = np.log(np.exp(Z - zmax).sum(1)) + zmax[:, 0]
    return float((lse - Z[np.arange(len(ys)), ys]).mean()
                 + alpha * (L1 * np.abs(W).sum() + 0.5 * (1 - L1) * (W ** 2).sum()))


t_ref, ref = timed(lambda: fit_path(Xs, ys, alphas=[alpha], standardize=False, dtype="float64", tol=1e-8,
                                    max_epochs=20000, device="cpu"))
F_ref = objective(ref.coef_dense(0), ref.intercepts[0])
print(f"reference: {n_sub} rows, alpha = 0.1 alpha_max = {alpha:.4g}, CPU float64 owlqn tol 1e-8: {t_ref:.1f} s, "
      f"F = {F_ref:.10f}, nnz {ref.coefs[0].nnz}, converged {bool(ref.metrics['converged'].iloc[0])}")
Xd = torch.from_numpy(Xs).float().to(dev)
worst = 0.0
for method in ("owlqn", "fista", "saga"):
    t_dev, sol = timed(lambda: fit_path(Xd, ys, alphas=[alpha], standardize=False, method=method))
    F = objective(sol.coef_dense(0), sol.intercepts[0])
    rel = abs(F - F_ref) / abs(F_ref)
    worst = max(worst, rel)
    print(f"{dev.type} float32 {method}: {t_dev:.2f} s, F = {F:.10f}, relative difference {rel:.2e}, "
          f"nnz {sol.coefs[0].nnz}, epochs {int(sol.metrics['epochs'].iloc[0])}")
print(f"max relative objective difference ({dev.type} float32 vs CPU float64): {worst:.2e}")
print(f"total {time.perf_counter() - t_start:.0f} s")
PY
