"""The contracts between stages (studykit.formats) hold across them: what `tasks build` accepts and
writes, `mturk` loads and prices the same way; what `mturk post` would refuse, `tasks build` refuses
(the command's one-line refusal: tests/cli/test_tasks_cli.py)."""

import dataclasses
import json
import shutil
from decimal import Decimal

import pytest

from studykit.analysis.plan import study_cost
from studykit.formats.batch import read_batch
from studykit.formats.hit import HITSettings
from studykit.formats.studies import STUDY_NAMES
from studykit.mturk.batch import load_batch
from studykit.mturk.cost import estimate_cost
from studykit.tasks import TaskSpec, build_batch

from tasks_inputs_factory import small_spec

#: (field, value) pairs MTurk refuses; every one must be refused at build time and at post time.
INVALID_HIT = [
    ("max_assignments", 0), ("max_assignments", 2_000_000), ("max_assignments", True), ("max_assignments", "5"),
    ("lifetime_seconds", 29), ("lifetime_seconds", 31_536_001),
    ("assignment_duration_seconds", 10), ("assignment_duration_seconds", 40_000_000),
    ("assignment_duration_seconds", "60"),
    ("auto_approval_delay_seconds", -1), ("auto_approval_delay_seconds", 2_592_001),
    ("title", ""), ("title", "x" * 129), ("description", " "), ("description", "x" * 2001),
    ("keywords", "x" * 1001), ("keywords", 3),
    ("reward", "0.00"), ("reward", "0.045"), ("reward", "$0.04"), ("reward", -1),
]


@pytest.fixture(scope="module")
def built(study_inputs, tmp_path_factory):
    """One batch per study, with HIT settings other than the defaults."""
    root = tmp_path_factory.mktemp("contract-batches")
    batches = {}
    for number, study in enumerate(STUDY_NAMES):
        spec = small_spec(study, study_inputs)
        spec = dataclasses.replace(spec, hit=HITSettings.for_study(study, reward="0.05", max_assignments=7 + number,
                                                                   lifetime_seconds=86_400))
        batches[study] = (spec, build_batch(spec, root / study))
    return batches


@pytest.mark.parametrize("study", STUDY_NAMES)
def test_a_built_batch_loads_in_mturk_with_its_hit_settings(built, study):
    spec, folder = built[study]
    loaded = load_batch(folder)
    assert loaded.hit == spec.hit and loaded.hit.max_assignments == spec.hit.max_assignments
    assert read_batch(folder).schema.name == study
    quote = estimate_cost(loaded.hit, len(loaded.tasks))
    planned = study_cost(spec.hit.reward, spec.hit.max_assignments, len(loaded.tasks))
    assert planned["total"] == pytest.approx(float(quote.total)) and quote.total > 0


@pytest.mark.parametrize("field, value", INVALID_HIT)
def test_invalid_hit_settings_are_refused_at_build_and_at_post(built, tmp_path, field, value):
    data = {"study": "spurious", "inputs": {"store": "s", "path": "p"}, "hit": {field: value}}
    with pytest.raises(ValueError, match=f"hit.{field}") as build_error:
        TaskSpec.from_dict(data)
    assert "\n" not in str(build_error.value)
    folder = shutil.copytree(built["spurious"][1], tmp_path / "batch")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["hit"][field] = value
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=f"hit.{field}") as post_error:
        load_batch(folder)
    assert "\n" not in str(post_error.value) and "manifest.json" in str(post_error.value)


def test_build_normalizes_what_users_write_and_post_reads_it(built):
    assert HITSettings.for_study("spurious", reward=0.5).reward == "0.50"
    assert HITSettings.for_study("spurious").reward == "0.07"
    manifest = json.loads((built["misclassification"][1] / "manifest.json").read_text())
    assert manifest["hit"]["reward"] == "0.05" and Decimal(manifest["hit"]["reward"]) == Decimal("0.05")
