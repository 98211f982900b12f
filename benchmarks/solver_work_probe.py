"""Issue 12 probe: GEMM work of a path in units of one full gradient (load-independent).

Usage: PYTHONPATH=. python benchmarks/solver_work_probe.py K N D N_ALPHAS EPS [METHOD] [--per-alpha]
[--progress] [--first=M] [--set=MODULE.NAME=VALUE ...]

``--per-alpha`` prints the metrics of every alpha at the end; ``--progress`` prints each alpha's
full gradients as it finishes (what a run cut off by a time limit has done so far); ``--first=M``
stops after the first M alphas (the averages are then over those); ``--set`` changes a solver
setting for an ablation, e.g. ``--set=workingset.EARLY_CHECK=0`` or ``--set=owlqn.MEMORY=100``
(MODULE is a module of ``studykit.solver``).

Counts every ``Design.forward`` and ``Design._backward_and_sum`` (what ``Design.gradient`` calls)
as rows x columns x outputs multiply-adds; one full gradient is ``2 n d k`` (a forward and a
backward over all columns). The sparse products of coordinate working sets
(``coordinates.CoordinateDesign``, rows x coefficients multiply-adds) are counted apart: a sparse
multiply-add costs several dense ones, so for them the time-based figure counts (path seconds /
alphas / the seconds of one dense full gradient measured before the path, as in
``benchmarks/solver.py``; it depends on the machine's load, the GEMM work does not). Data: ``make_deep_features(n, d, k, seed=0, balance=True)``.
Examples (issue-12 note): ``200 3000 128 12 0.01`` (coarse grid) and ``200 3000 128 100 0.001``
(the default grid)."""
import ast, importlib, os, sys, time
import numpy as np, torch
sys.path.insert(0, os.path.dirname(__file__))
from solver import full_gradient_ms, make_deep_features
from studykit.solver import fit_path
from studykit.solver import coordinates as cmod, design as dmod

torch.set_num_threads(1)
args = [a for a in sys.argv[1:] if not a.startswith("--")]
first = None
for a in sys.argv[1:]:
    if a.startswith("--first="):
        first = int(a.split("=", 1)[1])
    elif a.startswith("--set="):
        target, value = a[len("--set="):].split("=", 1)
        module, name = target.rsplit(".", 1)
        mod = importlib.import_module(f"studykit.solver.{module}")
        assert hasattr(mod, name), f"studykit.solver.{module} has no setting {name}"
        setattr(mod, name, ast.literal_eval(value))
k, n, d, na = (int(a) for a in args[:4]); eps = float(args[4])
method = args[5] if len(args) > 5 else "owlqn"
X, y, info = make_deep_features(n, d, k, seed=0, balance=True)
k = int(y.max()) + 1
unit = full_gradient_ms(X, y, k) / 1e3  # seconds of one dense full gradient: the time unit
work = [0.0]
fwd, bws = dmod.Design.forward, dmod.Design._backward_and_sum
def f(self, W, b):
    work[0] += self.n_samples * self.n_features * W.shape[0]; return fwd(self, W, b)
def g(self, U):
    work[0] += self.n_samples * self.n_features * U.shape[1]; return bws(self, U)
dmod.Design.forward, dmod.Design._backward_and_sum = f, g
sparse = [0.0]  # multiply-adds of the sparse products of coordinate working sets (studykit.solver.coordinates)
sfwd, sgrad = cmod.CoordinateDesign.forward, cmod.CoordinateDesign.gradient
def sf(self, w, b):
    sparse[0] += self.design.n_samples * self.m; return sfwd(self, w, b)
def sg(self, U):
    sparse[0] += self.design.n_samples * self.m; return sgrad(self, U)
cmod.CoordinateDesign.forward, cmod.CoordinateDesign.gradient = sf, sg
full = 2 * n * d * k
marks = []
def progress(i, row):
    marks.append(work[0])
    if "--progress" in sys.argv:
        print(f"alpha {i}: {(marks[-1] - (marks[-2] if i else 0)) / full:.1f} full gradients of GEMM work, "
              f"{row['seconds'] / unit:.1f} in time, nnz {row['nnz']}, "
              f"kkt {row['kkt']:.1e}, {time.perf_counter() - t0:.0f}s", flush=True)
    return first is not None and i + 1 >= first
t0 = time.perf_counter()
r = fit_path(X, y, n_alphas=na, eps=eps, method=method, callback=progress)
T = time.perf_counter() - t0
m = r.metrics.copy()
m["full_grads"] = np.diff([0.0] + marks) / full
solved = m["epochs"] > 0  # alphas at or above alpha_max cost one null-model check at most
done = len(m)
print(f"k={k} n={n} d={d} alphas={done} of {na} eps={eps} method={method} path {T:.1f}s; GEMM work in full "
      f"gradients: per alpha {work[0] / full / done:.2f} (per solved alpha {m.full_grads[solved].mean():.1f}, "
      f"max {m.full_grads.max():.1f}); sparse products {sparse[0] / full / done:.2f} (multiply-adds in the same unit); time in "
      f"full gradients ({unit * 1e3:.0f} ms each, dense GEMMs): per alpha {T / unit / done:.2f}; worst kkt {m.kkt.max():.1e}, all converged {bool(m.converged.all())}", flush=True)
if "--per-alpha" in sys.argv:
    print(m[["alpha", "nnz", "epochs", "working_set", "full_grads", "kkt", "seconds", "train_objective"]]
          .to_string(), flush=True)
