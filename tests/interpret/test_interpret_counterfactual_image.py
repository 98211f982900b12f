"""Image counterfactuals (issue 19, appendix F.2 / Fig. 31) on the embedded default store."""

import numpy as np
import pytest

from interpret_toys import CF_TARGET, counterfactual_inputs
from studykit.interpret import counterfactual_image as cfi

TARGET = CF_TARGET


@pytest.fixture(scope="module")
def setup(default_stores, tmp_path_factory):
    return counterfactual_inputs(default_stores["standard"], tmp_path_factory.mktemp("cf_image"))


def test_composite_and_masks():
    x = np.full((1, 1, 2, 2), 0.2, np.float32)
    p = np.full((1, 1, 2, 2), 1.0, np.float32)
    m = np.array([[[[0.0, 0.5], [1.0, 0.25]]]], np.float32)
    np.testing.assert_allclose(cfi.composite(x, m, p), [[[[0.2, 0.6], [1.0, 0.4]]]], rtol=1e-6)
    centre = cfi.box_masks(2, (28, 28))
    assert centre.shape == (2, 1, 28, 28) and centre.sum() == 2 * 14 * 14 and centre[0, 0, 7:21, 7:21].all()
    box = cfi.box_masks(1, (28, 28), (0, 2, 5, 4))
    assert box.sum() == 10 and box[0, 0, 2:4, 0:5].all()
    with pytest.raises(ValueError, match="mask box"):
        cfi.box_masks(1, (28, 28), (5, 0, 5, 10))


def test_full_and_empty_masks_bound_the_flip_rate(setup):
    """m = 1 turns every image into the pattern: every eligible image flips to the class the layer gives the
    pattern. m = 0 changes nothing: no flips."""
    images = cfi.load_images(setup["root"] / "images", (1, 28, 28))
    pattern = cfi.load_patterns(setup["root"] / "images" / images.files[0], (1, 28, 28))
    feature = cfi.deep_features(setup["model"], pattern.pixels)
    n = len(images.files)
    for name, layer in setup["layers"].items():
        target = int(layer.predict(feature)[0])
        full = cfi.image_counterfactuals(setup["model"], {name: layer}, images, np.ones((n, 1, 28, 28), np.float32),
                                         pattern, target)
        np.testing.assert_allclose(full.counterfactuals, np.repeat(pattern.pixels, n, 0))
        rate = full.rates.iloc[0]
        assert rate["n_eligible"] >= 1 and rate["flip_rate"] == 1.0 and rate["target_rate_after"] == 1.0
        assert rate["ci_low"] < 1.0 and rate["ci_high"] == pytest.approx(1.0)
        empty = cfi.image_counterfactuals(setup["model"], {name: layer}, images, np.zeros((n, 1, 28, 28), np.float32),
                                          pattern, target)
        np.testing.assert_array_equal(empty.counterfactuals, images.pixels)
        assert empty.rates.iloc[0]["n_flipped"] == 0 and empty.rates.iloc[0]["mean_probability_change"] == 0
