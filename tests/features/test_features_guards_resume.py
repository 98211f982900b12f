"""Extraction resume counts work (issue 20): after a crash only the items not yet saved are read again."""

import numpy as np
import pytest

from studykit.features import FeatureStore

from studykit.features.sources import ArrayDataset, SplitSource

from test_extract import Crash, CrashingDataset, _extract


class CountingDataset(ArrayDataset):
    """Records every item the extractor reads."""

    def __init__(self, arrays, seen):
        super().__init__(arrays)
        self.seen = seen

    def __getitem__(self, i):
        self.seen.append(int(i))
        return super().__getitem__(i)


def test_resume_reads_only_the_remaining_items(tiny_net, arrays, splits, tmp_path):
    test_rows = np.arange(25, 37)
    crashing = dict(splits, test=SplitSource(CrashingDataset(arrays.subset(test_rows), 9), "toy:all",
                                             positions=test_rows))
    with pytest.raises(Crash):
        _extract(tiny_net, crashing, tmp_path / "resumed", batch_size=4, checkpoint_every=1)
    seen = {"train": [], "test": []}
    counting = {name: SplitSource(CountingDataset(arrays.subset(source.positions), seen[name]), "toy:all",
                                  positions=source.positions) for name, source in splits.items()}
    _extract(tiny_net, counting, tmp_path / "resumed", batch_size=4, checkpoint_every=1)
    assert seen["train"] == [], "the completed split was extracted again"
    assert sorted(seen["test"]) == list(range(8, 12)), "resume did not start at the first unsaved batch"
    whole = _extract(tiny_net, splits, tmp_path / "whole", batch_size=4)
    for name in ("train.npy", "test.npy", "test_labels.npy", "test_logits.npy", "test_index.npy"):
        np.testing.assert_array_equal(np.load(tmp_path / "whole" / name), np.load(tmp_path / "resumed" / name))
    assert whole.meta["splits"] == FeatureStore.open(tmp_path / "resumed").meta["splits"]

