"""Issue 12 probe: GEMM work of a path in units of one full gradient (load-independent).

Usage: PYTHONPATH=. python benchmarks/solver_work_probe.py K N D N_ALPHAS EPS [METHOD]
(the issue-12 note: 200 3000 128 12 0.01 -> 157 full gradients per alpha with owlqn)."""
import sys, time, math, torch, numpy as np
sys.path.insert(0, __import__("os").path.dirname(__file__))
from solver import make_deep_features
from studykit.solver import fit_path
from studykit.solver import design as dmod
torch.set_num_threads(1)
k, n, d, na = (int(a) for a in sys.argv[1:5]); eps = float(sys.argv[5])
method = sys.argv[6] if len(sys.argv) > 6 else "owlqn"
X, y, info = make_deep_features(n, d, k, seed=0, balance=True)
k = int(y.max()) + 1
work = [0.0]
fwd, bwd = dmod.Design.forward, dmod.Design.backward
def f(self, W, b):
    work[0] += self.n_samples * self.n_features * W.shape[0]; return fwd(self, W, b)
def g(self, U):
    work[0] += self.n_samples * self.n_features * U.shape[1]; return bwd(self, U)
dmod.Design.forward, dmod.Design.backward = f, g
t0 = time.perf_counter()
r = fit_path(X, y, n_alphas=na, eps=eps, method=method)
T = time.perf_counter() - t0
m = r.metrics
full = 2 * n * d * k
print(f"k={k} n={n} d={d} method={method} path {T:.1f}s, GEMM work in full gradients/alpha {work[0]/full/na:.1f}, "
      f"epochs/alpha {m.epochs.mean():.1f}, worst kkt {m.kkt.max():.1e}, all converged {m.converged.all()}", flush=True)
print(m[["alpha","nnz","epochs","working_set","kkt","seconds","train_objective"]].to_string(), flush=True)
