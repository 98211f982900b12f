"""The answer never reaches the page, by construction (issue 20).

Two batches are built from inputs that differ only in what annotators must not see: the model's
probabilities (a strictly increasing transform, so every sampled row stays the same), the true
labels, the class names (for the studies whose pages never name a class) and the layer names.
Every file an annotator or the requester UI gets (``hits/*.html``, ``hits/*.xml``,
``requester_ui/*``) and the image assets must be byte-identical, while the answer keys differ, so a
page showing any function of the hidden data (even rounded: ``title="0.42"``) fails here.
"""

import dataclasses
import shutil

import numpy as np
import pytest

import studykit.tasks.batch as batch_module
from studykit.tasks import build_batch
from studykit.tasks.data import StudyData

from tasks_inputs_factory import small_spec

SECRET_CLASSES = ("Zebra", "Yak", "Xerus", "Walrus")

# Hidden data per study: (transform the probabilities, relabel y, rename classes)
HIDDEN = {"simulatability": (True, True, True),
          "misclassification": (False, False, True),  # its sampling depends on labels and predictions
          "spurious": (False, False, False)}           # its pages name the classes; the layer stays hidden


def _visible_files(batch):
    files = sorted(p for folder in ("hits", "requester_ui", "assets") for p in (batch / folder).rglob("*") if p.is_file())
    return {p.relative_to(batch).as_posix(): p.read_bytes() for p in files}


def _build(study, folders, out, monkeypatch, *, hidden):
    transform, relabel, rename = HIDDEN[study] if hidden else (False, False, False)
    real_load, real_proba = batch_module.load_study_data, StudyData.probabilities

    def load(inputs, layer_names):
        data = real_load(inputs, layer_names)
        k = len(data.classes)
        return dataclasses.replace(data, y=(data.y + 1) % k if relabel else data.y,
                                   classes=SECRET_CLASSES[:k] if rename else data.classes)

    with monkeypatch.context() as patch:
        patch.setattr(batch_module, "load_study_data", load)
        if transform:  # strictly increasing in each column: the same rows in every percentile band
            patch.setattr(StudyData, "probabilities", lambda self, layer: real_proba(self, layer) ** 3)
        return build_batch(small_spec(study, folders), out)


def _renamed_layers(folders, root):
    """A copy of the path folder whose layers have other names (the key's ``layer`` column)."""
    path = root / "path"
    shutil.copytree(folders["path"], path)
    for name in ("dense", "sparse"):
        (path / "layers" / f"{name}.npz").rename(path / "layers" / f"hidden_{name}_layer.npz")
    return {**folders, "path": path}


@pytest.mark.parametrize("study", ["simulatability", "misclassification", "spurious"])
def test_pages_do_not_depend_on_hidden_data(study, study_inputs, tmp_path, monkeypatch):
    plain = _build(study, study_inputs, tmp_path / "plain", monkeypatch, hidden=False)
    plain_key = (plain / "answer_key.csv").read_bytes()
    if study == "spurious":
        names = {"layers": ("hidden_dense_layer", "hidden_sparse_layer")}
        secret = build_batch(small_spec(study, _renamed_layers(study_inputs, tmp_path), **names), tmp_path / "secret")
    else:
        secret = _build(study, study_inputs, tmp_path / "secret", monkeypatch, hidden=True)
    assert (secret / "answer_key.csv").read_bytes() != plain_key, "the hidden data did not change the key"
    assert (secret / "tasks.csv").read_bytes() == (plain / "tasks.csv").read_bytes()
    ours, theirs = _visible_files(plain), _visible_files(secret)
    assert ours.keys() == theirs.keys() and any(name.endswith(".xml") for name in ours)
    differ = [name for name in ours if ours[name] != theirs[name]]
    assert not differ, f"{study}: hidden data changed what annotators get: {differ[:5]}"
