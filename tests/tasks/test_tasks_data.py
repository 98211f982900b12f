"""Loading a study's data: layers and store agree, standardized coefficients use the path's scale."""

import shutil

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from studykit.solver.results import PathResult
from studykit.tasks import Inputs
from studykit.tasks.data import load_study_data

from tasks_inputs_factory import CLASSES, N_FEATURES


def _inputs(folders, path=None, coefficients="raw"):
    return Inputs(store=str(folders["store"]), path=str(path or folders["path"]), coefficients=coefficients)


def test_raw_and_standardized_coefficients(study_inputs, tmp_path):
    path = tmp_path / "path"
    shutil.copytree(study_inputs["path"], path)
    with pytest.raises(FileNotFoundError, match='coefficients = "raw"'):
        load_study_data(_inputs(study_inputs, path, "standardized"), ("dense",))
    scale = np.linspace(0.5, 2.0, N_FEATURES)
    k = len(CLASSES)
    PathResult(np.array([1.0]), [sp.csr_matrix((k, N_FEATURES))], np.zeros((1, k)), np.zeros(N_FEATURES), scale,
               pd.DataFrame({"alpha": [1.0]}), {}, CLASSES).save(path)
    raw = load_study_data(_inputs(study_inputs, path), ("dense",))
    standardized = load_study_data(_inputs(study_inputs, path, "standardized"), ("dense",))
    np.testing.assert_allclose(standardized.coefficients("dense"), raw.coefficients("dense") * scale)
    assert raw.classes == CLASSES and raw.X.shape == (len(raw.y), N_FEATURES)
    assert raw.image(0).size == (32, 32)


def test_missing_layer_is_named(study_inputs):
    with pytest.raises(FileNotFoundError, match="layers/robust.npz"):
        load_study_data(_inputs(study_inputs), ("robust",))
