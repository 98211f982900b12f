"""What a batch is built from: the study spec, a frozen dataclass loaded from TOML.

A spec file names the study, the seed, the inputs (feature store, solver path folder, feature images),
the sampling settings of the study, the HIT settings and the page settings. Every default is the
paper's (appendix D.4, E.2.1, G.1); every number can be changed::

    study = "simulatability"
    seed = 0

    [inputs]
    store = "stores/robust"            # feature store folder (studykit features)
    path = "path"                      # solver path folder, holding layers/<layer>.npz (studykit solve)
    feature_images = "feature-images"  # folder of feature_<i>.png (not needed by the spurious study)

    [sampling]
    n_classes = 100

    [hit]
    reward = "0.04"

    [page]
    institution = "Example University"

Relative paths are read relative to the spec file's folder. Every class validates itself and raises
``ValueError`` naming the bad value.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

__all__ = ["STUDIES", "Inputs", "HITSettings", "PageSettings", "SimulatabilitySampling", "SpuriousSampling",
           "MisclassificationSampling", "TaskSpec", "load_spec"]

#: The three studies of the paper, in the order of the appendix.
STUDIES = ("simulatability", "spurious", "misclassification")
SPLITS = ("train", "val", "test")
COEFFICIENT_SCALES = ("standardized", "raw")
_LAYER_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_REWARD = re.compile(r"^\d+\.\d{2}$")


def _check(condition: bool, name: str, value: Any, expected: str) -> None:
    if not condition:
        raise ValueError(f"{name}={value!r} is invalid: expected {expected}")


def _is_int(value: Any, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _is_fraction(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and 0.0 <= value < 1.0


def _check_layers(name: str, layers: tuple[str, ...]) -> None:
    _check(len(layers) >= 1 and len(set(layers)) == len(layers)
           and all(isinstance(n, str) and _LAYER_NAME.match(n) for n in layers),
           name, layers, "distinct layer names made of letters, digits, '_' and '-' (files layers/<name>.npz)")


@dataclasses.dataclass(frozen=True)
class Inputs:
    """Where the data of a batch comes from.

    Parameters
    ----------
    store : str
        Feature store folder (``studykit features``): features, labels, class names and the images of
        the rows of ``split``.
    path : str
        Solver path folder (``studykit solve path`` then ``select``): the decision layers
        ``layers/<layer>.npz`` and, for ``coefficients="standardized"``, the standardization in ``path.npz``.
    feature_images : str, optional
        Folder of ``feature_<i>.png`` files, one per deep feature (feature visualizations, LIME
        superpixels, ...); the simulatability and misclassification studies need one.
    split : str
        The store's split whose images are shown (``test``, as in the paper).
    coefficients : str
        Scale of the weights compared by the 5% rules and shown as importances: ``standardized``
        (weight x the training standard deviation of the feature: the scale the sparse layer was fitted
        on, as in the paper) or ``raw`` (the layer's weights on raw features).
    """

    store: str
    path: str
    feature_images: str | None = None
    split: str = "test"
    coefficients: str = "standardized"

    def __post_init__(self):
        for name in ("store", "path"):
            value = getattr(self, name)
            _check(isinstance(value, str) and bool(value.strip()), f"inputs.{name}", value, "a folder path")
        _check(self.feature_images is None or (isinstance(self.feature_images, str) and self.feature_images.strip()),
               "inputs.feature_images", self.feature_images, "a folder path or nothing")
        _check(self.split in SPLITS, "inputs.split", self.split, f"one of {list(SPLITS)}")
        _check(self.coefficients in COEFFICIENT_SCALES, "inputs.coefficients", self.coefficients,
               f"one of {list(COEFFICIENT_SCALES)}")

    def resolved(self, base: Path) -> "Inputs":
        """The inputs with relative folder paths made relative to ``base``."""
        def resolve(value: str | None) -> str | None:
            return None if value is None else str(base / Path(value).expanduser())
        return dataclasses.replace(self, store=resolve(self.store), path=resolve(self.path),
                                   feature_images=resolve(self.feature_images))


_HIT_DEFAULTS = {
    "simulatability": ("Which image matches the patterns best?",
                       "Look at a few patterns an AI uses and pick the image that matches them best.", "0.04"),
    "spurious": ("Do you see a common pattern in these images?",
                 "Look at six images of two kinds of objects and describe the pattern they share, if any.", "0.07"),
    "misclassification": ("Identify the patterns that match the given image",
                          "Look at an image and two patterns and say which patterns match the image.", "0.03"),
}


@dataclasses.dataclass(frozen=True)
class HITSettings:
    """The HIT type and per-HIT settings (the manifest's ``hit`` block); defaults from :meth:`for_study`.

    Parameters
    ----------
    title, description, keywords : str
        Shown to workers (at most 128, 2,000 and 1,000 characters).
    reward : str
        US dollars per assignment with two decimals, like ``"0.04"`` (a number such as ``0.04`` is accepted).
    max_assignments : int
        Distinct workers per HIT (the paper: 5).
    assignment_duration_seconds, lifetime_seconds, auto_approval_delay_seconds : int
        Time for one assignment, time the HIT stays listed, time until MTurk approves on its own.
    """

    title: str
    description: str
    reward: str
    keywords: str = "images, survey"
    max_assignments: int = 5
    assignment_duration_seconds: int = 1800
    lifetime_seconds: int = 604800
    auto_approval_delay_seconds: int = 259200

    def __post_init__(self):
        for name, limit in (("title", 128), ("description", 2000), ("keywords", 1000)):
            value = getattr(self, name)
            _check(isinstance(value, str) and (bool(value.strip()) or name == "keywords") and len(value) <= limit,
                   f"hit.{name}", value, f"a non-empty text of at most {limit} characters")
        object.__setattr__(self, "reward", _reward(self.reward))
        _check(_is_int(self.max_assignments, 1), "hit.max_assignments", self.max_assignments, "an integer >= 1")
        for name, low in (("assignment_duration_seconds", 30), ("lifetime_seconds", 30),
                          ("auto_approval_delay_seconds", 0)):
            _check(_is_int(getattr(self, name), low), f"hit.{name}", getattr(self, name), f"an integer >= {low}")

    @classmethod
    def for_study(cls, study: str, **changes) -> "HITSettings":
        """The paper's settings of ``study`` (title, description, reward) with ``changes`` applied."""
        title, description, reward = _HIT_DEFAULTS[study]
        return cls(**{"title": title, "description": description, "reward": reward, **changes})


def _reward(value: Any) -> str:
    """``0.04``, ``"0.04"`` -> ``"0.04"``; anything else with more than two decimals or below $0.01 raises."""
    try:
        amount = Decimal(str(value)) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
    except InvalidOperation:
        amount = None
    text = None if amount is None or not amount.is_finite() else f"{amount:.2f}"
    _check(text is not None and Decimal(text) == amount and Decimal(text) >= Decimal("0.01") and _REWARD.match(text),
           "hit.reward", value, 'US dollars with at most two decimals, at least 0.01 (like "0.04")')
    return text


@dataclasses.dataclass(frozen=True)
class PageSettings:
    """What every page shows besides the task.

    Parameters
    ----------
    institution : str
        Who conducts the research, named in the consent paragraph ("... conducted by <institution>");
        empty to name nobody.
    consent : str, optional
        The whole consent paragraph, replacing the default built from ``institution``.
    image_size : int
        Largest side, in pixels, of the dataset images copied into the batch (larger ones are shrunk).
    frame_height : int
        The HTMLQuestion's ``FrameHeight`` in pixels; 0 lets MTurk fit the frame to the worker's window.
    """

    institution: str = ""
    consent: str | None = None
    image_size: int = 224
    frame_height: int = 0

    def __post_init__(self):
        _check(isinstance(self.institution, str), "page.institution", self.institution, "a text")
        _check(self.consent is None or (isinstance(self.consent, str) and self.consent.strip()),
               "page.consent", self.consent, "a non-empty text or nothing")
        _check(_is_int(self.image_size, 16), "page.image_size", self.image_size, "an integer >= 16")
        _check(_is_int(self.frame_height, 0), "page.frame_height", self.frame_height, "an integer >= 0")

    @property
    def consent_text(self) -> str:
        """The consent paragraph shown at the top of every page."""
        if self.consent is not None:
            return self.consent
        by = f" conducted by {self.institution.strip()}" if self.institution.strip() else ""
        return (f"This HIT is part of a scientific research project{by}. Your decision to complete this HIT is "
                "voluntary. There is no way for us to identify you. The only information we will have, in "
                "addition to your responses, is the time at which you completed the survey. The results of the "
                "research may be presented at scientific meetings or published in scientific journals. Clicking "
                "on the \"Submit\" button at the bottom of this page indicates that you are at least 18 years "
                "of age and agree to complete this HIT voluntarily.")


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
            _check(_is_int(getattr(self, name), 1), f"sampling.{name}", getattr(self, name), "an integer >= 1")
        _check(_is_fraction(self.weight_threshold), "sampling.weight_threshold", self.weight_threshold, "in [0, 1)")
        bands = tuple(tuple(float(v) for v in band) for band in self.bands)
        ok = len(bands) == 3 and all(len(b) == 2 and 0.0 <= b[0] < b[1] <= 100.0 for b in bands) \
            and all(a[1] <= b[0] for a, b in zip(sorted(bands), sorted(bands)[1:]))
        _check(ok, "sampling.bands", self.bands,
               "three non-overlapping (low, high) percentile pairs with 0 <= low < high <= 100 (options A, B, C)")
        object.__setattr__(self, "bands", bands)
        _check_layers("sampling.layers", self.layers)


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
            _check(_is_int(getattr(self, name), 1), f"sampling.{name}", getattr(self, name), "an integer >= 1")
        _check(_is_fraction(self.weight_threshold), "sampling.weight_threshold", self.weight_threshold, "in [0, 1)")
        _check_layers("sampling.layers", self.layers)


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
        _check(_is_int(self.n_tasks, 1), "sampling.n_tasks", self.n_tasks, "an integer >= 1")
        _check(isinstance(self.fp_probability, (int, float)) and not isinstance(self.fp_probability, bool)
               and 0.0 <= self.fp_probability <= 1.0, "sampling.fp_probability", self.fp_probability, "in [0, 1]")
        _check_layers("sampling.layer", (self.layer,))

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers the study needs (one)."""
        return (self.layer,)


SAMPLING = {"simulatability": SimulatabilitySampling, "spurious": SpuriousSampling,
            "misclassification": MisclassificationSampling}


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """Everything a batch is built from.

    Parameters
    ----------
    study : str
        One of :data:`STUDIES`.
    inputs : Inputs
    sampling : SimulatabilitySampling, SpuriousSampling or MisclassificationSampling
        The study's own settings (default: the paper's).
    hit : HITSettings
        Default: :meth:`HITSettings.for_study`.
    page : PageSettings
    seed : int
        Seeds every random draw: the same spec and seed give a byte-identical batch.
    """

    study: str
    inputs: Inputs
    sampling: SimulatabilitySampling | SpuriousSampling | MisclassificationSampling | None = None
    hit: HITSettings | None = None
    page: PageSettings = PageSettings()
    seed: int = 0

    def __post_init__(self):
        _check(self.study in STUDIES, "study", self.study, f"one of {list(STUDIES)}")
        _check(_is_int(self.seed, 0), "seed", self.seed, "an integer >= 0")
        if self.sampling is None:
            object.__setattr__(self, "sampling", SAMPLING[self.study]())
        _check(isinstance(self.sampling, SAMPLING[self.study]), "sampling", type(self.sampling).__name__,
               f"{SAMPLING[self.study].__name__} for the {self.study} study")
        if self.hit is None:
            object.__setattr__(self, "hit", HITSettings.for_study(self.study))

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON-ready data (every field, defaults filled)."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base: Path | None = None) -> "TaskSpec":
        """Build a spec from parsed TOML (or :meth:`to_dict` output).

        Parameters
        ----------
        data : mapping
            Keys ``study``, ``seed``, ``inputs``, ``sampling``, ``hit``, ``page``.
        base : Path, optional
            Folder that relative input paths are relative to.
        """
        _known("spec", data, ("study", "seed", "inputs", "sampling", "hit", "page"))
        study = data.get("study")
        _check(study in STUDIES, "study", study, f"one of {list(STUDIES)}")
        sections = {name: dict(data.get(name) or {}) for name in ("inputs", "sampling", "hit", "page")}
        for name, kind in (("inputs", Inputs), ("sampling", SAMPLING[study]), ("hit", HITSettings),
                           ("page", PageSettings)):
            _known(f"[{name}]", sections[name], [f.name for f in dataclasses.fields(kind)])
        if "store" not in sections["inputs"] or "path" not in sections["inputs"]:
            raise ValueError("[inputs] needs store (feature store folder) and path (solver path folder)")
        inputs = Inputs(**sections["inputs"])
        return cls(study=study, inputs=inputs.resolved(base) if base is not None else inputs,
                   sampling=SAMPLING[study](**_tuples(sections["sampling"])),
                   hit=HITSettings.for_study(study, **sections["hit"]), page=PageSettings(**sections["page"]),
                   seed=data.get("seed", 0))


def load_spec(path: str | Path) -> TaskSpec:
    """Read a TOML spec file; relative input paths are taken relative to its folder.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When it is not TOML, has unknown keys, or a value is invalid (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such spec file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    return TaskSpec.from_dict(data, base=path.resolve().parent)


def _known(where: str, data: Mapping[str, Any], names) -> None:
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(names)})")


def _tuples(values: dict[str, Any]) -> dict[str, Any]:
    """TOML arrays as (nested) tuples, so the frozen dataclasses stay hashable."""
    def convert(value):
        return tuple(convert(v) for v in value) if isinstance(value, list) else value
    return {key: convert(value) for key, value in values.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
