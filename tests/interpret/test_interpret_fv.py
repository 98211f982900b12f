"""Feature visualization: both methods raise the target feature, batching and seeding behave."""

import copy

import numpy as np
import pytest
import torch

from studykit.interpret.activations import FeatureModel
from studykit.interpret.fv import LucidConfig, PixelConfig, visualize

GRAY_PIXELS = PixelConfig(steps=30, step_size=0.05, init_std=0.0)
GRAY_LUCID = LucidConfig(steps=60, lr=0.1, init_std=0.0)


def _alive_at_gray(model, n=4):
    """The first ``n`` features that are active on a uniform gray image (a dead ReLU has no gradient)."""
    with torch.no_grad():
        values = model(torch.full((1, *model.input_shape), 0.5))[0]
    return [int(f) for f in np.flatnonzero(values.numpy() > 0.05)[:n]]


def _random_steps(model, feature, length, shape, n=20, seed=0):
    """The feature's activation after ``n`` random moves of L2 length ``length`` from gray."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(size=(n, *shape))
    steps *= length / np.linalg.norm(steps.reshape(n, -1), axis=1).reshape(-1, 1, 1, 1)
    images = torch.as_tensor(np.clip(0.5 + steps, 0, 1), dtype=torch.float32)
    with torch.no_grad():
        return model(images)[:, feature].numpy()


@pytest.mark.parametrize("config", [GRAY_PIXELS, GRAY_LUCID], ids=["pixel", "lucid"])
def test_visualization_beats_its_start_and_random_directions(robust_model, config):
    """On the shipped robust CNN, from gray: far above the start, and above random moves of equal length."""
    features = _alive_at_gray(robust_model)
    vis = visualize(robust_model, features, config)
    assert vis.images.shape == (len(features), 28, 28, 1)
    assert vis.images.min() >= 0 and vis.images.max() <= 1
    assert np.all(vis.final > 3 * vis.initial)
    for n, feature in enumerate(features):
        length = np.linalg.norm(vis.images[n] - 0.5)
        assert vis.final[n] > 2 * _random_steps(robust_model, feature, length, (1, 28, 28)).max()


def test_negative_sign_drives_the_feature_down(robust_model):
    feature = _alive_at_gray(robust_model)[0]
    vis = visualize(robust_model, [feature], GRAY_PIXELS, signs=[-1])
    assert vis.final[0] < 0.1 * vis.initial[0]


def test_batched_equals_single_and_is_seeded(tiny_rgb_model):
    config = LucidConfig(steps=15, seed=3)
    batched = visualize(tiny_rgb_model, [1, 4, 6], config)
    alone = visualize(tiny_rgb_model, [4], config)
    np.testing.assert_allclose(batched.images[1], alone.images[0], atol=1e-4)
    again = visualize(tiny_rgb_model, [1, 4, 6], config, batch_size=2)
    np.testing.assert_allclose(again.images, batched.images, atol=1e-4)
    other_seed = visualize(tiny_rgb_model, [4], LucidConfig(steps=15, seed=4))
    assert np.abs(other_seed.images[0] - alone.images[0]).max() > 1e-2
    assert batched.images.shape == (3, 16, 16, 3)


class PixelThresholds(torch.nn.Module):
    """Feature k = relu(pixel (0, k) - 0.7): zero, with zero gradient, on most noisy gray starts."""

    input_shape = (1, 4, 8)

    def forward(self, images):
        return torch.relu(images[:, 0, 0, :] - 0.7)


def test_features_dead_at_the_start_get_fresh_starts():
    config = PixelConfig(steps=5, init_std=0.1, restarts=0)
    once = visualize(PixelThresholds(), range(8), config)
    again = visualize(PixelThresholds(), range(8), PixelConfig(steps=5, init_std=0.1, restarts=40))
    assert np.sum(once.final > once.initial) <= 2
    assert np.sum(again.final > again.initial) >= 6
    moved = once.final > once.initial
    np.testing.assert_array_equal(again.images[moved], once.images[moved])   # first attempts are kept
    assert np.all(again.final[~(again.final > again.initial)] == 0)


def test_follows_the_model_dtype(tiny_model):
    model64 = FeatureModel(copy.deepcopy(tiny_model.model), "input of fc", input_shape=(1, 16, 16)).double()
    vis = visualize(model64, [0], PixelConfig(steps=3))
    assert vis.images.dtype == np.float32 and np.isfinite(vis.final).all()


@pytest.mark.parametrize("bad, match", [
    (dict(steps=0), "steps=0"), (dict(steps=2.5), "steps=2.5"), (dict(step_size=-1.0), "step_size=-1.0"),
    (dict(init_std=float("nan")), "init_std=nan"),
])
def test_pixel_config_names_the_bad_value(bad, match):
    with pytest.raises(ValueError, match=match):
        PixelConfig(**bad)


@pytest.mark.parametrize("bad, match", [(dict(lr=0.0), "lr=0.0"), (dict(jitter=0.7), "jitter=0.7"),
                                        (dict(tv_weight=-1), "tv_weight=-1")])
def test_lucid_config_names_the_bad_value(bad, match):
    with pytest.raises(ValueError, match=match):
        LucidConfig(**bad)


def test_visualize_rejects_bad_signs_and_shapes(tiny_model):
    with pytest.raises(ValueError, match="signs"):
        visualize(tiny_model, [0, 1], GRAY_PIXELS, signs=[1, 0])
    with pytest.raises(ValueError, match="image_shape"):
        visualize(torch.nn.Identity(), [0], GRAY_PIXELS)
