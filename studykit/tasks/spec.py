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
import tomllib
from pathlib import Path
from typing import Any, Mapping

from studykit.formats._checks import check as _check
from studykit.formats._checks import is_int as _is_int
from studykit.formats.hit import HITSettings
from studykit.formats.sampling import MisclassificationSampling, SimulatabilitySampling, SpuriousSampling
from studykit.formats.studies import STUDIES as _REGISTRY
from studykit.formats.studies import STUDY_NAMES as STUDIES

__all__ = ["STUDIES", "Inputs", "HITSettings", "PageSettings", "SimulatabilitySampling", "SpuriousSampling",
           "MisclassificationSampling", "TaskSpec", "load_spec"]

SPLITS = ("train", "val", "test")
COEFFICIENT_SCALES = ("standardized", "raw")


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


#: Study name -> its sampling settings class (from the study registry).
SAMPLING = {name: entry.sampling for name, entry in _REGISTRY.items()}


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
