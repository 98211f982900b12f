"""Algorithm 3 on hand-made word clouds and layers, and the dense-vs-sparse flip rates."""

import numpy as np
import pandas as pd
import pytest

from interpret_toys import encode
from studykit.interpret.counterfactual import (
    FLIP_COLUMNS, RATE_COLUMNS, Candidate, candidates, counterfactual, counterfactual_flips, flip_rates,
)
from studykit.interpret.wordcloud import WordCloud
from studykit.solver.layers import DecisionLayer

CLOUDS = {
    0: WordCloud(0, positive=("great", "fun"), negative=("dull",)),
    1: WordCloud(1, positive=("plot",), negative=("acting",)),
    2: WordCloud(2, positive=("awful",), negative=("superb",)),
}
# Class 1 (positive) uses feature 0 positively and feature 2 negatively; class 0 the reverse.
WEIGHT = np.array([[-1.0, 0.0, 0.5], [1.0, 0.0, -0.5]])


def rng(seed=0):
    return np.random.default_rng(seed)


def test_z_plus_substitution_takes_a_word_of_the_negative_cloud():
    result = counterfactual("A Great movie.", 1, WEIGHT, CLOUDS, rng())
    assert candidates("A Great movie.", 1, WEIGHT, CLOUDS) == [Candidate(1, 0, "+")]
    assert (result.n_candidates, result.position, result.feature, result.side) == (1, 1, 0, "+")
    assert (result.word, result.replacement, result.text) == ("Great", "dull", "A dull movie.")
    assert result.found and result.label == 1


def test_z_minus_substitution_takes_a_word_of_the_positive_cloud():
    result = counterfactual("Simply superb!", 1, WEIGHT, CLOUDS, rng())
    assert (result.feature, result.side, result.text) == (2, "-", "Simply awful!")


def test_no_candidate():
    result = counterfactual("An average film.", 1, WEIGHT, CLOUDS, rng())
    assert not result.found and result.n_candidates == 0
    assert (result.position, result.feature, result.word, result.replacement, result.text) == (None,) * 5
    # the evidence must be for the predicted label: "great" supports class 1, not class 0
    assert not counterfactual("A great film.", 0, WEIGHT, CLOUDS, rng()).found


def test_every_occurrence_and_feature_is_a_candidate_and_the_draw_is_uniform():
    sentence = "great fun, great superb"
    assert candidates(sentence, 1, WEIGHT, CLOUDS) == [Candidate(0, 0, "+"), Candidate(1, 0, "+"),
                                                       Candidate(2, 0, "+"), Candidate(3, 2, "-")]
    draws = pd.Series([counterfactual(sentence, 1, WEIGHT, CLOUDS, rng(s)).position for s in range(400)])
    assert set(draws) == {0, 1, 2, 3} and draws.value_counts().min() > 70


def test_a_used_feature_without_a_cloud_is_an_error_and_an_empty_opposite_cloud_no_candidate():
    with pytest.raises(ValueError, match="no word cloud"):
        candidates("great", 1, np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 2.0]]), CLOUDS)
    one_sided = {0: WordCloud(0, ("great",), ())}
    assert candidates("great", 1, np.array([[0.0], [1.0]]), one_sided) == []


def test_flip_rates_dense_versus_sparse():
    # features of interpret_toys.encode: 0 great, 1 fun, 2 dull, 3 boring, 4 superb, 5 awful, 6 movie
    clouds = {0: WordCloud(0, ("great",), ("dull",)), 1: WordCloud(1, ("fun",), ("boring",)),
              2: WordCloud(2, ("dull",), ("great",)), 3: WordCloud(3, ("boring",), ("fun",)),
              4: WordCloud(4, ("superb",), ("awful",)), 5: WordCloud(5, ("awful",), ("superb",)),
              6: WordCloud(6, ("movie",), ("film",))}
    sparse = DecisionLayer(np.array([[0, 0, 1, 0, 0, 0, 0], [0, 0, -1, 0, 0, 0, 0]], float), np.array([0, 0.1]))
    dense = DecisionLayer(np.array([[-1, -.2, 1, .2, -1, 1, 0], [1, .2, -1, -.2, 1, -1, 0]], float),
                          np.array([0, 0.1]), name="dense")
    sentences = ["great movie", "dull movie", "fun", "nothing here", "great great movie"]
    flips = counterfactual_flips(sentences, encode, {"dense": dense, "sparse": sparse}, clouds, seed=0)
    assert list(flips.columns) == list(FLIP_COLUMNS) and len(flips) == 10
    by = flips.set_index(["layer", "sentence"])
    expected = {  # (label, counterfactual, new label) worked out by hand; "great great" may lose either "great"
        ("dense", 0): (1, "dull movie", 0), ("dense", 1): (0, "great movie", 1), ("dense", 2): (1, "boring", 0),
        ("dense", 4): (1, "dull great movie", 1), ("sparse", 0): (1, "dull movie", 0),
        ("sparse", 1): (0, "great movie", 1), ("sparse", 4): (1, "dull great movie", 0)}
    for key, (label, text, new_label) in expected.items():
        row = by.loc[key]
        assert [row["label"], sorted(row["counterfactual"].split()), row["new_label"]] == [
            label, sorted(text.split()), new_label], key
        assert by.loc[key, "flipped"] == (label != new_label)
    for key in [("dense", 3), ("sparse", 2), ("sparse", 3)]:
        assert by.loc[key, "n_candidates"] == 0
        assert pd.isna(by.loc[key, "flipped"]) and pd.isna(by.loc[key, "new_label"])
    rates = flip_rates(flips)
    assert list(rates.columns) == list(RATE_COLUMNS)
    assert rates.set_index("layer").loc[["dense", "sparse"]].values.tolist() == [
        [5, 4, pytest.approx(0.75), 3, pytest.approx(2 / 3)], [5, 3, 1.0, 3, 1.0]]
