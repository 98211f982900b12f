"""Feature extraction under torchrun on CPU (gloo): 1 process against 2, same total thread budget.

    .venv/bin/python benchmarks/distributed.py --n-images 20000 --out benchmarks/results/distributed.md

For each layout (processes x threads per process) it launches ``python -m torch.distributed.run
--standalone --nproc-per-node P`` on a driver (this file with ``--driver``) that extracts the default
CNN (``default:standard``) over the first ``--n-images`` Fashion-MNIST training images, and records:

* extraction seconds (barrier to barrier, inside the ranks: model and data already loaded),
* of which rank 0 spent joining the blocks into the store (the one extra copy of the sharded layout),
* wall seconds of the whole launch (interpreter and torch start-up, rendezvous included),
* peak anonymous memory (RssAnon: heap, not the page cache of the memmaps) of each rank,
* whether every array of the store is byte-identical to the one-process store.

Two feature layers: the penultimate 128 features (the store is small, the join is negligible) and
the last convolution block flattened (6,272 features, 25 KB a row: the join copies the whole store).
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

ROOT = Path(__file__).resolve().parent
LAYERS = {"penultimate": (None, "avg"), "conv flattened": ("features.4", "flatten")}


def _rss_anon_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def driver(n: int, out: Path, layer: str | None, pool: str, report: Path) -> None:
    """One rank: load, barrier, extract, barrier; rank 0 writes the timings of every rank."""
    import torch

    from studykit import distributed as D
    from studykit.features import sharded
    from studykit.features.extract import ExtractConfig, extract_features
    from studykit.features.sources import default_splits
    from studykit.models import load_model

    join_seconds = [0.0]
    plain_join = sharded._join

    def timed_join(*args):
        start = time.perf_counter()
        plain_join(*args)
        join_seconds[0] += time.perf_counter() - start

    sharded._join = timed_join
    peak, stop = [_rss_anon_mb()], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_anon_mb())
            time.sleep(0.02)

    with D.process_group("cpu"):
        model, spec = load_model("default:standard")
        splits, classes, info, _ = default_splits(limit=n)
        splits = {"train": splits["train"]}
        base = _rss_anon_mb()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        D.barrier()
        start = time.perf_counter()
        extract_features(model, splits, out, classes=classes, model_info=spec.to_dict(), dataset_info=info,
                         config=ExtractConfig(layer=layer, pool=pool, batch_size=512, overwrite=True),
                         progress=False)
        D.barrier()
        seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
        rows = D.all_gather_object({"seconds": seconds, "join_seconds": join_seconds[0],
                                    "growth_mb": peak[0] - base, "threads": torch.get_num_threads()})
        if D.is_rank0():
            report.write_text(json.dumps(rows))


def launch(nproc: int, threads: int, n: int, layer: str, out: Path) -> dict:
    report = out.with_suffix(".json")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT.parent))
    name, pool = LAYERS[layer]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           str(Path(__file__).resolve()), "--driver", "--n-images", str(n), "--out", str(out), "--pool", pool,
           "--report", str(report)] + (["--layer", name] if name else [])
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    wall = time.perf_counter() - start
    ranks = json.loads(report.read_text())
    return {"layer": layer, "processes": nproc, "threads": threads, "n": n, "wall_s": wall, "ranks": ranks,
            "seconds": max(r["seconds"] for r in ranks), "join_seconds": ranks[0]["join_seconds"]}


def identical(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.glob("*.np[yz]"))
    return names == sorted(p.name for p in b.glob("*.np[yz]")) and \
        all((a / f).read_bytes() == (b / f).read_bytes() for f in names)


def render(rows: list[dict], n: int) -> str:
    load = os.getloadavg()
    lines = ["# Feature extraction across processes (torchrun, CPU, gloo)", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores (load average {load[0]:.1f} at the end: "
             f"other jobs shared the cores), torch {_torch_version()}. Command: `.venv/bin/python "
             f"benchmarks/distributed.py --n-images {n}`. Default CNN (`default:standard`) on the first {n} "
             f"Fashion-MNIST training images, batch 512.", "",
             "| layer | processes x threads | extraction (s) | images/s | of which join (s) | launch wall (s) "
             "| peak RssAnon growth per rank (MB) | identical to 1 process |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        growth = ", ".join(f"{x['growth_mb']:.0f}" for x in r["ranks"])
        lines.append(f"| {r['layer']} | {r['processes']} x {r['threads']} | {r['seconds']:.2f} | "
                     f"{r['n'] / r['seconds']:.0f} | {r['join_seconds']:.2f} | {r['wall_s']:.1f} | {growth} | "
                     f"{r['identical']} |")
    return "\n".join(lines) + "\n"


def _scratch() -> Path:
    """``.bench-tmp/`` beside the repository (git-ignored; on the same disk as a real store would be)."""
    folder = ROOT.parent / ".bench-tmp"
    folder.mkdir(exist_ok=True)
    return folder


def _torch_version() -> str:
    import torch

    return torch.__version__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=20000)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "distributed.md")
    parser.add_argument("--layouts", nargs="+", default=["1x2", "1x1", "2x1"],
                        help="processes x threads per process")
    parser.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--layer", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--pool", default="avg", help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.driver:
        return driver(args.n_images, args.out, args.layer, args.pool, args.report)
    rows = []
    with tempfile.TemporaryDirectory(dir=_scratch()) as tmp:
        for layer in LAYERS:
            reference = None
            for layout in args.layouts:
                nproc, threads = (int(x) for x in layout.split("x"))
                out = Path(tmp) / f"{layer.replace(' ', '-')}-{layout}"
                row = launch(nproc, threads, args.n_images, layer, out)
                reference = reference or out
                row["identical"] = "reference" if out == reference else ("yes" if identical(reference, out) else "NO")
                rows.append(row)
                print(row, flush=True)
    report = render(rows, args.n_images)
    args.out.write_text(report)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    print(report)


if __name__ == "__main__":
    main()
