"""The misclassification study (appendix G.1, Figure 32): do annotators see why a model errs?

For a misclassified row x with true class l and predicted class p, each feature's score is

    gamma_i = W[p, i] f_i(x) - W[l, i] f_i(x)

(W the decision layer's weights on raw features): how much the feature pushes towards p rather than l.
f_p is the feature with the highest score, f_l the one with the lowest. A row is eligible when zeroing
f_p alone flips the prediction to l. ``n_tasks`` eligible rows are drawn; each task shows the image
and, with probability ``fp_probability``, the pair (f_l, f_p) (condition ``fp_fl``), otherwise
(f_l, f_r) with f_r a random feature other than f_l and f_p (condition ``fl_fr``, the control). The
two features are shown in random order as patterns A and B; the key maps the roles to the options.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

import numpy as np

from .assets import TaskImages
from .data import StudyData
from .sampling import LETTERS, Counts, PageTask
from .spec import MisclassificationSampling

__all__ = ["MisclassificationTask", "problematic_features", "sample_misclassification", "build_misclassification",
           "misclassification_context"]

_CHUNK = 4096


@dataclasses.dataclass(frozen=True)
class MisclassificationTask:
    """One sampled task: the ``row`` shown, its ``true`` and ``predicted`` classes, the ``condition``
    (``fp_fl`` or ``fl_fr``), and ``roles``: the role (``fp``, ``fl``, ``fr``) -> feature of the two
    features shown, whose display order is ``shown`` (roles of options A and B)."""

    row: int
    true: int
    predicted: int
    condition: str
    roles: dict[str, int]
    shown: tuple[str, str]


def problematic_features(weight: np.ndarray, bias: np.ndarray, X: np.ndarray,
                         labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """f_p and f_l of every misclassified row whose prediction flips to the true class when f_p is zeroed.

    Parameters
    ----------
    weight : ndarray, shape (n_classes, n_features)
    bias : ndarray, shape (n_classes,)
        The decision layer, on raw features.
    X : ndarray, shape (n_samples, n_features)
    labels : ndarray of int, shape (n_samples,)

    Returns
    -------
    rows, predicted, f_p, f_l : ndarrays of int, shape (n_eligible,)
        The eligible rows (increasing), their predicted classes, and their features f_p and f_l.
    """
    weight = np.asarray(weight, dtype=np.float64)
    found = []
    for start in range(0, len(X), _CHUNK):
        x = np.asarray(X[start:start + _CHUNK], dtype=np.float64)
        y = np.asarray(labels[start:start + _CHUNK])
        scores = x @ weight.T + bias
        predicted = scores.argmax(axis=1)
        wrong = np.flatnonzero(predicted != y)
        x, y, p, scores = x[wrong], y[wrong], predicted[wrong], scores[wrong]
        gamma = (weight[p] - weight[y]) * x
        f_p, f_l = gamma.argmax(axis=1), gamma.argmin(axis=1)
        index = np.arange(len(wrong))
        flipped = scores - weight[:, f_p].T * x[index, f_p][:, None]
        keep = (flipped.argmax(axis=1) == y) & (f_p != f_l)
        found.append((wrong[keep] + start, p[keep], f_p[keep], f_l[keep]))
    if not found:
        return tuple(np.empty(0, dtype=np.int64) for _ in range(4))
    return tuple(np.concatenate(parts).astype(np.int64) for parts in zip(*found))


def sample_misclassification(weight: np.ndarray, bias: np.ndarray, X: np.ndarray, labels: np.ndarray,
                             sampling: MisclassificationSampling,
                             rng: np.random.Generator) -> tuple[list[MisclassificationTask], Counts]:
    """Draw the study's tasks (module docstring); arguments as :func:`problematic_features`.

    Raises
    ------
    ValueError
        When no misclassified row flips to its true class with f_p zeroed, or the layer has fewer than
        three features (f_r must differ from f_l and f_p).
    """
    n_features = weight.shape[1]
    if n_features < 3:
        raise ValueError(f"the layer has {n_features} features; the control f_r needs at least 3")
    rows, predicted, f_p, f_l = problematic_features(weight, bias, X, labels)
    if len(rows) == 0:
        raise ValueError(f"layer {sampling.layer!r}: no misclassified row of the split flips to its true class "
                         "when its top feature f_p is zeroed")
    drawn = rng.permutation(len(rows))[:sampling.n_tasks]
    tasks = []
    for i in drawn:
        roles = {"fl": int(f_l[i]), "fp": int(f_p[i])}
        if rng.random() >= sampling.fp_probability:
            others = np.setdiff1d(np.arange(n_features), [f_l[i], f_p[i]])
            roles = {"fl": roles["fl"], "fr": int(rng.choice(others))}
        shown = tuple(str(role) for role in rng.permutation(list(roles)))
        condition = "fp_fl" if "fp" in roles else "fl_fr"
        tasks.append(MisclassificationTask(int(rows[i]), int(labels[rows[i]]), int(predicted[i]), condition,
                                           roles, shown))
    notes = () if len(drawn) == sampling.n_tasks else (
        f"{len(drawn)} of {sampling.n_tasks} tasks built: only {len(rows)} misclassified rows flip to their true "
        "class when f_p is zeroed",)
    return tasks, Counts({"tasks": sampling.n_tasks}, {"tasks": len(tasks)}, notes)


def build_misclassification(data: StudyData, sampling: MisclassificationSampling, rng: np.random.Generator,
                            images: TaskImages) -> tuple[list[PageTask], Counts]:
    """Sample the study on ``data`` and turn each task into page variables and an answer key.

    Variables: ``image``, ``pattern_A``, ``pattern_B``. Key: ``layer``, ``condition``, ``true_class``,
    ``predicted_class``, ``option_fp``, ``option_fl``, ``option_fr`` (``docs/batch-folder.md``).
    """
    layer = data.layers[sampling.layer]
    tasks, counts = sample_misclassification(layer.weight, layer.bias, data.X, data.y, sampling, rng)
    pages = []
    for task in tasks:
        variables = {"image": images.row(task.row),
                     **{f"pattern_{letter}": images.feature(task.roles[role])
                        for letter, role in zip(LETTERS, task.shown)}}
        options = {role: letter for letter, role in zip(LETTERS, task.shown)}
        key = {"layer": sampling.layer, "condition": task.condition, "true_class": data.classes[task.true],
               "predicted_class": data.classes[task.predicted],
               **{f"option_{role}": options.get(role, "") for role in ("fp", "fl", "fr")}}
        pages.append(PageTask(variables, key))
    return pages, counts


def misclassification_context(variables: Mapping[str, str], url: Callable[[str], str]) -> dict:
    """The template's variables: the ``image`` src and ``patterns`` (letter, src) of options A and B."""
    return {"image": url(variables["image"]),
            "patterns": [{"letter": letter, "src": url(variables[f"pattern_{letter}"])} for letter in LETTERS[:2]]}
