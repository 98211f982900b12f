"""The simulatability study (appendix D.4, Figure 23): can annotators tell which image a model prefers?

For each target class (drawn at random) and decision layer, ``tasks_per_class`` tasks, each made of:

- ``n_features`` features drawn at random among those the layer uses for the class with weight above
  5% of the class's largest weight, shown with their weights rescaled to 0-100 (the largest shown is
  100), most important first;
- one image drawn from each percentile band of the layer's target-class probability over the split
  (by default (90, 95), (98, 99), (99.99, 100)), the three shown in random order as options A, B, C.

The answer key is the option with the highest target-class probability and whether that image is of
the target class, with each option's probability and true class. The page never names the class.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

import numpy as np

from .assets import TaskImages
from .data import StudyData
from .sampling import LETTERS, Counts, PageTask, band_rows, significant_features
from .spec import SimulatabilitySampling

__all__ = ["SimulatabilityTask", "sample_simulatability", "build_simulatability", "simulatability_context"]


@dataclasses.dataclass(frozen=True)
class SimulatabilityTask:
    """One sampled task.

    Attributes
    ----------
    layer : str
    target : int
        Target class.
    features : tuple of int
        Features shown, most important first.
    importances : tuple of int
        Their weights rescaled to 0-100 (the largest shown is 100).
    rows : tuple of 3 int
        Rows of the split shown as options A, B, C.
    probabilities : tuple of 3 float
        Target-class probability of each option under ``layer``.
    labels : tuple of 3 int
        True class of each option.
    """

    layer: str
    target: int
    features: tuple[int, ...]
    importances: tuple[int, ...]
    rows: tuple[int, int, int]
    probabilities: tuple[float, float, float]
    labels: tuple[int, int, int]

    @property
    def correct(self) -> int:
        """Index of the option with the highest target-class probability."""
        return int(np.argmax(self.probabilities))


def sample_simulatability(coefficients: Mapping[str, np.ndarray], probabilities: Mapping[str, np.ndarray],
                          labels: np.ndarray, sampling: SimulatabilitySampling,
                          rng: np.random.Generator) -> tuple[list[SimulatabilityTask], Counts]:
    """Draw the study's tasks (module docstring).

    Parameters
    ----------
    coefficients : mapping of layer name to ndarray, shape (n_classes, n_features)
        Each layer's weights on the scale compared and shown.
    probabilities : mapping of layer name to ndarray, shape (n_samples, n_classes)
        Each layer's class probabilities of the split's rows.
    labels : ndarray of int, shape (n_samples,)
    sampling : SimulatabilitySampling
    rng : numpy Generator

    Returns
    -------
    tasks : list of SimulatabilityTask
        Grouped by class, then layer in ``sampling.layers`` order.
    counts : Counts

    Raises
    ------
    ValueError
        When no class has ``n_features`` significant features in every layer.
    """
    layers = sampling.layers
    significant = {name: significant_features(coefficients[name], sampling.weight_threshold) for name in layers}
    usable = np.all([significant[name].sum(axis=1) >= sampling.n_features for name in layers], axis=0)
    n_total = len(usable)
    if not usable.any():
        raise ValueError(f"no class has {sampling.n_features} features with weight > "
                         f"{sampling.weight_threshold:.0%} of its largest weight in every layer "
                         f"({', '.join(layers)}); lower sampling.n_features or sampling.weight_threshold")
    candidates = np.flatnonzero(usable)
    chosen = rng.permutation(candidates)[:sampling.n_classes]
    tasks, exposure = [], []
    for target in chosen:
        for name in layers:
            order = np.argsort(probabilities[name][:, target], kind="stable")
            used: list[set[int]] = [set() for _ in sampling.bands]
            drawn = [_task(name, int(target), coefficients[name][target], significant[name][target], order,
                           probabilities[name][:, target], labels, sampling, rng, used)
                     for _ in range(sampling.tasks_per_class)]
            tasks += drawn
            exposure.append(_exposure(name, int(target), order, drawn, sampling))
    per_class = len(layers) * sampling.tasks_per_class
    notes = []
    if len(candidates) < n_total:
        notes.append(f"{n_total - len(candidates)} of {n_total} classes left out: fewer than {sampling.n_features} "
                     f"features with weight > {sampling.weight_threshold:.0%} of the class's largest weight "
                     "in some layer")
    if len(chosen) < sampling.n_classes:
        notes.append(f"{len(chosen)} of {sampling.n_classes} classes built: only {len(candidates)} are eligible")
    counts = Counts({"classes": sampling.n_classes, "tasks": sampling.n_classes * per_class},
                    {"classes": len(chosen), "tasks": len(tasks)}, tuple(notes), tuple(exposure),
                    _exposure_warnings(exposure, sampling))
    return tasks, counts


def _exposure(layer: str, target: int, order: np.ndarray, tasks: list[SimulatabilityTask],
              sampling: SimulatabilitySampling) -> dict:
    """Per (class, layer): distinct images each band offers, the tasks asked, and how often the correct
    image of a task is the correct image of another task of the same (class, layer)."""
    correct = [task.rows[task.correct] for task in tasks]
    return {"layer": layer, "class": target, "tasks": len(tasks),
            "band_images": [int(len(band_rows(order, band))) for band in sampling.bands],
            "distinct_correct": len(set(correct)), "repeated_correct": len(correct) - len(set(correct))}


def _exposure_warnings(exposure: list[dict], sampling: SimulatabilitySampling) -> tuple[str, ...]:
    """One line per band too small for distinct images, and one on repeated correct images."""
    warnings = []
    for j, band in enumerate(sampling.bands):
        small = [e for e in exposure if e["band_images"][j] < e["tasks"]]
        if small:
            fewest = min(e["band_images"][j] for e in small)
            warnings.append(f"band {band}: fewer distinct images than tasks in {len(small)} of {len(exposure)} "
                            f"(class, layer) (as few as {fewest} for {sampling.tasks_per_class} tasks)")
    repeated = [e for e in exposure if e["repeated_correct"]]
    if repeated:
        warnings.append(f"the correct image repeats across tasks in {len(repeated)} of {len(exposure)} (class, layer) "
                        f"({sum(e['repeated_correct'] for e in repeated)} tasks): a worker who did one of them may "
                        "know the answer of the others (use a larger split, wider bands, or distinct_images = true)")
    return tuple(warnings)


def _task(layer: str, target: int, weights: np.ndarray, significant: np.ndarray, order: np.ndarray,
          probability: np.ndarray, labels: np.ndarray, sampling: SimulatabilitySampling,
          rng: np.random.Generator, used: list[set[int]]) -> SimulatabilityTask:
    """One task of (target, layer): features, then one image per band, shuffled. With
    ``sampling.distinct_images``, a band's images already drawn for this (target, layer) (``used``) are
    left out while unused ones remain."""
    features = rng.choice(np.flatnonzero(significant), size=sampling.n_features, replace=False)
    features = features[np.argsort(-weights[features], kind="stable")]
    importances = np.rint(100 * weights[features] / weights[features].max()).astype(int)
    rows: list[int] = []
    for j, band in enumerate(sampling.bands):
        members = np.setdiff1d(band_rows(order, band), rows)
        if len(members) == 0:
            raise ValueError(f"the split has too few rows ({len(order)}) for distinct images in the "
                             f"percentile bands {sampling.bands}")
        if sampling.distinct_images:
            fresh = np.setdiff1d(members, np.fromiter(used[j], dtype=np.int64, count=len(used[j])))
            if len(fresh) == 0:
                used[j].clear()
            else:
                members = fresh
        rows.append(int(rng.choice(members)))
        used[j].add(rows[-1])
    rows = [rows[i] for i in rng.permutation(len(rows))]
    return SimulatabilityTask(layer, target, tuple(int(f) for f in features), tuple(int(v) for v in importances),
                              tuple(rows), tuple(float(probability[r]) for r in rows),
                              tuple(int(labels[r]) for r in rows))


def build_simulatability(data: StudyData, sampling: SimulatabilitySampling, rng: np.random.Generator,
                         images: TaskImages) -> tuple[list[PageTask], Counts]:
    """Sample the study on ``data`` and turn each task into page variables and an answer key.

    Variables: ``pattern_<j>`` and ``importance_<j>`` for j = 1..n_features, ``image_A``, ``image_B``,
    ``image_C``. Key: ``layer``, ``target_class``, ``correct_choice``, ``top_is_target``, ``prob_<X>``,
    ``label_<X>`` (``docs/batch-folder.md``).
    """
    coefficients = {name: data.coefficients(name) for name in sampling.layers}
    probabilities = {name: data.probabilities(name) for name in sampling.layers}
    tasks, counts = sample_simulatability(coefficients, probabilities, data.y, sampling, rng)
    counts = dataclasses.replace(counts, exposure=tuple({**e, "class": data.classes[e["class"]]}
                                                        for e in counts.exposure))
    pages = []
    for task in tasks:
        variables = {}
        for j, (feature, importance) in enumerate(zip(task.features, task.importances), start=1):
            variables[f"pattern_{j}"] = images.feature(feature)
            variables[f"importance_{j}"] = str(importance)
        variables.update({f"image_{letter}": images.row(row) for letter, row in zip(LETTERS, task.rows)})
        key = {"layer": task.layer, "target_class": data.classes[task.target],
               "correct_choice": LETTERS[task.correct],
               "top_is_target": str(task.labels[task.correct] == task.target).lower(),
               **{f"prob_{letter}": repr(p) for letter, p in zip(LETTERS, task.probabilities)},
               **{f"label_{letter}": data.classes[label] for letter, label in zip(LETTERS, task.labels)}}
        pages.append(PageTask(variables, key))
    return pages, counts


def simulatability_context(variables: Mapping[str, str], url: Callable[[str], str]) -> dict:
    """The template's variables: ``patterns`` (src, importance) and ``options`` (letter, src)."""
    n_patterns = sum(1 for name in variables if name.startswith("pattern_"))
    return {"patterns": [{"src": url(variables[f"pattern_{j}"]), "importance": variables[f"importance_{j}"]}
                         for j in range(1, n_patterns + 1)],
            "options": [{"letter": letter, "src": url(variables[f"image_{letter}"])} for letter in LETTERS]}
