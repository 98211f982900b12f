"""Toys shared by the interpret tests and their CLI tests: a sentence encoder importable as an encoder factory
(``interpret_toys:bag_of_words``), and the inputs of the image-counterfactual tests."""

import dataclasses
import re

import numpy as np

VOCABULARY = ("great", "fun", "dull", "boring", "superb", "awful", "movie")


def encode(sentences):
    """Feature j counts the occurrences of ``VOCABULARY[j]`` (case-insensitive)."""
    tokens = [re.findall(r"\w+", s.lower()) for s in sentences]
    return np.array([[t.count(w) for w in VOCABULARY] for t in tokens], dtype=np.float32)


def bag_of_words():
    return encode


# ---------------------------------------------------------------------------------------------
# image counterfactuals (issue 19, appendix F.2 / Fig. 31)
CF_TARGET = 8  # Bag


def stripes(size=28, period=4):
    """A textured patch: diagonal stripes."""
    i, j = np.mgrid[:size, :size]
    return (((i + j) // period) % 2).astype(np.float32)[..., None]


def counterfactual_inputs(store, root):
    """Images of non-target classes of ``store``'s test split, a stripe pattern, and a path folder with
    the model's dense layer and a sparse layer (its 8 largest weights per class), under ``root``."""
    from studykit.interpret.activations import load_feature_model
    from studykit.interpret.images import row_array, save_png
    from studykit.solver.layers import DecisionLayer

    _, y = store.split("test")
    rows = [r for r in range(len(y)) if int(y[r]) != CF_TARGET][:12]
    for r in rows:
        save_png(row_array(store, "test", r, (1, 28, 28)), root / "images" / f"row{r:02d}.png", min_side=28)
    save_png(stripes(), root / "stripes.png", min_side=28)
    dense = dataclasses.replace(store.dense_layer(), name="dense")
    keep = np.argsort(-np.abs(dense.weight), axis=1)[:, :8]
    weight = np.zeros_like(dense.weight)
    np.put_along_axis(weight, keep, np.take_along_axis(dense.weight, keep, 1), 1)
    path = root / "path"
    dense.save(path / "layers" / "dense.npz")
    DecisionLayer(weight, dense.bias, name="sparse", classes=dense.classes).save(path / "layers" / "sparse.npz")
    return dict(store=store, root=root, path=path, n=len(rows),
                model=load_feature_model(store, "cpu"), layers={"dense": dense, "sparse": DecisionLayer.load(
                    path / "layers" / "sparse.npz")})
