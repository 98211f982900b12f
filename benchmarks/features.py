"""Feature extraction: throughput against a bare forward pass, and memory as n grows (memmap vs in RAM).

    .venv/bin/python benchmarks/features.py --out benchmarks/results/features.md

1. Images per second (best of 2 alternating rounds), studykit's extraction (hook, logits, memmapped writes, checkpoints) against a
   bare ``model(x)`` loop over the same batches (no hook, nothing written): the default CNN on
   Fashion-MNIST (28 px), and EfficientNet-Lite0 at 224 px on foolbox's ImageNet photos (repeated)
   when the optional packages are installed.
2. Peak anonymous memory (RssAnon: heap, not the page cache of mapped files) while extracting the
   default CNN's last convolution block flattened (128x7x7 = 6,272 features per image, 25 KB a row)
   for growing n, each in a fresh process: studykit's memmapped store against the naive way
   (accumulate rows in a list, ``np.concatenate``, ``np.save``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent


def rss_anon_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class PeakSampler:
    def __init__(self, every: float = 0.02):
        self.peak, self.every, self._stop = rss_anon_mb(), every, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_anon_mb())
            time.sleep(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_anon_mb())


def _bare(model, source, batch_size, normalize=None):
    from torch.utils.data import DataLoader

    loader = DataLoader(source.dataset, batch_size=batch_size)
    start = time.perf_counter()
    with torch.no_grad():
        for x, _ in loader:
            x = x.float() / 255 if x.dtype == torch.uint8 else x
            if normalize is not None:
                x = (x - 0.5) / 0.5
            model(x)
    return time.perf_counter() - start


def _studykit(model, source, batch_size, spec, out, layer=None, pool="avg"):
    from studykit.features.extract import ExtractConfig, extract_features

    start = time.perf_counter()
    extract_features(model, {"test": source}, out, classes=[str(i) for i in range(1000)],
                     model_info=spec.to_dict(), dataset_info={"name": "bench"}, normalize=spec.normalize,
                     config=ExtractConfig(layer=layer, pool=pool, batch_size=batch_size, overwrite=True),
                     progress=False)
    return time.perf_counter() - start


def _best_of(repeats: int, *runs) -> list[float]:
    """Each run's best time over ``repeats`` alternating rounds (alternating evens out drift)."""
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for i, run in enumerate(runs):
            best[i] = min(best[i], run())
    return best


def throughput(n_cnn: int, n_effnet: int) -> list[dict]:
    from studykit.features.default import image_transform
    from studykit.features.sources import default_splits, file_split, imagenet_samples
    from studykit.models import load_model

    rows = []
    model, spec = load_model("default:standard")
    source = default_splits(limit=n_cnn)[0]["train"]
    _bare(model, default_splits(limit=1024)[0]["test"], 512)   # warm-up
    with tempfile.TemporaryDirectory() as tmp:
        bare, ours = _best_of(2, lambda: _bare(model, source, 512),
                              lambda: _studykit(model, source, 512, spec, Path(tmp) / "fs"))
    rows.append({"model": "default CNN, 28 px", "n": n_cnn, "bare_img_s": n_cnn / bare, "studykit_img_s": n_cnn / ours})
    try:
        model, spec = load_model("efficientnet-lite0")
        photos, _ = imagenet_samples(image_transform(224, 3))
    except (ValueError, FileNotFoundError) as exc:
        rows.append({"model": "EfficientNet-Lite0, 224 px", "skipped": str(exc)})
        return rows
    reps = -(-n_effnet // len(photos.dataset))
    files = [photos.dataset.files[i % 20] for i in range(reps * 20)][:n_effnet]
    labels = [photos.dataset.labels[i % 20] for i in range(reps * 20)][:n_effnet]
    source = file_split(files, labels, image_transform(224, 3), photos.root)
    _bare(model, file_split(files[:32], labels[:32], image_transform(224, 3), photos.root), 32, True)  # warm-up
    with tempfile.TemporaryDirectory() as tmp:
        bare, ours = _best_of(2, lambda: _bare(model, source, 32, normalize=True),
                              lambda: _studykit(model, source, 32, spec, Path(tmp) / "fs"))
    rows.append({"model": "EfficientNet-Lite0, 224 px", "n": n_effnet, "bare_img_s": n_effnet / bare,
                 "studykit_img_s": n_effnet / ours})
    return rows


def memory_run(n: int, how: str) -> dict:
    """Peak RssAnon of one extraction in this (fresh) process."""
    from studykit.features.sources import default_splits
    from studykit.models import load_model

    model, spec = load_model("default:standard")
    source = default_splits(limit=n)[0]["train"]
    base = rss_anon_mb()
    with tempfile.TemporaryDirectory(dir=ROOT.parent / ".bench-tmp") as tmp, PeakSampler() as sampler:
        start = time.perf_counter()
        if how == "studykit":
            _studykit(model, source, 512, spec, Path(tmp) / "fs", layer="features.4", pool="flatten")
        else:
            _naive(model, source, Path(tmp) / "naive.npy")
        seconds = time.perf_counter() - start
    return {"n": n, "how": how, "base_mb": base, "peak_mb": sampler.peak, "seconds": seconds,
            "store_mb": n * 6272 * 4 / 2**20}


def _naive(model, source, path) -> None:
    from torch.utils.data import DataLoader

    captured = []
    handle = model.features[4].register_forward_hook(lambda m, i, o: captured.append(o.flatten(1).numpy()))
    with torch.no_grad():
        for x, _ in DataLoader(source.dataset, batch_size=512):
            model(x.float() / 255)
    handle.remove()
    np.save(path, np.concatenate(captured))


def _child(args, queue):
    queue.put(memory_run(*args))


def memory(sizes: list[int]) -> list[dict]:
    (ROOT.parent / ".bench-tmp").mkdir(exist_ok=True)
    ctx = mp.get_context("spawn")
    rows = []
    for n in sizes:
        for how in ("studykit", "naive"):
            queue = ctx.Queue()
            proc = ctx.Process(target=_child, args=((n, how), queue))
            proc.start()
            rows.append(queue.get())
            proc.join()
    return rows


def render(tp: list[dict], mem: list[dict], threads: int) -> str:
    lines = ["# Feature extraction benchmark", "",
             f"Machine: {platform.processor() or platform.machine()}, {threads} torch threads, "
             f"torch {torch.__version__}, CPU. Command: `.venv/bin/python benchmarks/features.py`.", "",
             "## Throughput (images per second)", "",
             "| model | n | bare forward pass | studykit extract | studykit / bare |", "|---|---|---|---|---|"]
    for r in tp:
        if "skipped" in r:
            lines.append(f"| {r['model']} | skipped: {r['skipped']} | | | |")
        else:
            lines.append(f"| {r['model']} | {r['n']} | {r['bare_img_s']:.0f} | {r['studykit_img_s']:.0f} | "
                         f"{r['studykit_img_s'] / r['bare_img_s']:.2f} |")
    lines += ["", "## Peak anonymous memory while extracting 6,272 features per image", "",
              "Growth: peak RssAnon minus RssAnon after loading the model and data (the forward pass's own "
              "working memory, about 140 MB at batch 512, is in both).", "",
              "| n | store size (MB) | studykit growth (MB) | naive in-RAM growth (MB) | naive / studykit |",
              "|---|---|---|---|---|"]
    for n in sorted({r["n"] for r in mem}):
        ours = next(r for r in mem if r["n"] == n and r["how"] == "studykit")
        naive = next(r for r in mem if r["n"] == n and r["how"] == "naive")
        grow = {k: r["peak_mb"] - r["base_mb"] for k, r in (("ours", ours), ("naive", naive))}
        lines.append(f"| {n} | {ours['store_mb']:.0f} | {grow['ours']:.0f} | {grow['naive']:.0f} | "
                     f"{grow['naive'] / grow['ours']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-cnn", type=int, default=20000)
    parser.add_argument("--n-effnet", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[6000, 18000, 54000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "features.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tp = throughput(args.n_cnn, args.n_effnet)
    mem = memory(args.sizes)
    report = render(tp, mem, args.threads)
    args.out.write_text(report)
    args.out.with_suffix(".json").write_text(json.dumps({"throughput": tp, "memory": mem}, indent=1))
    print(report)


if __name__ == "__main__":
    main()
