"""Intervals, tests and Krippendorff's alpha against hand-computed and published values."""

import numpy as np
import pandas as pd
import pytest

from studykit.analysis import compare_proportions, krippendorff_alpha, mcnemar_test, proportions, wilson_interval
from studykit.analysis.stats import bootstrap_interval


def test_wilson_interval_known_values():
    # 81/263 by hand: p = 0.307985, centre = (p + z^2/2n) / (1 + z^2/n) = 0.310747,
    # half-width = z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n) = 0.055459.
    low, high = wilson_interval([0, 5, 81], [10, 10, 263])
    np.testing.assert_allclose(low, [0.0, 0.236593, 0.255289], atol=1e-5)
    np.testing.assert_allclose(high, [0.277533, 0.763407, 0.366210], atol=1e-5)


def test_proportions_mean_and_standard_error():
    frame = pd.DataFrame({"layer": ["dense"] * 4 + ["sparse"] * 5, "ok": [1, 0, 0, 0, 1, 1, 1, 0, 1]})
    table = proportions(frame.assign(ok=frame["ok"].astype(bool)), "ok", "layer").set_index("layer")
    # dense: mean 1/4, sample sd = sqrt(0.25) = 0.5 (ddof 1) -> se 0.25.
    assert table.loc["dense", ["n", "successes", "mean"]].tolist() == [4, 1, 0.25]
    assert table.loc["dense", "se"] == pytest.approx(0.25)
    assert table.loc["sparse", "se"] == pytest.approx(np.sqrt(0.2) / np.sqrt(5))
    booted = proportions(frame.assign(ok=frame["ok"].astype(bool)), "ok", None, interval="bootstrap", seed=3)
    assert booted.loc[0, "ci_low"] < 5 / 9 < booted.loc[0, "ci_high"]


def test_bootstrap_is_seeded():
    values = np.r_[np.ones(30), np.zeros(20)]
    assert bootstrap_interval(values, seed=1) == bootstrap_interval(values, seed=1)
    low, high = bootstrap_interval(values, seed=1)
    assert low == pytest.approx(0.6 - 1.96 * np.sqrt(0.24 / 50), abs=0.03)
    assert high == pytest.approx(0.6 + 1.96 * np.sqrt(0.24 / 50), abs=0.03)


def test_newcombe_interval_and_z_test():
    # Newcombe (1998), example (a): 56/70 vs 48/80; difference 0.2, hybrid score interval 0.0524 to 0.3339.
    result = compare_proportions(48, 80, 56, 70)
    assert result["difference"] == pytest.approx(0.2)
    assert result["ci_low"] == pytest.approx(0.0524, abs=1e-4)
    assert result["ci_high"] == pytest.approx(0.3339, abs=1e-4)
    pooled = 104 / 150
    z = 0.2 / np.sqrt(pooled * (1 - pooled) * (1 / 70 + 1 / 80))
    assert result["z"] == pytest.approx(z)
    assert z == pytest.approx(2.6502, abs=1e-4)
    assert result["p_value"] == pytest.approx(0.00805, abs=1e-5)


def test_mcnemar_exact():
    first = [True] * 10 + [False] * 10 + [True] * 2
    second = [True] * 10 + [True] * 8 + [False] * 2 + [False] * 2
    result = mcnemar_test(first, second)
    assert (result["only_first"], result["only_second"]) == (2, 8)
    assert result["p_value"] == pytest.approx(0.109375)
    assert mcnemar_test([True], [True])["p_value"] == 1.0


def long(data):
    return pd.DataFrame([(u, coder, v) for coder, values in data.items() for u, v in enumerate(values)
                         if v is not None], columns=["task", "coder", "value"])


def test_krippendorff_hand_computed():
    # Units (a,a), (a,b), (b,b): o = [[2,1],[1,2]], n_a = n_b = 3, n = 6;
    # alpha = 1 - (n - 1) * 2 / (2 * 3 * 3) = 1 - 5 * 2 / 18 = 4/9.
    frame = pd.DataFrame({"task": [1, 1, 2, 2, 3, 3], "value": list("aabbbb")})
    frame.loc[2:3, "value"] = ["a", "b"]
    assert krippendorff_alpha(frame, "value") == pytest.approx(4 / 9)
    # Ordinal, values 0 < 1 < 2 in units (0,0), (0,1), (1,2), (2,2): n_c = (3, 2, 3), n = 8;
    # delta^2(0,1) = delta^2(1,2) = (5/2)^2, delta^2(0,2) = (8 - 3)^2 = 25;
    # alpha = 1 - 7 * (2 * 6.25 + 2 * 6.25) / (2 * (6 * 6.25 + 6 * 6.25 + 9 * 25)) = 1 - 175/600.
    ordinal = pd.DataFrame({"task": [1, 1, 2, 2, 3, 3, 4, 4], "value": [0, 0, 0, 1, 1, 2, 2, 2]})
    assert krippendorff_alpha(ordinal, "value", level="ordinal") == pytest.approx(1 - 175 / 600)
    assert krippendorff_alpha(ordinal, "value", level="nominal") == pytest.approx(1 - 7 * 4 / 42)


def test_krippendorff_published_example():
    """Krippendorff (2011), 4 coders x 12 units with missing values: nominal .743, ordinal .815, interval .849."""
    frame = long({"A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
                  "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
                  "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
                  "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]})
    assert krippendorff_alpha(frame, "value", level="nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(frame, "value", level="ordinal") == pytest.approx(0.815, abs=5e-4)
    assert krippendorff_alpha(frame, "value", level="interval") == pytest.approx(0.849, abs=5e-4)


def test_krippendorff_degenerate_and_bad_level():
    same = pd.DataFrame({"task": [1, 1, 2, 2], "value": ["a"] * 4})
    assert np.isnan(krippendorff_alpha(same, "value"))
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha(same, "value", level="ratio")
