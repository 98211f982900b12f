"""The regularization path under torchrun on CPU (gloo): 1 process against 2, same total thread budget.

    .venv/bin/python benchmarks/distributed_path.py --n 50000 --d 2048 --k 10 --out benchmarks/results/distributed_path.md

The training features (``make_deep_features`` of benchmarks/solver.py, float32) are written once as a
``.npy`` memmap; for each layout (processes x threads per process) ``python -m torch.distributed.run
--standalone --nproc-per-node P`` runs a driver (this file with ``--driver``) in which every rank calls
``fit_path`` on the memmap (each rank loads only its block of the rows) and records:

* path seconds (barrier to barrier, inside the ranks: data loaded and standardized before the clock),
* all-reduces per alpha and bytes all-reduced per alpha (counted at ``studykit.solver.design``'s
  all_reduce; 0 in one process), and the bytes of the largest one (the packed gradient),
* peak anonymous memory (RssAnon) growth of each rank while it fits,
* the largest relative difference of the training objective from the first layout's path over all alphas,
  and the number of alphas whose supports differ (coefficients above 1e-2 of the largest).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from distributed import _rss_anon_mb, _scratch, _torch_version  # noqa: E402  (benchmarks/distributed.py)


def driver(data: Path, n_alphas: int, eps: float, tol: float, device: str, out: Path) -> None:
    """One rank: fit the path on the memmap; rank 0 writes every rank's figures and the path."""
    import torch

    from studykit import distributed as D
    from studykit.solver import design as design_module
    from studykit.solver import fit_path

    reduces = {"calls": 0, "bytes": 0, "largest": 0}
    plain = design_module.all_reduce

    def counted(t, op="sum"):
        reduces["calls"] += 1
        reduces["bytes"] += t.numel() * t.element_size()
        reduces["largest"] = max(reduces["largest"], t.numel() * t.element_size())
        return plain(t, op)

    design_module.all_reduce = counted
    X = np.load(data / "X.npy", mmap_mode="r")
    y = np.load(data / "y.npy")
    peak, stop = [_rss_anon_mb()], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_anon_mb())
            time.sleep(0.05)

    with D.process_group(device) as rank_device:   # cuda:LOCAL_RANK and NCCL for --device cuda
        base = _rss_anon_mb()
        threading.Thread(target=sample, daemon=True).start()
        D.barrier()
        start = time.perf_counter()
        result = fit_path(X, y, n_alphas=n_alphas, eps=eps, tol=tol, device=rank_device)
        D.barrier()
        seconds = time.perf_counter() - start
        stop.set()
        rows = D.all_gather_object({"seconds": seconds, "growth_mb": peak[0] - base, **reduces,
                                    "threads": torch.get_num_threads()})
        if D.is_rank0():
            result.save(out)
            (out / "ranks.json").write_text(json.dumps(rows))


def launch(nproc: int, threads: int, data: Path, n_alphas: int, eps: float, tol: float, device: str,
           out: Path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT.parent))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           str(Path(__file__).resolve()), "--driver", "--data", str(data), "--n-alphas", str(n_alphas),
           "--eps", str(eps), "--tol", str(tol), "--device", device, "--out", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    ranks = json.loads((out / "ranks.json").read_text())
    return {"processes": nproc, "threads": threads, "wall_s": time.perf_counter() - start, "ranks": ranks,
            "seconds": max(r["seconds"] for r in ranks), "out": str(out)}


def compare(reference: Path, other: Path) -> tuple[float, int]:
    from studykit.solver import PathResult

    a, b = PathResult.load(reference), PathResult.load(other)
    fa, fb = a.metrics["train_objective"].to_numpy(), b.metrics["train_objective"].to_numpy()
    differ = 0
    for Wa, Wb in zip(a.coefs, b.coefs):
        Wa, Wb = Wa.toarray(), Wb.toarray()
        big = 1e-2 * max(np.abs(Wa).max(), 1e-12)
        differ += not (((np.abs(Wa) > big) <= (Wb != 0)).all() and ((np.abs(Wb) > big) <= (Wa != 0)).all())
    return float(np.max(np.abs(fb - fa) / np.abs(fa))), differ


def render(rows: list[dict], args, n_alphas_fitted: int) -> str:
    load = os.getloadavg()
    lines = ["# The regularization path across processes (torchrun, CPU, gloo)", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores (load average {load[0]:.1f} at the end), "
             f"torch {_torch_version()}. Command: `.venv/bin/python benchmarks/distributed_path.py --n {args.n} "
             f"--d {args.d} --k {args.k} --n-alphas {args.n_alphas} --eps {args.eps} --tol {args.tol} "
             f"--device {args.device}`. "
             f"Multinomial, l1_ratio 0.99, owlqn, float32, KKT tolerance {args.tol}, {n_alphas_fitted} alphas; features from benchmarks/solver.py's "
             "`make_deep_features` in a .npy memmap, each rank loading its block of the rows.", "",
             "| processes x threads | path (s) | s / alpha | all-reduces / alpha | KB all-reduced / alpha "
             "| largest all-reduce (KB) | peak RssAnon growth per rank (MB) | max rel. objective diff "
             "| alphas with other supports |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        rank0 = r["ranks"][0]
        growth = ", ".join(f"{x['growth_mb']:.0f}" for x in r["ranks"])
        lines.append(f"| {r['processes']} x {r['threads']} | {r['seconds']:.1f} | {r['seconds'] / n_alphas_fitted:.2f} "
                     f"| {rank0['calls'] / n_alphas_fitted:.0f} | {rank0['bytes'] / 1024 / n_alphas_fitted:.0f} "
                     f"| {rank0['largest'] / 1024:.0f} | {growth} | {r['objective_diff']} | {r['supports_differ']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=50000)
    parser.add_argument("--d", type=int, default=2048)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--n-alphas", type=int, default=20)
    parser.add_argument("--eps", type=float, default=0.05)
    parser.add_argument("--tol", type=float, default=1e-4, help="KKT tolerance of every alpha")
    parser.add_argument("--device", default="cpu", help="cpu (gloo) or cuda (rank r on cuda:r, NCCL)")
    parser.add_argument("--layouts", nargs="+", default=["1x2", "1x1", "2x1"], help="processes x threads")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "distributed_path.md")
    parser.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()
    if args.driver:
        return driver(args.data, args.n_alphas, args.eps, args.tol, args.device, args.out)
    from solver import make_deep_features

    with tempfile.TemporaryDirectory(dir=_scratch()) as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        X, y, _ = make_deep_features(args.n, args.d, args.k, seed=0)
        np.save(data / "X.npy", X)
        np.save(data / "y.npy", y)
        del X
        rows, reference = [], None
        for layout in args.layouts:
            nproc, threads = (int(v) for v in layout.split("x"))
            row = launch(nproc, threads, data, args.n_alphas, args.eps, args.tol, args.device, Path(tmp) / layout)
            reference = reference or Path(row["out"])
            diff, differ = compare(reference, Path(row["out"]))
            row["objective_diff"], row["supports_differ"] = ("reference", "reference") if Path(row["out"]) == reference \
                else (f"{diff:.1e}", differ)
            rows.append(row)
            print({k: v for k, v in row.items() if k != "ranks"}, flush=True)
        from studykit.solver import PathResult

        report = render(rows, args, len(PathResult.load(reference)))
    args.out.write_text(report)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    print(report)


if __name__ == "__main__":
    main()
