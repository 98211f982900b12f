"""The higher MTurk fee (max_assignments >= 10) is refused unless accepted explicitly (issue 20)."""

import pytest
from mturk_batch_factory import build_batch

from studykit.mturk.batch import load_batch
from studykit.mturk.preflight import PreflightError, preflight


def test_high_fee_is_refused_without_the_flag_and_only_for_that(tmp_path):
    batch = load_batch(build_batch(tmp_path / "b", max_assignments=12))
    with pytest.raises(PreflightError) as info:
        preflight(batch)
    assert len(info.value.problems) == 1 and "max_assignments=12" in info.value.problems[0]
    assert preflight(batch, accept_high_fee=True) is None  # the same batch, accepted: no other problem


@pytest.mark.parametrize("max_assignments", [1, 9])
def test_the_flag_is_not_needed_below_ten(tmp_path, max_assignments):
    preflight(load_batch(build_batch(tmp_path / "b", max_assignments=max_assignments)))


def test_the_flag_does_not_silence_other_problems(tmp_path):
    batch = load_batch(build_batch(tmp_path / "b", max_assignments=12, hosted=False))
    with pytest.raises(PreflightError) as info:
        preflight(batch, accept_high_fee=True)
    assert not any("max_assignments" in problem for problem in info.value.problems)
    assert any("not HTTPS" in problem or "assets/" in problem for problem in info.value.problems)
