"""Study specs: the paper's defaults, TOML loading, validation naming the bad value."""

import dataclasses
import re

import pytest

from studykit.tasks import (HITSettings, Inputs, MisclassificationSampling, PageSettings, SimulatabilitySampling,
                            SpuriousSampling, TaskSpec, load_spec)

INPUTS = Inputs(store="store", path="path", feature_images="features")


def test_defaults_are_the_papers():
    simulatability = SimulatabilitySampling()
    assert (simulatability.n_classes, simulatability.tasks_per_class, simulatability.n_features) == (100, 10, 5)
    assert simulatability.weight_threshold == 0.05
    assert simulatability.bands == ((90, 95), (98, 99), (99.99, 100))
    assert simulatability.layers == ("dense", "sparse")
    spurious = SpuriousSampling()
    assert (spurious.n_pairs, spurious.n_images, spurious.weight_threshold) == (1000, 3, 0.05)
    misclassification = MisclassificationSampling()
    assert (misclassification.n_tasks, misclassification.fp_probability) == (1330, 0.5)
    rewards = {study: TaskSpec(study, INPUTS).hit.reward for study in ("simulatability", "spurious",
                                                                          "misclassification")}
    assert rewards == {"simulatability": "0.04", "spurious": "0.07", "misclassification": "0.03"}
    assert TaskSpec("spurious", INPUTS).hit.max_assignments == 5


def test_load_spec_resolves_paths_and_fills_defaults(tmp_path):
    (tmp_path / "spec.toml").write_text('study = "simulatability"\nseed = 7\n'
                                        '[inputs]\nstore = "s"\npath = "runs/p"\nfeature_images = "fi"\n'
                                        '[sampling]\nn_features = 3\nbands = [[80, 90], [95, 99], [99, 100]]\n'
                                        '[hit]\nreward = 0.05\n[page]\ninstitution = "Example University"\n')
    spec = load_spec(tmp_path / "spec.toml")
    assert spec.seed == 7 and spec.inputs.path == str(tmp_path / "runs" / "p")
    assert spec.sampling.n_features == 3 and spec.sampling.n_classes == 100
    assert spec.sampling.bands == ((80, 90), (95, 99), (99, 100))
    assert spec.hit.reward == "0.05" and spec.hit.title == HITSettings.for_study("simulatability").title
    assert "conducted by Example University." in spec.page.consent_text
    assert TaskSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("text, message", [
    ('study = "nope"', "study='nope'"),
    ('study = "spurious"\ncolor = 1\n[inputs]\nstore = "s"\npath = "p"', "unknown key(s) color"),
    ('study = "spurious"\n[inputs]\nstore = "s"\npath = "p"\n[sampling]\nn_classes = 3', "unknown key(s) n_classes"),
    ('study = "spurious"\n[inputs]\nstore = "s"', "needs store"),
    ('study = "spurious"\n[inputs]\nstore = "s"\npath = "p"\n[sampling]\nn_pairs = 0', "sampling.n_pairs=0"),
    ('study = "spurious"\n[inputs]\nstore = "s"\npath = "p"\n[hit]\nreward = 0.045', "hit.reward=0.045"),
    ('study = "spurious"\n[inputs]\nstore = "s"\npath = "p"\nsplit = "dev"', "inputs.split='dev'"),
    ('study = "simulatability"\n[inputs]\nstore = "s"\npath = "p"\nfeature_images = "f"\n'
     '[sampling]\nbands = [[90, 99], [95, 100], [1, 2]]', "sampling.bands"),
    ('study = "misclassification"\n[inputs]\nstore = "s"\npath = "p"\nfeature_images = "f"\n'
     '[sampling]\nfp_probability = 1.5', "sampling.fp_probability=1.5"),
    ('study = "spurious"\nseed = -1\n[inputs]\nstore = "s"\npath = "p"', "seed=-1"),
    ('study = [', "not valid TOML"),
])
def test_invalid_specs_name_the_bad_value(tmp_path, text, message):
    (tmp_path / "spec.toml").write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_spec(tmp_path / "spec.toml")


def test_missing_spec_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such spec file"):
        load_spec(tmp_path / "absent.toml")


def test_consent_names_no_lab_by_default():
    text = PageSettings().consent_text
    assert "conducted by" not in text and "MIT" not in text and "Madry" not in text
    assert "at least 18 years of age" in text
    assert PageSettings(consent="Our own words.").consent_text == "Our own words."


def test_specs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SpuriousSampling().n_pairs = 3
