"""LIME for a deep feature: the superpixels it finds are where the feature looks."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from studykit.features import FeatureStore, write_meta, write_split
from studykit.interpret.lime_features import OUTLINE, LimeConfig, explain_feature, prototypes

REGION = (slice(6, 12), slice(6, 18))   # rows 6-11, columns 6-17: two 6x6 blocks of the image below


class RegionMean(nn.Module):
    """Feature 0: mean intensity inside REGION; feature 1: mean intensity of the whole image."""

    def forward(self, images):
        return torch.stack([images[:, :, REGION[0], REGION[1]].mean((1, 2, 3)), images.mean((1, 2, 3))], 1)


def blocks(seed=0, channels=1):
    """A 24 x 24 checkerboard of 4 x 4 flat blocks (6 x 6 pixels each), dark and light, jittered."""
    rng = np.random.default_rng(seed)
    checker = (np.add.outer(np.arange(4), np.arange(4)) % 2)[:, :, None]
    levels = 0.3 + 0.5 * checker + rng.uniform(0.0, 0.15, size=(4, 4, channels))
    return np.kron(levels, np.ones((6, 6, 1)))


@pytest.mark.parametrize("channels", [1, 3])
def test_top_superpixels_cover_the_region_the_feature_reads(channels):
    config = LimeConfig(num_samples=300, n_segments=16, hide_color=0.0, n_highlight=2)
    explanation = explain_feature(RegionMean(), blocks(channels=channels), 0, config, center=0.5, scale=0.1)
    region = np.zeros((24, 24), bool)
    region[REGION] = True
    top = explanation.mask(2)
    assert (top & region).sum() >= 0.9 * region.sum()
    assert (top & ~region).sum() <= 0.1 * region.sum()
    outside = np.unique(explanation.segments[~region])
    assert np.abs(explanation.weights[outside]).max() < 0.1 * explanation.weights.max()
    assert explanation.score > 0.9
    image = blocks(channels=channels)
    assert explanation.activation == pytest.approx((image[REGION].mean() - 0.5) / 0.1, rel=1e-5)


def test_render_keeps_highlighted_pixels_and_fades_the_rest(tmp_path):
    config = LimeConfig(num_samples=200, n_segments=16, hide_color=0.0)
    explanation = explain_feature(RegionMean(), blocks(), 0, config)
    rgb, original = explanation.render(2, min_side=0), np.repeat(blocks(), 3, 2)
    keep = explanation.mask(2)
    assert rgb.shape == (24, 24, 3) and explanation.render(2, min_side=100).shape == (120, 120, 3)
    unchanged = np.all(rgb == original, axis=2)
    outlined = np.all(rgb == OUTLINE[1], axis=2)
    assert np.all((unchanged | outlined)[keep]) and unchanged[keep].mean() > 0.4 and outlined.any()
    assert np.all(np.abs(rgb[~keep] - 0.6) < np.abs(original[~keep] - 0.6))
    lowering = explanation.weights[explanation.top_segments(5, sign=-1)]
    assert np.all(lowering < 0) and np.abs(lowering).max() < 0.05 * explanation.weights.max()
    png = explanation.save(tmp_path / "f0.png", 2)
    table = pd.read_csv(png.with_suffix(".csv"))
    assert list(table.columns) == ["segment", "weight", "pixels"] and table["pixels"].sum() == 24 * 24
    np.testing.assert_allclose(table["weight"], explanation.weights)
    assert np.load(tmp_path / "f0_segments.npy").shape == (24, 24)


def test_prototypes_rank_rows_by_activation(tmp_path):
    X = np.array([[0.1, 5], [0.9, 4], [0.5, 3], [0.9, 2]], dtype=np.float32)
    write_meta(tmp_path, {"n_features": 2, "classes": ["a", "b"]})
    write_split(tmp_path, "test", X, [0, 1, 0, 1])
    store = FeatureStore.open(tmp_path)
    rows, values = prototypes(store, "test", 0, k=2)
    assert rows.tolist() == [1, 3] and values.tolist() == pytest.approx([0.9, 0.9])
    assert prototypes(store, "test", 1, k=1, which="bottom")[0].tolist() == [3]
    with pytest.raises(ValueError, match="feature=2"):
        prototypes(store, "test", 2)
    with pytest.raises(ValueError, match="which='middle'"):
        prototypes(store, "test", 0, which="middle")


@pytest.mark.parametrize("bad, match", [(dict(num_samples=0), "num_samples=0"),
                                        (dict(hide_color=2.0), "hide_color=2.0"),
                                        (dict(kernel_width=0.0), "kernel_width=0.0")])
def test_lime_config_names_the_bad_value(bad, match):
    with pytest.raises(ValueError, match=match):
        LimeConfig(**bad)


def test_explaining_draws_no_progress_bar_of_its_own(capfd):
    """lime draws a tqdm bar per explanation whether or not stderr is a terminal; studykit's own
    progress helper reports the stage, so nothing of lime's may reach stderr (and lime is restored)."""
    from lime import lime_image

    before = lime_image.tqdm
    explain_feature(RegionMean(), blocks(), 0, LimeConfig(num_samples=50, seed=0))
    captured = capfd.readouterr()
    assert "\r" not in captured.err and "it/s" not in captured.err, captured.err
    assert lime_image.tqdm is before
