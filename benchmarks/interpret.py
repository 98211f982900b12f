"""Interpretation cost: seconds per feature visualization and per LIME explanation, batched vs single.

    .venv/bin/python benchmarks/interpret.py --out benchmarks/results/interpret.md

For the shipped robust default CNN (28 px, 128 features) and, when the optional packages are
installed, EfficientNet-Lite0 (224 px, 1280 features; LIME on foolbox's ImageNet photos):

1. Feature visualization of ``--n-features`` features (default 64): one call per feature ("single")
   against one call for all of them, optimized in batches of images ("batched": 64 for the CNN; 8
   and 64 for EfficientNet, whose forward and backward pass costs per image grow ~4x from batch 8
   to 64 on a CPU); the ratio is single / batched. Lucid-style (Fourier basis, transforms, total variation) for both models,
   plain pixel-space ascent for the CNN. EfficientNet runs only ``--eff-steps`` steps (default 8):
   its seconds per feature at the default number of steps (256) are extrapolated linearly and
   marked so.
2. LIME for a deep feature: seconds per explanation (``--lime-samples`` perturbed images, SLIC
   superpixels), over a few prototype images.

Raw numbers go to the ``.json`` next to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from studykit.interpret.activations import FeatureModel
from studykit.interpret.fv import LucidConfig, PixelConfig, visualize
from studykit.interpret.lime_features import LimeConfig, explain_feature
from studykit.models import load_default_model, load_model


def fv_timings(model, features, config, batch_sizes) -> list[dict]:
    """Seconds for ``features`` visualized one call each, and in batches of each of ``batch_sizes``."""
    visualize(model, features[:1], type(config)(steps=1))                       # warm-up
    start = time.perf_counter()
    for feature in features:
        visualize(model, [feature], config)
    single = time.perf_counter() - start
    rows = []
    for batch_size in batch_sizes:
        start = time.perf_counter()
        vis = visualize(model, features, config, batch_size=batch_size)
        batched = time.perf_counter() - start
        rows.append({"method": type(config).__name__, "steps": config.steps, "default_steps": type(config)().steps,
                     "n_features": len(features), "batch_size": batch_size, "single_s": single,
                     "batched_s": batched, "ratio": single / batched, "moved": int(np.sum(vis.final > vis.initial))})
    return rows


def lime_timings(model, images, features, config: LimeConfig) -> dict:
    """Seconds per LIME explanation over (image, feature) pairs."""
    explain_feature(model, images[0], features[0], LimeConfig(num_samples=10, n_segments=config.n_segments))
    start = time.perf_counter()
    for image, feature in zip(images, features):
        explain_feature(model, image, feature, config)
    seconds = time.perf_counter() - start
    return {"n_explanations": len(images), "num_samples": config.num_samples, "n_segments": config.n_segments,
            "per_explanation_s": seconds / len(images), "image": list(images[0].shape)}


def default_cnn(args) -> dict:
    from studykit.datasets import load_default

    net, _ = load_default_model("robust")
    model = FeatureModel(net, "input of fc", input_shape=(1, 28, 28)).eval()
    features = list(range(args.n_features))
    test, _ = load_default("test")
    images = [test.images[i][:, :, None] / 255.0 for i in range(args.lime_images)]
    return {"model": "default CNN (robust), 28 px",
            "fv": [*fv_timings(model, features, LucidConfig(), args.batch_sizes),
                   *fv_timings(model, features, PixelConfig(), args.batch_sizes)],
            "lime": lime_timings(model, images, features, LimeConfig(num_samples=args.lime_samples))}


def efficientnet(args) -> dict:
    from studykit.features.default import image_transform
    from studykit.features.sources import imagenet_samples

    net, spec = load_model("efficientnet-lite0")
    model = FeatureModel(net, None, normalize=spec.normalize, input_shape=(3, 224, 224)).eval()
    features = list(range(args.n_features))
    source, _ = imagenet_samples(image_transform(224, 3))
    images = [source.dataset[i][0].permute(1, 2, 0).numpy().astype(np.float64) for i in range(args.eff_lime_images)]
    timings = fv_timings(model, features, LucidConfig(steps=args.eff_steps), args.eff_batch_sizes)
    return {"model": "EfficientNet-Lite0, 224 px", "fv": timings,
            "lime": lime_timings(model, images, features, LimeConfig(num_samples=args.lime_samples))}


def write_report(results: list[dict], args, out: Path) -> None:
    lines = ["# Interpretation benchmark", "",
             f"Machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
             f"CPU. Command: `.venv/bin/python benchmarks/interpret.py {' '.join(sys.argv[1:])}`.", "",
             "## Feature visualization", "",
             f"{args.n_features} features; single = one `visualize` call per feature, batched = one call for "
             f"all of them, optimized in batches of the given number of images.", "",
             "| model | method | steps | batch | s per feature, single | s per feature, batched | single / batched "
             "| s per feature at the default steps, batched |", "|---|---|---|---|---|---|---|---|"]
    for result in results:
        for t in result["fv"]:
            per_single, per_batched = t["single_s"] / t["n_features"], t["batched_s"] / t["n_features"]
            full = per_batched * t["default_steps"] / t["steps"]
            full_text = (f"{full:.3g}" if t["steps"] == t["default_steps"]
                         else f"*{full:.3g} at {t['default_steps']} (extrapolated)*")
            lines.append(f"| {result['model']} | {t['method']} | {t['steps']} | {t['batch_size']} | {per_single:.3g} "
                         f"| {per_batched:.3g} | {t['ratio']:.1f} | {full_text} |")
    lines += ["", "## LIME for a deep feature", "",
              "| model | perturbed images | superpixels (SLIC target) | s per explanation |", "|---|---|---|---|"]
    for result in results:
        t = result["lime"]
        lines.append(f"| {result['model']} | {t['num_samples']} | {t['n_segments']} | {t['per_explanation_s']:.3g} |")
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps({"args": vars(args), "results": results}, indent=2, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/interpret.md"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-features", type=int, default=64)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64], help="Batches for the default CNN.")
    parser.add_argument("--eff-batch-sizes", type=int, nargs="+", default=[8, 64], help="Batches for EfficientNet.")
    parser.add_argument("--eff-steps", type=int, default=8)
    parser.add_argument("--lime-samples", type=int, default=1000)
    parser.add_argument("--lime-images", type=int, default=8)
    parser.add_argument("--eff-lime-images", type=int, default=2)
    parser.add_argument("--skip-efficientnet", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = [default_cnn(args)]
    if not args.skip_efficientnet:
        try:
            results.append(efficientnet(args))
        except (ValueError, FileNotFoundError) as exc:       # optional packages missing
            print(f"EfficientNet-Lite0 skipped: {exc}")
    write_report(results, args, args.out)
    print(args.out.read_text())


if __name__ == "__main__":
    main()
