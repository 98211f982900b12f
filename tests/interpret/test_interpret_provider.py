"""The feature-image provider: right pictures, cached by recipe, and the feature_{i}.png folder."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from studykit.interpret import provider as provider_module
from studykit.interpret.fv import PixelConfig
from studykit.interpret.images import row_array
from studykit.interpret.lime_features import LimeConfig, prototypes
from studykit.interpret.provider import FeatureImageProvider, write_feature_folder

FAST_FV = PixelConfig(steps=3)


def test_top_is_the_most_activating_image(default_stores, tmp_path):
    store = default_stores["robust"]
    provider = FeatureImageProvider(store, "top", cache_dir=tmp_path)
    path = provider(5)
    (row,), _ = prototypes(store, "test", 5)
    expected = np.round(row_array(store, "test", int(row), (1, 28, 28))[:, :, 0] * 255).astype(np.uint8)
    picture = np.asarray(Image.open(path))
    assert picture.shape == (112, 112)
    np.testing.assert_array_equal(picture[::4, ::4], expected)


def test_fv_pictures_are_cached_by_recipe(default_stores, tmp_path, monkeypatch):
    store = default_stores["robust"]
    provider = FeatureImageProvider(store, "fv", cache_dir=tmp_path, fv_config=FAST_FV)
    calls = []
    real = provider_module.visualize
    monkeypatch.setattr(provider_module, "visualize", lambda model, features, *a, **k: calls.append(list(features))
                        or real(model, features, *a, **k))
    paths = provider.prefetch([3, 1, 3])
    assert calls == [[3, 1]] and set(paths) == {1, 3}
    assert provider(3) == paths[3] and calls == [[3, 1]]
    assert paths[3].name == provider.key(3) + ".png" and len(provider.key(3)) == 64
    other = FeatureImageProvider(store, "fv", cache_dir=tmp_path, fv_config=PixelConfig(steps=3, seed=1))
    assert other.key(3) != provider.key(3)
    standard = FeatureImageProvider(default_stores["standard"], "fv", cache_dir=tmp_path, fv_config=FAST_FV)
    assert standard.key(3) != provider.key(3)
    assert Image.open(paths[1]).size == (112, 112)


def test_lime_picture_comes_with_its_weights(default_stores, tmp_path):
    provider = FeatureImageProvider(default_stores["robust"], "lime", cache_dir=tmp_path,
                                    lime_config=LimeConfig(num_samples=50, n_segments=10))
    path = provider(7)
    table = pd.read_csv(path.with_suffix(".csv"))
    assert list(table.columns) == ["segment", "weight", "pixels"] and table["pixels"].sum() == 28 * 28
    assert Image.open(path).mode == "RGB"


def test_write_feature_folder_from_provider_or_plain_callable(default_stores, tmp_path):
    provider = FeatureImageProvider(default_stores["robust"], "top", cache_dir=tmp_path / "cache")
    written = write_feature_folder(provider, [4, 2], tmp_path / "a")
    assert [p.name for p in written] == ["feature_4.png", "feature_2.png"]
    assert written[0].read_bytes() == provider(4).read_bytes()
    plain = write_feature_folder(lambda f: provider(f), [2], tmp_path / "b")
    assert plain[0].read_bytes() == provider(2).read_bytes()


def test_provider_rejects_bad_requests(default_stores, tmp_path):
    store = default_stores["robust"]
    with pytest.raises(ValueError, match="kind='sketch'"):
        FeatureImageProvider(store, "sketch", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="fv_layer"):
        FeatureImageProvider(store, "top", cache_dir=tmp_path, fv_layer="features")
    with pytest.raises(ValueError, match="feature=128"):
        FeatureImageProvider(store, "top", cache_dir=tmp_path)(128)
