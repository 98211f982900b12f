"""Small real inputs for the task builder: a folder-backed feature store, a path folder, feature images.

Also used by tests/preview (through its conftest), so both test folders build batches the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from studykit.features import write_meta, write_split
from studykit.solver.layers import DecisionLayer
from studykit.tasks import Inputs, TaskSpec

#: Class names; one is markup, to check that pages escape it.
CLASSES = ("cat", "dog", "<script>alert(1)</script>", "fish & chips")
N_FEATURES = 10
N_ROWS = 120


def _square(color: tuple[int, int, int], label: str, size: int = 32) -> Image.Image:
    image = Image.new("RGB", (size, size), color)
    ImageDraw.Draw(image).text((2, 10), label, fill=(255, 255, 255))
    return image


def make_inputs(root: Path, *, seed: int = 0) -> dict[str, Path]:
    """Write a store (test split of ``N_ROWS`` images), ``path/layers/{dense,sparse}.npz`` and
    ``features/feature_<i>.png`` under ``root``; returns their folders."""
    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    dense = rng.normal(size=(k, N_FEATURES))
    sparse = np.where(np.abs(dense) > 0.6, dense, 0.0)
    sparse[:, :2] = np.abs(sparse[:, :2]) + 0.5          # every class uses features 0 and 1: shared pairs
    for c in range(k):                                   # and at least 3 positive features per class
        sparse[c, 2 + c] = 1.0 + c
        sparse[c, 6 + c % 4] = 0.8
    y = np.arange(N_ROWS) % k
    X = np.maximum(rng.normal(size=(N_ROWS, N_FEATURES)) + 0.4 * dense[y], 0.0).astype(np.float32)
    images = root / "images"
    images.mkdir(parents=True)
    sources = []
    for row in range(N_ROWS):
        name = f"row_{row}.png"
        _square((row * 2 % 256, 40 + row % 200, 255 - row * 2 % 256), str(row)).save(images / name)
        sources.append(name)
    store = root / "store"
    write_split(store, "test", X, y)
    np.save(store / "test_index.npy", np.arange(N_ROWS))
    (store / "test_sources.jsonl").write_text("".join(f'"{s}"\n' for s in sources))
    write_meta(store, {"n_features": N_FEATURES, "classes": list(CLASSES),
                       "dataset": {"name": f"folder:{images}"},
                       "splits": {"test": {"rows": N_ROWS, "origin": f"folder:{images}", "index": "test_index.npy",
                                           "sources": "test_sources.jsonl"}}})
    path = root / "path"
    for name, weight in (("dense", dense), ("sparse", sparse)):
        DecisionLayer(weight.astype(np.float32), rng.normal(scale=0.1, size=k).astype(np.float32),
                      name=name, classes=CLASSES).save(path / "layers" / f"{name}.npz")
    features = root / "features"
    features.mkdir()
    for i in range(N_FEATURES):
        _square((20 * i % 256, 200 - 15 * i, 90), f"f{i}", size=40).save(features / f"feature_{i}.png")
    return {"store": store, "path": path, "features": features}


def small_spec(study: str, folders: dict[str, Path], **sampling) -> TaskSpec:
    """A spec of ``study`` on :func:`make_inputs`' folders, with raw coefficients and small counts."""
    from studykit.tasks.spec import SAMPLING

    defaults = {"simulatability": {"n_classes": 3, "tasks_per_class": 8, "n_features": 3},
                "spurious": {"n_pairs": 3, "n_images": 2},
                "misclassification": {"n_tasks": 6}}[study]
    inputs = Inputs(store=str(folders["store"]), path=str(folders["path"]),
                    feature_images=str(folders["features"]), coefficients="raw")
    return TaskSpec(study=study, inputs=inputs, sampling=SAMPLING[study](**{**defaults, **sampling}), seed=3)
