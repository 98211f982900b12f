"""GPU check of feature visualization (well under a minute on one GPU).

    PYTHONPATH=. python3 benchmarks/interpret_gpu_check.py [--device cuda]

On the shipped robust CNN: (1) a short visualization of 8 features on the CPU and on the GPU from the
same seeds, reporting the largest image and activation differences (exit 1 beyond float32 tolerance;
TF32 is turned off so the GPU computes in full float32); (2) seconds for 64 features batched at the
default steps, Lucid-style and pixel-space, and for EfficientNet-Lite0 at 224 px when its packages
are importable.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from studykit.interpret.activations import FeatureModel
from studykit.interpret.fv import LucidConfig, PixelConfig, visualize
from studykit.models import load_default_model, load_model


def robust_cnn(device: str) -> FeatureModel:
    net, _ = load_default_model("robust", device)
    return FeatureModel(net, "input of fc", input_shape=(1, 28, 28)).to(device).eval()


def timed(model, features, config, device: str) -> float:
    start = time.perf_counter()
    visualize(model, features, config, batch_size=len(features))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    failed = False
    for config in (PixelConfig(steps=5), LucidConfig(steps=5)):
        cpu = visualize(robust_cnn("cpu"), range(8), config)
        gpu = visualize(robust_cnn(args.device), range(8), config)
        image_diff = float(np.abs(cpu.images - gpu.images).max())
        act_diff = float(np.abs(cpu.final - gpu.final).max() / np.abs(cpu.final).max())
        failed |= image_diff > 1e-3 or act_diff > 1e-3
        print(f"{type(config).__name__} 5 steps, cpu vs {args.device}: max |image diff| {image_diff:.2e}, "
              f"max relative activation diff {act_diff:.2e}")
    model = robust_cnn(args.device)
    timed(model, range(2), LucidConfig(steps=2), args.device)
    for config in (LucidConfig(), PixelConfig()):
        seconds = timed(model, range(64), config, args.device)
        print(f"default CNN, {type(config).__name__}, 64 features x {config.steps} steps batched: {seconds:.2f} s")
    try:
        net, spec = load_model("efficientnet-lite0", device=args.device)
    except ValueError as exc:
        print(f"EfficientNet-Lite0 skipped: {exc}")
    else:
        eff = FeatureModel(net, None, normalize=spec.normalize, input_shape=(3, 224, 224)).to(args.device).eval()
        timed(eff, range(2), LucidConfig(steps=2), args.device)
        seconds = timed(eff, range(64), LucidConfig(), args.device)
        print(f"EfficientNet-Lite0, LucidConfig, 64 features x 256 steps batched: {seconds:.2f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
