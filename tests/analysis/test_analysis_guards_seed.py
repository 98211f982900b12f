"""The bootstrap's seed is used (issue 20): the same seed repeats, another seed moves the interval."""

import numpy as np

from studykit.analysis.stats import bootstrap_interval


def test_another_seed_changes_the_bootstrap_interval():
    # continuous values: with 0/1 values the resampled means sit on a 1/n grid and seeds often tie
    values = np.random.default_rng(0).uniform(0, 1, size=40)
    intervals = {seed: bootstrap_interval(values, seed=seed) for seed in range(4)}
    assert intervals[1] == bootstrap_interval(values, seed=1)
    assert len(set(intervals.values())) == 4, f"seeds gave equal intervals: {intervals}"
    mean, se = values.mean(), values.std(ddof=1) / np.sqrt(values.size)
    for low, high in intervals.values():
        assert abs(low - (mean - 1.96 * se)) < 0.5 * se and abs(high - (mean + 1.96 * se)) < 0.5 * se
