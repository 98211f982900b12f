"""Algorithm 2: LIME text explanations of a deep feature, per-word averages, word clouds; the corpus."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from interpret_toys import VOCABULARY, encode
from studykit.interpret.rotten_tomatoes import CLASSES, load_rotten_tomatoes, rotten_tomatoes_splits
from studykit.interpret.text import TextLimeConfig, explain_sentences, load_encoder, weight_column, words
from studykit.interpret.wordcloud import (
    CLOUD_COLUMNS, cloud_tables, read_word_cloud, word_cloud, word_weights, write_word_clouds,
)

# What a toy explainer returned: per sentence, one weight per distinct word (LIME's bag of words).
TOY = pd.DataFrame([
    (0, "Great", 1, 0.9, 0.0), (0, "fun", 1, 0.5, 0.1), (0, "plot", 1, -0.2, 0.0),
    (1, "great", 2, 0.3, 0.0), (1, "plot", 1, -0.6, 0.2),
    (2, "dull", 1, -0.8, 0.0), (2, "plot", 1, 0.1, 0.0), (2, "fun", 1, 0.2, 0.0),
], columns=["sentence", "word", "count", "feature_4", "feature_9"])


def test_word_weights_are_averages_over_occurrences():
    table = word_weights(TOY, 4)
    assert list(table.columns) == list(CLOUD_COLUMNS)
    got = {row.word: (row.weight, row.count) for row in table.itertuples()}
    # "great": once with 0.9 (as "Great"), twice with 0.3 -> (0.9 + 2 * 0.3) / 3
    assert got["great"] == (pytest.approx(0.5), 3)
    assert got["fun"] == (pytest.approx(0.35), 2)
    assert got["plot"] == (pytest.approx(-0.7 / 3), 3)
    assert got["dull"] == (pytest.approx(-0.8), 1)
    assert table["word"].tolist() == ["great", "fun", "plot", "dull"]
    assert word_weights(TOY, 4, min_count=2)["word"].tolist() == ["great", "fun", "plot"]
    with pytest.raises(ValueError, match="feature 5 was not explained"):
        word_weights(TOY, 5)


def test_clouds_take_the_top_k_of_each_sign():
    tables = cloud_tables(word_weights(TOY, 4), top_k=1)
    assert tables["positive"]["word"].tolist() == ["great"] and tables["negative"]["word"].tolist() == ["dull"]
    cloud = word_cloud(TOY, 4, top_k=30)
    assert cloud.positive == ("great", "fun") and cloud.negative == ("dull", "plot")
    assert word_cloud(TOY, 9).negative == ()


def test_write_and_read_word_clouds(tmp_path):
    written = write_word_clouds(TOY, 4, tmp_path, top_k=30)
    assert sorted(written) == ["feature_4_negative.csv", "feature_4_negative.png", "feature_4_positive.csv",
                               "feature_4_positive.png", "feature_4_words.csv"]
    assert Image.open(written["feature_4_positive.png"]).size == (600, 300)
    positive = pd.read_csv(written["feature_4_positive.csv"])
    assert positive["word"].tolist() == ["great", "fun"] and positive["count"].tolist() == [3, 2]
    assert read_word_cloud(tmp_path, 4) == word_cloud(TOY, 4)
    only_positive = write_word_clouds(TOY, 9, tmp_path)
    assert "feature_9_negative.png" not in only_positive
    with pytest.raises(FileNotFoundError, match="feature_3_words.csv"):
        read_word_cloud(tmp_path, 3)


def test_lime_finds_the_words_a_bag_of_words_feature_counts():
    sentences = ["A great movie, great fun.", "Dull and boring.", "", "superb!"]
    table = explain_sentences(sentences, encode, [0, 2], TextLimeConfig(num_samples=300), scale=np.full(7, 2.0))
    assert list(table.columns) == ["sentence", "word", "count", weight_column(0), weight_column(2)]
    assert sorted(table["sentence"].unique()) == [0, 1, 3]          # the empty sentence has no word
    first = table[table["sentence"] == 0].set_index("word")
    assert first.loc["great", "count"] == 2
    # feature 0 counts "great": removing both occurrences lowers it by 2, normalized by scale 2 -> ~1
    assert first.loc["great", weight_column(0)] == pytest.approx(1.0, abs=0.1)
    assert first.drop("great")[weight_column(0)].abs().max() < 0.1
    assert table.loc[table["word"] == "Dull", weight_column(2)].item() == pytest.approx(0.5, abs=0.1)
    assert words("A great movie, great fun.") == ["A", "great", "movie", "great", "fun"]


def test_load_encoder_resolves_factories():
    assert load_encoder("interpret_toys:bag_of_words")(["fun"]).shape == (1, len(VOCABULARY))
    with pytest.raises(ValueError, match="'nothing'"):
        load_encoder("nothing")
    with pytest.raises(ValueError, match="cannot import"):
        load_encoder("interpret_toys:missing")
    with pytest.raises(ValueError, match="num_samples=1"):
        TextLimeConfig(num_samples=1)


def test_rotten_tomatoes_corpus_and_splits():
    frame = load_rotten_tomatoes()
    assert frame["label"].value_counts().to_dict() == {1: 7403, 0: 5405} and CLASSES == ("rotten", "fresh")
    splits = rotten_tomatoes_splits(val_fraction=0.1, test_fraction=0.2, seed=0)
    sizes = {k: len(v[0]) for k, v in splits.items()}
    assert sum(sizes.values()) == len(frame) and sizes["test"] == round(0.2 * len(frame))
    assert abs(sizes["val"] - 0.1 * len(frame)) <= 1
    assert rotten_tomatoes_splits(seed=0, limit=5)["train"] == (splits["train"][0][:5], splits["train"][1][:5])
    with pytest.raises(ValueError, match="test_fraction=0.95"):
        rotten_tomatoes_splits(val_fraction=0.1, test_fraction=0.95)
