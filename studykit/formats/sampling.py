"""The sampling settings of each study (appendix D.4, E.2.1, G.1): the ``[sampling]`` table of a spec.

Every default is the paper's. The study registry (:mod:`studykit.formats.studies`) names each study's
class; ``studykit.tasks`` builds batches from them.
"""

from __future__ import annotations

import dataclasses

from ._checks import check, check_layers, is_fraction, is_int

__all__ = ["SimulatabilitySampling", "SpuriousSampling", "MisclassificationSampling"]


@dataclasses.dataclass(frozen=True)
class SimulatabilitySampling:
    """Sampling of the simulatability study (appendix D.4).

    Parameters
    ----------
    n_classes : int
        Target classes drawn at random (all when the layers have fewer eligible classes).
    tasks_per_class : int
        Tasks per (target class, layer).
    n_features : int
        Features shown per task, drawn among those with weight > ``weight_threshold`` x the class's
        largest weight; a class with fewer such features in some layer is left out.
    weight_threshold : float
        The 5% rule, as a fraction in [0, 1).
    bands : tuple of 3 (low, high) pairs
        Percentile bands of the target-class probability over the split; one image is drawn from each.
    layers : tuple of str
        Decision layers compared (files ``layers/<name>.npz`` of the path folder).
    """

    n_classes: int = 100
    tasks_per_class: int = 10
    n_features: int = 5
    weight_threshold: float = 0.05
    bands: tuple[tuple[float, float], ...] = ((90.0, 95.0), (98.0, 99.0), (99.99, 100.0))
    layers: tuple[str, ...] = ("dense", "sparse")

    def __post_init__(self):
        for name in ("n_classes", "tasks_per_class", "n_features"):
            check(is_int(getattr(self, name), 1), f"sampling.{name}", getattr(self, name), "an integer >= 1")
        check(is_fraction(self.weight_threshold), "sampling.weight_threshold", self.weight_threshold, "in [0, 1)")
        bands = tuple(tuple(float(v) for v in band) for band in self.bands)
        ok = len(bands) == 3 and all(len(b) == 2 and 0.0 <= b[0] < b[1] <= 100.0 for b in bands) \
            and all(a[1] <= b[0] for a, b in zip(sorted(bands), sorted(bands)[1:]))
        check(ok, "sampling.bands", self.bands,
               "three non-overlapping (low, high) percentile pairs with 0 <= low < high <= 100 (options A, B, C)")
        object.__setattr__(self, "bands", bands)
        check_layers("sampling.layers", self.layers)


@dataclasses.dataclass(frozen=True)
class SpuriousSampling:
    """Sampling of the spurious-correlation study (appendix E.2.1).

    Parameters
    ----------
    n_pairs : int
        Class pairs drawn per layer among those sharing a feature with weight > ``weight_threshold`` x
        the largest weight in both classes (all when fewer).
    n_images : int
        Images shown per class: those of the class that activate the shared feature most.
    weight_threshold : float
        The 5% rule, as a fraction in [0, 1).
    layers : tuple of str
        Decision layers studied (files ``layers/<name>.npz`` of the path folder).
    """

    n_pairs: int = 1000
    n_images: int = 3
    weight_threshold: float = 0.05
    layers: tuple[str, ...] = ("dense", "sparse")

    def __post_init__(self):
        for name in ("n_pairs", "n_images"):
            check(is_int(getattr(self, name), 1), f"sampling.{name}", getattr(self, name), "an integer >= 1")
        check(is_fraction(self.weight_threshold), "sampling.weight_threshold", self.weight_threshold, "in [0, 1)")
        check_layers("sampling.layers", self.layers)


@dataclasses.dataclass(frozen=True)
class MisclassificationSampling:
    """Sampling of the misclassification study (appendix G.1).

    Parameters
    ----------
    n_tasks : int
        Misclassified inputs drawn among those whose prediction flips to the true class when the
        feature f_p is zeroed (all when fewer).
    fp_probability : float
        Probability that a task shows (f_l, f_p); otherwise (f_l, f_r) with a random feature f_r.
    layer : str
        The decision layer (file ``layers/<layer>.npz`` of the path folder).
    """

    n_tasks: int = 1330
    fp_probability: float = 0.5
    layer: str = "sparse"

    def __post_init__(self):
        check(is_int(self.n_tasks, 1), "sampling.n_tasks", self.n_tasks, "an integer >= 1")
        check(isinstance(self.fp_probability, (int, float)) and not isinstance(self.fp_probability, bool)
               and 0.0 <= self.fp_probability <= 1.0, "sampling.fp_probability", self.fp_probability, "in [0, 1]")
        check_layers("sampling.layer", (self.layer,))

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers the study needs (one)."""
        return (self.layer,)
