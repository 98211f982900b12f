"""The sampling settings of each study (appendix D.4, E.2.1, G.1): the ``[sampling]`` table of a spec.

Every default is the paper's. The study registry (:mod:`studykit.formats.studies`) names each study's
class; ``studykit.tasks`` builds batches from them.
"""

from __future__ import annotations

import dataclasses

from ._checks import check, check_layers, is_fraction, is_int

__all__ = ["SimulatabilitySampling", "SpuriousSampling", "MisclassificationSampling", "PARTS", "EXTRA_PARTS"]

#: The parts Fig. 28 offers in Questions 4 and 5 ("Part of object", "Part of surroundings").
PARTS = ("object", "surroundings")
#: Options a spec may add to Questions 4 and 5 (not in the paper): flag name -> option.
EXTRA_PARTS = {"offer_both": "both", "offer_unsure": "unsure"}


def _check_flag(name: str, value) -> None:
    check(isinstance(value, bool), f"sampling.{name}", value, "true or false")


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
    distinct_images : bool
        Draw each band's image without replacement across the tasks of a (class, layer), as long as the
        band has unused images left (then it starts over), so the correct image of one task is not the
        correct image of another that a worker may also see. The paper repeats "the random selection
        process" per task (with replacement); off by default.
    """

    n_classes: int = 100
    tasks_per_class: int = 10
    n_features: int = 5
    weight_threshold: float = 0.05
    bands: tuple[tuple[float, float], ...] = ((90.0, 95.0), (98.0, 99.0), (99.99, 100.0))
    layers: tuple[str, ...] = ("dense", "sparse")
    distinct_images: bool = False

    def __post_init__(self):
        _check_flag("distinct_images", self.distinct_images)
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

    def answer_options(self) -> dict[str, tuple[str, ...]]:
        """The options the page offers per answer field (none besides the registry's)."""
        return {}


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
    offer_both, offer_unsure : bool
        Add a "Both" / "Not sure" option to Questions 4 and 5. Fig. 28 offers only "Part of object" and
        "Part of surroundings"; off by default.
    """

    n_pairs: int = 1000
    n_images: int = 3
    weight_threshold: float = 0.05
    layers: tuple[str, ...] = ("dense", "sparse")
    offer_both: bool = False
    offer_unsure: bool = False

    def __post_init__(self):
        for name in EXTRA_PARTS:
            _check_flag(name, getattr(self, name))
        for name in ("n_pairs", "n_images"):
            check(is_int(getattr(self, name), 1), f"sampling.{name}", getattr(self, name), "an integer >= 1")
        check(is_fraction(self.weight_threshold), "sampling.weight_threshold", self.weight_threshold, "in [0, 1)")
        check_layers("sampling.layers", self.layers)

    def answer_options(self) -> dict[str, tuple[str, ...]]:
        """The options the page offers per answer field: ``part_a`` and ``part_b``."""
        parts = PARTS + tuple(option for flag, option in EXTRA_PARTS.items() if getattr(self, flag))
        return {"part_a": parts, "part_b": parts}


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
    offer_none : bool
        Add a "Neither pattern matches the image" option to Task 1. Fig. 32 offers only the two patterns
        ("Please select at least one pattern."); off by default.
    """

    n_tasks: int = 1330
    fp_probability: float = 0.5
    layer: str = "sparse"
    offer_none: bool = False

    def __post_init__(self):
        _check_flag("offer_none", self.offer_none)
        check(is_int(self.n_tasks, 1), "sampling.n_tasks", self.n_tasks, "an integer >= 1")
        check(isinstance(self.fp_probability, (int, float)) and not isinstance(self.fp_probability, bool)
               and 0.0 <= self.fp_probability <= 1.0, "sampling.fp_probability", self.fp_probability, "in [0, 1]")
        check_layers("sampling.layer", (self.layer,))

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers the study needs (one)."""
        return (self.layer,)

    def answer_options(self) -> dict[str, tuple[str, ...]]:
        """The options the page offers per answer field: ``match`` (A, B, and ``none`` when offered)."""
        return {"match": ("A", "B", "none") if self.offer_none else ("A", "B")}
