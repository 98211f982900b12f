"""Train the embedded default CNNs (standard and L2-robust) on Fashion-MNIST and save them as package data.

    python scripts/train_default_models.py --device auto --out studykit/data/models

Writes ``fashion_cnn_standard.pt`` and ``fashion_cnn_robust.pt`` (state dict, class names, training
configuration, measured test accuracies clean and under L2 PGD) and ``fashion_cnn_metrics.json``.
Seeded: the same device and library versions give the same weights.

Robust model: L2 PGD with eps = 1.0 in [0, 1] pixel space, 7 steps of 2.5*eps/7. A 28x28 Fashion-MNIST
image has an L2 norm of about 12 (mean over the training set), so eps = 1.0 moves it by ~8% of its
norm, a budget that visibly changes strokes and textures but not the garment's class (eps = 2-3 starts
to erase the class for humans at this size). 7 steps is the robustness library's usual count for L2
training; evaluation uses 20 steps, a stronger attack than training saw.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import torch

from studykit.datasets import load_fashion_mnist
from studykit.models.robust import evaluate
from studykit.models.train import TrainConfig, train_cnn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("studykit/data/models"))
    parser.add_argument("--device", default="auto", help="cpu, cuda, or auto (cuda when available)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--eps", type=float, default=1.0, help="L2 radius of the robust model's training attack")
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--eval-steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=("standard", "robust"), help="train one of the two models")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = "cpu" if device == "auto" else device

    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    x_train, y_train = torch.from_numpy(train.images[:, None].copy()), torch.from_numpy(train.labels)
    x_test, y_test = torch.from_numpy(test.images[:, None].copy()), torch.from_numpy(test.labels)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name, eps in (("standard", 0.0), ("robust", args.eps)):
        if args.only and name != args.only:
            continue
        config = TrainConfig(epochs=args.epochs, eps=eps, steps=args.steps, seed=args.seed)
        start = time.perf_counter()
        model = train_cnn(x_train, y_train, len(train.classes), config, device)
        seconds = time.perf_counter() - start
        metrics = {"clean_accuracy": evaluate(model, x_test, y_test),
                   "pgd_accuracy": evaluate(model, x_test, y_test, eps=args.eps, steps=args.eval_steps),
                   "pgd_eps": args.eps, "pgd_steps": args.eval_steps, "test_images": len(x_test),
                   "train_seconds": round(seconds, 1), "device": torch.cuda.get_device_name(0)
                   if device == "cuda" else platform.processor() or "cpu", "torch": str(torch.__version__)}
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        torch.save({"state_dict": state, "classes": list(train.classes), "config": config.to_dict(),
                    "metrics": metrics}, args.out / f"fashion_cnn_{name}.pt")
        summary[name] = {"config": config.to_dict(), "metrics": metrics}
        logging.info("%s: %s", name, metrics)
    (args.out / "fashion_cnn_metrics.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
