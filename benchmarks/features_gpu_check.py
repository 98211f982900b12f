"""GPU check of feature extraction (about a minute on one GPU).

    PYTHONPATH=. python3 benchmarks/features_gpu_check.py [--device cuda] [--n 10000]

For each default CNN: extracts Fashion-MNIST through studykit on the GPU and on the CPU (the first
``--n-cpu`` test images), reports the largest feature and logit differences and the prediction
agreement, and the GPU throughput for ``--n`` images; then the same for EfficientNet-Lite0 at 224 px
on foolbox's photos when its packages are importable. Exits non-zero when GPU and CPU disagree beyond
float32 tolerance (extraction turns TF32 off; with it on, EfficientNet-Lite0's features moved by 4e-3).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from studykit.features.default import image_transform
from studykit.features.extract import ExtractConfig, extract_features
from studykit.features.sources import default_splits, file_split, imagenet_samples
from studykit.models import load_model


def run(spec_name: str, source, device: str, out: Path, batch_size: int, workers: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    model, spec = load_model(spec_name, device=device)
    start = time.perf_counter()
    extract_features(model, {"test": source}, out, classes=[str(i) for i in range(1000)], model_info=spec.to_dict(),
                     dataset_info={"name": "check"}, normalize=spec.normalize,
                     config=ExtractConfig(batch_size=batch_size, num_workers=workers, overwrite=True), progress=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return np.load(out / "test.npy"), np.load(out / "test_logits.npy"), seconds


def compare(name: str, gpu, cpu, n: int, seconds: float) -> bool:
    m = len(cpu[0])
    feat = float(np.abs(gpu[0][:m] - cpu[0]).max() / max(np.abs(cpu[0]).max(), 1e-12))
    logit = float(np.abs(gpu[1][:m] - cpu[1]).max() / max(np.abs(cpu[1]).max(), 1e-12))
    agree = float((gpu[1][:m].argmax(1) == cpu[1].argmax(1)).mean())
    ok = feat < 1e-3 and logit < 1e-3 and agree >= 0.995
    print(f"{name}: {n / seconds:,.0f} images/s on the GPU ({n} images); vs CPU on {m}: max relative "
          f"difference features {feat:.2e}, logits {logit:.2e}, same prediction {agree:.4f} -> {'OK' if ok else 'FAIL'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n", type=int, default=60000)
    parser.add_argument("--n-cpu", type=int, default=2000)
    parser.add_argument("--num-workers", type=int, default=8, help="JPEG-decoding workers for EfficientNet")
    args = parser.parse_args()
    if args.device.startswith("cuda"):
        print(torch.cuda.get_device_name(0), "torch", torch.__version__)
    ok = True
    splits = default_splits(val_fraction=0.0, limit=args.n)[0]
    small = default_splits(val_fraction=0.0, limit=args.n_cpu)[0]
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("default:standard", "default:robust"):
            run(name, small["test"], args.device, Path(tmp) / "warm", 512)          # warm-up (cuDNN, caches)
            gpu = run(name, splits["train"], args.device, Path(tmp) / "gpu", 1024)
            cpu = run(name, small["train"], "cpu", Path(tmp) / "cpu", 512)
            ok &= compare(name, gpu[:2], cpu[:2], len(splits["train"].dataset), gpu[2])
        try:
            photos, _ = imagenet_samples(image_transform(224, 3))
        except FileNotFoundError as exc:
            print(f"EfficientNet-Lite0: skipped ({exc})")
            return 0 if ok else 1
        files = [photos.dataset.files[i % 20] for i in range(400)]
        source = file_split(files, [photos.dataset.labels[i % 20] for i in range(400)], image_transform(224, 3),
                            photos.root)
        try:
            run("efficientnet-lite0", photos, args.device, Path(tmp) / "warm", 20)
        except ValueError as exc:
            print(f"EfficientNet-Lite0: skipped ({exc})")
            return 0 if ok else 1
        gpu = run("efficientnet-lite0", source, args.device, Path(tmp) / "gpu", 100, args.num_workers)
        cpu = run("efficientnet-lite0", photos, "cpu", Path(tmp) / "cpu", 20)
        ok &= compare("efficientnet-lite0", gpu[:2], cpu[:2], 400, gpu[2])
        print(f"efficientnet-lite0 top-1 on the 20 photos (GPU): {(gpu[1][:20].argmax(1) == np.array(photos.dataset.labels)).sum()}/20")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
