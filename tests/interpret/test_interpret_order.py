"""Feature ordering figure (A.3, Fig. 12) on a hand-made regularization path."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from studykit.interpret.images import save_png
from studykit.interpret.order import plot_feature_order, write_feature_order
from studykit.solver.results import PathResult

# Class 0: feature 2 enters at T=1, features 3 and 0 at T=2 (3 first: larger coefficient), feature 1 never.
# Class 1: only feature 1, at T=3, with a negative coefficient.
COEFS = [
    [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]],
    [[0.0, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0]],
    [[-0.3, 0.0, 0.6, 0.8], [0.0, 0.0, 0.0, 0.0]],
    [[-0.4, 0.0, 0.7, 0.9], [0.0, -0.2, 0.0, 0.0]],
]


@pytest.fixture
def result():
    return PathResult(np.array([4.0, 3.0, 2.0, 1.0]), [sp.csr_matrix(np.array(c)) for c in COEFS],
                      np.zeros((4, 2)), np.zeros(4), np.ones(4), pd.DataFrame(), {}, ("cat", "dog"))


@pytest.fixture
def pictures(tmp_path):
    """Feature j is drawn as a flat image of gray level 40 * (j + 1)."""
    def picture(feature):
        return save_png(np.full((4, 4, 1), 40 * (feature + 1) / 255), tmp_path / f"{feature}.png", min_side=4)
    return {"visualization": picture, "top image": picture}


def _picture_axes(figure):
    return [ax for sub in figure.subfigs for ax in sub.axes if ax.images]


def test_pictures_follow_the_entry_order(result, pictures):
    figure = plot_feature_order(result, "cat", pictures, n_features=5)
    axes = _picture_axes(figure)
    assert len(axes) == 2 * 3
    titles = [ax.get_title() for ax in axes if ax.get_title()]
    assert titles == ["T=1\nfeature 2 (+)", "T=2\nfeature 3 (+)", "T=2\nfeature 0 (-)"]
    levels = [int(ax.images[0].get_array()[0, 0, 0]) for ax in axes]
    assert levels == [120, 160, 40] * 2
    assert [ax.get_ylabel() for ax in axes if ax.get_ylabel()] == ["visualization", "top image"]


def test_n_features_limits_the_columns(result, pictures):
    axes = _picture_axes(plot_feature_order(result, 0, pictures, n_features=1))
    assert [ax.get_title() for ax in axes] == ["T=1\nfeature 2 (+)", ""]


def test_write_feature_order_writes_table_and_figures(result, pictures, tmp_path):
    written = write_feature_order(result, tmp_path / "out", pictures, n_features=2)
    assert sorted(written) == ["feature_order.csv", "order_0.png", "order_1.png"]
    table = pd.read_csv(written["feature_order.csv"])
    assert table[table["class"] == "cat"]["feature"].tolist() == [2, 3, 0]
    assert table[table["class"] == "dog"][["feature", "entry_index", "final_sign"]].values.tolist() == [[1, 3, -1]]
    assert written["order_1.png"].stat().st_size > 0


def test_bad_requests_raise(result, pictures):
    with pytest.raises(ValueError, match="n_features=0"):
        plot_feature_order(result, 0, pictures, n_features=0)
    with pytest.raises(ValueError, match="pictures"):
        plot_feature_order(result, 0, {})
    with pytest.raises(ValueError, match="'cow'"):
        plot_feature_order(result, "cow", pictures)
