"""The spurious-correlation study (appendix E.2.1, Figure 28): what pattern do two classes share?

For each decision layer, class pairs are drawn at random among those that share a feature: a feature
whose weight exceeds 5% of the largest weight in both classes (a pair sharing several such features is
shown with one of them, drawn at random). For each class of the pair, the ``n_images`` images of that
class that activate the feature most are shown, grouped by class with the class name. The key is the
layer, the two classes and the feature; the page never shows the feature.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

import numpy as np

from .assets import TaskImages
from .data import StudyData
from .sampling import Counts, PageTask, significant_features
from .spec import SpuriousSampling

__all__ = ["SpuriousTask", "shared_feature_pairs", "top_activating_rows", "sample_spurious", "build_spurious",
           "spurious_context"]

_SIDES = ("a", "b")


@dataclasses.dataclass(frozen=True)
class SpuriousTask:
    """One sampled task: ``class_a`` and ``class_b`` in display order, the shared ``feature``, and the
    rows of the split shown for each class (most activating first)."""

    layer: str
    class_a: int
    class_b: int
    feature: int
    rows_a: tuple[int, ...]
    rows_b: tuple[int, ...]


def shared_feature_pairs(significant: np.ndarray) -> np.ndarray:
    """Class pairs sharing at least one significant feature.

    Parameters
    ----------
    significant : ndarray of bool, shape (n_classes, n_features)
        From :func:`~studykit.tasks.sampling.significant_features`.

    Returns
    -------
    ndarray of int, shape (n_pairs, 2)
        Pairs ``(a, b)`` with ``a < b``, in increasing order.
    """
    counts = significant.astype(np.int64) @ significant.T.astype(np.int64)
    a, b = np.nonzero(np.triu(counts, k=1))
    return np.stack([a, b], axis=1)


def top_activating_rows(activations: np.ndarray, rows: np.ndarray, n: int) -> tuple[int, ...]:
    """The ``n`` rows among ``rows`` with the largest ``activations[rows]``, largest first (ties: lower row)."""
    order = np.lexsort((rows, -activations[rows]))
    return tuple(int(r) for r in rows[order[:n]])


def sample_spurious(coefficients: Mapping[str, np.ndarray], X: np.ndarray, labels: np.ndarray,
                    sampling: SpuriousSampling, rng: np.random.Generator) -> tuple[list[SpuriousTask], Counts]:
    """Draw the study's tasks (module docstring).

    Parameters
    ----------
    coefficients : mapping of layer name to ndarray, shape (n_classes, n_features)
    X : ndarray, shape (n_samples, n_features)
        Raw features of the split's rows (activations).
    labels : ndarray of int, shape (n_samples,)
    sampling : SpuriousSampling
    rng : numpy Generator

    Returns
    -------
    tasks : list of SpuriousTask
        Grouped by layer, in ``sampling.layers`` order.
    counts : Counts

    Raises
    ------
    ValueError
        When no layer has a class pair sharing a feature among classes with enough images.
    """
    n_classes = next(iter(coefficients.values())).shape[0]
    rows_of = [np.flatnonzero(labels == c) for c in range(n_classes)]
    enough = np.array([len(rows) >= sampling.n_images for rows in rows_of])
    tasks, built, notes = [], {}, []
    for name in sampling.layers:
        significant = significant_features(coefficients[name], sampling.weight_threshold)
        pairs = shared_feature_pairs(significant)
        pairs = pairs[enough[pairs].all(axis=1)]
        drawn = pairs[rng.permutation(len(pairs))[:sampling.n_pairs]]
        for a, b in drawn:
            feature = int(rng.choice(np.flatnonzero(significant[a] & significant[b])))
            if rng.random() < 0.5:
                a, b = b, a
            activations = np.asarray(X[:, feature])
            tasks.append(SpuriousTask(name, int(a), int(b), feature,
                                      top_activating_rows(activations, rows_of[a], sampling.n_images),
                                      top_activating_rows(activations, rows_of[b], sampling.n_images)))
        built[f"pairs_{name}"] = len(drawn)
        if len(drawn) < sampling.n_pairs:
            notes.append(f"layer {name}: {len(drawn)} of {sampling.n_pairs} class pairs built: only {len(pairs)} "
                         f"pairs share a feature with weight > {sampling.weight_threshold:.0%} of the largest weight "
                         "in both classes")
    if not enough.all():
        notes.append(f"{int((~enough).sum())} classes left out: fewer than {sampling.n_images} images in the split")
    if not tasks:
        raise ValueError(f"no class pair shares a feature with weight > {sampling.weight_threshold:.0%} of the largest "
                         f"weight in both classes, in any layer ({', '.join(sampling.layers)}) among classes with "
                         f"{sampling.n_images} images; lower sampling.weight_threshold or sampling.n_images")
    requested = {f"pairs_{name}": sampling.n_pairs for name in sampling.layers}
    counts = Counts({**requested, "tasks": sampling.n_pairs * len(sampling.layers)},
                    {**built, "tasks": len(tasks)}, tuple(notes))
    return tasks, counts


def build_spurious(data: StudyData, sampling: SpuriousSampling, rng: np.random.Generator,
                   images: TaskImages) -> tuple[list[PageTask], Counts]:
    """Sample the study on ``data`` and turn each task into page variables and an answer key.

    Variables: ``class_a``, ``class_b`` and ``image_a<j>``, ``image_b<j>`` for j = 1..n_images.
    Key: ``layer``, ``class_a``, ``class_b``, ``feature`` (``docs/batch-folder.md``).
    """
    coefficients = {name: data.coefficients(name) for name in sampling.layers}
    tasks, counts = sample_spurious(coefficients, data.X, data.y, sampling, rng)
    pages = []
    for task in tasks:
        variables = {"class_a": data.classes[task.class_a], "class_b": data.classes[task.class_b]}
        for side, rows in zip(_SIDES, (task.rows_a, task.rows_b)):
            variables.update({f"image_{side}{j}": images.row(row) for j, row in enumerate(rows, start=1)})
        key = {"layer": task.layer, "class_a": variables["class_a"], "class_b": variables["class_b"],
               "feature": str(task.feature)}
        pages.append(PageTask(variables, key))
    return pages, counts


def spurious_context(variables: Mapping[str, str], url: Callable[[str], str]) -> dict:
    """The template's variables: ``groups``, one per class with its ``name`` and image ``srcs``."""
    groups = []
    for side in _SIDES:
        names = sorted((n for n in variables if n.startswith(f"image_{side}")), key=lambda n: int(n[len("image_a"):]))
        groups.append({"name": variables[f"class_{side}"], "srcs": [url(variables[n]) for n in names]})
    return {"groups": groups, "class_a": variables["class_a"], "class_b": variables["class_b"]}
