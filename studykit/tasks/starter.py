"""A commented starter spec (``studykit tasks init STUDY``): every setting at the paper's default.

:func:`starter_spec` writes TOML that :func:`~studykit.tasks.spec.load_spec` reads back into
``TaskSpec(study, Inputs(...))`` with every default: the text is built from the dataclasses' own
defaults, so it cannot drift from them.
"""

from __future__ import annotations

import dataclasses
import json

from studykit.formats.hit import HITSettings
from studykit.formats.studies import study_schema

from .spec import Inputs, PageSettings

__all__ = ["starter_spec", "STARTER_INPUTS"]

#: The placeholder inputs of a starter spec (relative to the spec file's folder).
STARTER_INPUTS = Inputs(store="stores/robust", path="path", feature_images="feature-images")

_SECTIONS = {
    "simulatability": "appendix D.4, Fig. 23",
    "spurious": "appendix E.2.1, Fig. 28",
    "misclassification": "appendix G.1, Fig. 32",
}
#: Comments of the settings (one line each); the classes' docstrings say more.
_COMMENTS = {
    "n_classes": '"we first randomly select 100 ImageNet classes"',
    "tasks_per_class": '"we obtain 10 tasks by repeating the random selection process"',
    "n_features": '"We randomly-select five deep features"',
    "weight_threshold": '"significant weight (>5% of the maximum)"',
    "bands": '"(90, 95), (98, 99) and (99.99, 100)" percentile bands of the target-class probability',
    "layers": "decision layers compared (files layers/<name>.npz of the path folder)",
    "layer": "the decision layer (file layers/<name>.npz of the path folder)",
    "distinct_images": "not in the paper: no image drawn twice from a band for one (class, layer)",
    "n_pairs": '"we randomly-select 1000 class pairs from each model"',
    "n_images": '"we select the three images that maximally activate the deep feature"',
    "offer_both": 'not in the paper: a "Both" option in Questions 4-5 (Fig. 28 has object / surroundings)',
    "offer_unsure": 'not in the paper: a "Not sure" option in Questions 4-5',
    "n_tasks": '"we randomly subsample 1330 of the aforementioned 5673 misclassified inputs"',
    "fp_probability": '"These two features are either (with equal probability)" (f_l, f_p) or (f_l, f_r)',
    "offer_none": 'not in the paper: a "Neither pattern" option in Task 1 (Fig. 32 has the two patterns)',
    "reward": "US dollars per assignment (the paper's)",
    "max_assignments": '"Each task is presented to 5 annotators"',
}


def _value(value) -> str:
    """A TOML literal (strings, numbers, booleans, arrays)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value)


def _table(name: str, instance, skip: tuple[str, ...] = ()) -> list[str]:
    lines = [f"[{name}]"]
    for field in dataclasses.fields(instance):
        value = getattr(instance, field.name)
        if field.name in skip or value is None:
            continue
        comment = _COMMENTS.get(field.name)
        lines.append(f"{field.name} = {_value(value)}" + (f"  # {comment}" if comment else ""))
    return lines + [""]


def starter_spec(study: str) -> str:
    """The starter spec of ``study`` as TOML text (module docstring)."""
    schema = study_schema(study)
    inputs = STARTER_INPUTS if study != "spurious" else dataclasses.replace(STARTER_INPUTS, feature_images=None)
    lines = [f"# studykit spec: the {study} study ({_SECTIONS[study]}), every value at the paper's default.",
             "# Edit [inputs]; relative paths are read relative to this file's folder.",
             "# Build: studykit tasks build THIS.toml --out batch",
             f'study = "{study}"', "seed = 0  # seeds every random draw: the same spec and seed give the same batch",
             "", "[inputs]",
             f'store = "{inputs.store}"  # feature store folder (studykit features)',
             f'path = "{inputs.path}"  # solver path folder with layers/<layer>.npz (studykit solve)']
    if inputs.feature_images is not None:
        lines.append(f'feature_images = "{inputs.feature_images}"  # folder of feature_<i>.png')
    lines += [f'split = "{inputs.split}"  # the split whose images are shown ("test set", as the paper)',
              f'coefficients = "{inputs.coefficients}"  # scale of the weights for the 5% rule and importances', ""]
    lines += _table("sampling", schema.sampling())
    lines += _table("hit", HITSettings.for_study(study))
    lines += _table("page", PageSettings())
    return "\n".join(lines).rstrip("\n") + "\n"
