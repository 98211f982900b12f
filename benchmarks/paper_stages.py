"""The paper's pipeline at small scale, stage by stage, timed: what docs/paper.md extrapolates from.

    .venv/bin/python benchmarks/paper_stages.py --out benchmarks/results/paper_stages.md

An ImageNet-style folder of synthetic JPEGs (500x375, as ImageNet's typical photo; ``train/<synset>/``
folders and a flat ``test/`` with Kaggle's ``LOC_val_solution.csv`` and ``LOC_synset_mapping.txt``), a
randomly initialised ResNet-50 saved as a robustness-library checkpoint (``module.model.*``,
``module.attacker.model.*``, ``module.normalizer.*``; a 10-class head, as the Places-10 models), then
the commands of docs/paper.md, each timed as a subprocess: features extract (224 px), solve path,
solve select, interpret fv (pixel method, few steps), tasks build for the three studies. Random
weights give meaningless layers; the times and sizes are what this measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SYNSETS = [f"n{1440764 + 1000 * i:08d}" for i in range(10)]


def make_data(root: Path, n_train: int, n_test: int, seed: int = 0) -> None:
    from PIL import Image

    rng = np.random.default_rng(seed)

    tints = rng.integers(-60, 60, (len(SYNSETS), 1, 1, 3))

    def photo(c):   # smooth random field, a class tint, noise: JPEG sizes close to real photos' (~100 KB)
        base = np.clip(rng.integers(0, 256, (24, 32, 3)) * 0.7 + 40 + tints[c], 0, 255).astype(np.uint8)
        image = Image.fromarray(base).resize((500, 375), Image.BICUBIC)
        noise = rng.normal(0, 12, (375, 500, 3))
        return Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype(np.uint8))

    for c, synset in enumerate(SYNSETS):
        (root / "train" / synset).mkdir(parents=True)
        for i in range(n_train // len(SYNSETS)):
            photo(c).save(root / "train" / synset / f"{synset}_{i}.JPEG", quality=90)
    (root / "test").mkdir()
    rows = ["ImageId,PredictionString"]
    for i in range(1, n_test + 1):
        photo(i % len(SYNSETS)).save(root / "test" / f"ILSVRC2012_val_{i:08d}.JPEG", quality=90)
        rows.append(f"ILSVRC2012_val_{i:08d},{SYNSETS[i % len(SYNSETS)]} 1 1 100 100")
    (root.parent / "LOC_val_solution.csv").write_text("\n".join(rows) + "\n")
    (root.parent / "LOC_synset_mapping.txt").write_text("".join(f"{s} class {i}\n" for i, s in enumerate(SYNSETS)))


def make_checkpoint(path: Path) -> None:
    import torch
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.resnet50(num_classes=len(SYNSETS))
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    state = {"module.normalizer.new_mean": mean, "module.normalizer.new_std": std}
    for prefix in ("module.model.", "module.attacker.model."):
        state.update({prefix + k: v for k, v in net.state_dict().items()})
    torch.save({"model": state, "epoch": 90}, path)


SPECS = {
    "simulatability": '[sampling]\nn_classes = 3\ntasks_per_class = 2\nn_features = 2\n',
    "spurious": '[sampling]\nn_pairs = 5\nn_images = 3\n',
    "misclassification": '[sampling]\nn_tasks = 5\n',
}


def run(stages: list, name: str, args: list[str], cwd: Path) -> None:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "studykit.cli", *args], cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    tail = (done.stdout + done.stderr).strip().splitlines()
    stages.append({"stage": name, "seconds": round(seconds, 2), "ok": done.returncode == 0,
                   "command": "studykit " + " ".join(args), "note": "" if done.returncode == 0 else tail[-1][:200]})


def throughput(work: Path, batch_size: int = 32) -> dict:
    """Images per second without start-up: decoding alone (the DataLoader), and extraction (decode + forward
    + memmapped writes), in this process, after the model is loaded."""
    from torch.utils.data import DataLoader

    from studykit.features.default import image_transform
    from studykit.features.extract import ExtractConfig, extract_features
    from studykit.features.sources import folder_splits
    from studykit.models import load_model

    model, spec = load_model("resnet50", work / "robust.pt")
    splits, classes, info = folder_splits(work / "imagenet", image_transform(224, 3), 0.0, 0,
                                          [work / "LOC_val_solution.csv"], work / "LOC_synset_mapping.txt")
    n = sum(len(s.dataset) for s in splits.values())
    start = time.perf_counter()
    for split in splits.values():
        for _ in DataLoader(split.dataset, batch_size=batch_size):
            pass
    decode = time.perf_counter() - start
    start = time.perf_counter()
    extract_features(model, splits, work / "store-inproc", classes=classes, model_info=spec.to_dict(),
                     dataset_info=info, normalize=spec.normalize, config=ExtractConfig(batch_size=batch_size),
                     progress=False)
    extract = time.perf_counter() - start
    return {"images": n, "decode_images_per_second": round(n / decode, 2),
            "extract_images_per_second": round(n / extract, 2)}


def _placeholders(folder: Path, n_features: int) -> None:
    """Copies of feature_0.png for the features not visualized (the batches' timing needs an image for every
    feature a task shows; visualizing all 2048 at 224 px is out of reach on 2 CPU cores)."""
    import shutil

    first = folder / "feature_0.png"
    if first.is_file():
        for i in range(n_features):
            if not (folder / f"feature_{i}.png").exists():
                shutil.copyfile(first, folder / f"feature_{i}.png")


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--fv-steps", type=int, default=10)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    import torch

    stages: list = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        make_data(work / "imagenet", args.n_train, args.n_test)
        make_checkpoint(work / "robust.pt")
        setup = time.perf_counter() - start
        jpeg_kb = du(work / "imagenet") / (args.n_train + args.n_test) / 1024
        run(stages, "features extract", ["features", "extract", "--model", "resnet50", "--weights", "robust.pt",
                                         "--data", "imagenet", "--labels", "LOC_val_solution.csv", "--class-names",
                                         "LOC_synset_mapping.txt", "--out", "store", "--batch-size", "32",
                                         "--device", "cpu"], work)
        run(stages, "solve path", ["solve", "path", "store", "--out", "path", "--n-alphas", "20"], work)
        run(stages, "solve select", ["solve", "select", "path"], work)
        run(stages, "interpret fv", ["interpret", "fv", "store", "--features", "0-7", "--method", "pixel",
                                     "--steps", str(args.fv_steps), "--out", "feature-images"], work)
        _placeholders(work / "feature-images", 2048)
        for study, sampling in SPECS.items():
            spec = (f'study = "{study}"\nseed = 0\n\n[inputs]\nstore = "store"\npath = "path"\n'
                    f'feature_images = "feature-images"\n\n{sampling}')
            (work / f"{study}.toml").write_text(spec)
            run(stages, f"tasks build {study}", ["tasks", "build", f"{study}.toml", "--out", f"batches/{study}"], work)
        meta = json.loads((work / "store" / "meta.json").read_text()) if (work / "store" / "meta.json").exists() else {}
        rows = sum(s["rows"] for s in meta.get("splits", {}).values())
        store_bytes = du(work / "store") if (work / "store").exists() else 0
        speed = throughput(work)
    extract = stages[0]["seconds"]
    report = {"machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
                         f"CPU, load average {os.getloadavg()[0]:.1f} at the end",
              "n_images": args.n_train + args.n_test, "jpeg_kb_mean": round(jpeg_kb, 1), "setup_seconds": round(setup, 1),
              "rows": rows, "store_bytes": store_bytes, "store_bytes_per_row": round(store_bytes / max(rows, 1)),
              "command_images_per_second": round((args.n_train + args.n_test) / extract, 2), **speed,
              "fv_steps": args.fv_steps, "stages": stages}
    text = _markdown(report)
    print(text)
    if args.out:
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=1))


def _markdown(r: dict) -> str:
    lines = ["# The paper's pipeline at small scale (docs/paper.md)", "",
             f"Machine: {r['machine']}. Command: `.venv/bin/python benchmarks/paper_stages.py`.", "",
             f"{r['n_images']} synthetic JPEGs (500x375, {r['jpeg_kb_mean']} KB each on average), random ResNet-50 in "
             f"the robustness library's layout, 10 classes; {r['rows']} rows in the store, "
             f"{r['store_bytes']:,} bytes ({r['store_bytes_per_row']:,} bytes per row, 10 logits a row). "
             f"Extraction in process after loading the model (batch 32, no DataLoader workers): "
             f"{r['extract_images_per_second']} images per second, of which decoding and resizing alone runs at "
             f"{r['decode_images_per_second']} images per second; the whole `features extract` command, start-up "
             f"included: {r['command_images_per_second']} images per second. "
             f"Feature visualization: {r['fv_steps']} steps for 8 features at 224 px; the other features' "
             f"pictures are copies of feature 0's, for the batches.", "",
             "| stage | seconds | ok | command |", "|---|---|---|---|"]
    for s in r["stages"]:
        note = f" ({s['note']})" if s["note"] else ""
        lines.append(f"| {s['stage']} | {s['seconds']} | {'yes' if s['ok'] else 'no' + note} | `{s['command']}` |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
