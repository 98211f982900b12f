"""studykit.formats and studykit._io: the registry, fee rules, batch reader and atomic writers."""

import json
import os
from decimal import Decimal

import pytest

from studykit import _io
from studykit.analysis.plan import PlanConfig, plan_study, study_cost
from studykit.analysis.simulate import AnnotatorModel
from studykit.formats.batch import read_batch, read_manifest, read_table
from studykit.formats.fees import batch_cost, estimate_cost
from studykit.formats.hit import HITSettings
from studykit.formats.studies import STUDIES, STUDY_NAMES, study_schema


# ---------------------------------------------------------------------------------- registry
def test_registry_holds_one_complete_entry_per_study():
    assert STUDY_NAMES == ("simulatability", "spurious", "misclassification")
    assert {STUDIES[name].reward for name in STUDY_NAMES} == {"0.04", "0.07", "0.03"}   # the paper's rewards
    for name, entry in STUDIES.items():
        assert entry.name == name and entry.selection in {a.name for a in entry.answers}
        assert HITSettings.for_study(name).reward == entry.reward and entry.sampling().__class__ is entry.sampling
        assert len({e.batch_prefix for e in STUDIES.values()}) == len(STUDIES)
    with pytest.raises(ValueError, match="unknown study 'x'"):
        study_schema("x")


# ---------------------------------------------------------------------------------- fees
@pytest.mark.parametrize("reward, assignments", [("0.03", 5), ("0.04", 3), ("0.07", 9), ("0.04", 10), ("0.12", 3),
                                                 ("1.00", 12)])
def test_plan_and_post_quote_the_same_cost(reward, assignments):
    n_hits = 40
    post = estimate_cost(HITSettings("t", "d", reward, max_assignments=assignments), n_hits)
    plan = study_cost(float(reward), assignments, n_hits)
    assert (plan["rewards"], plan["fees"], plan["total"]) == pytest.approx(
        (float(post.total_reward), float(post.total_fee), float(post.total)))
    # the minimum fee: at $0.03, 20% is $0.006 but MTurk charges $0.01 per assignment
    assert batch_cost("0.03", 5, 1).fee_per_assignment == Decimal("0.01")


def test_plan_table_costs_are_the_post_estimate():
    config = PlanConfig("misclassification", tasks=(50,), assignments=(5, 10), reward=0.03, n_simulated=20)
    table = plan_study(config, AnnotatorModel.for_study("misclassification"))
    for row in table.itertuples():
        post = estimate_cost(HITSettings("t", "d", "0.03", max_assignments=row.assignments), row.n_hits)
        assert row.total == pytest.approx(float(post.total))
    with pytest.raises(ValueError, match="0.01"):
        PlanConfig("spurious", reward=0.0)


# ---------------------------------------------------------------------------------- batch folder
def _folder(tmp_path, manifest_text):
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "manifest.json").write_text(manifest_text)
    (folder / "tasks.csv").write_text("task_id,a\nt0,x\nt1,\n")
    (folder / "answer_key.csv").write_text("task_id,layer\nt0,dense\nt1,sparse\n")
    return folder


@pytest.mark.parametrize("text, message", [("[1, 2]", "not a JSON object"), ('"x"', "not a JSON object"),
                                           ("{oops", "not valid JSON")])
def test_a_manifest_that_is_not_a_json_object_is_a_one_line_error(tmp_path, text, message):
    folder = _folder(tmp_path, text)
    with pytest.raises(ValueError, match=message) as info:
        read_batch(folder)
    assert "\n" not in str(info.value) and "manifest.json" in str(info.value)


def test_read_batch_reads_text_and_names_bad_tables(tmp_path):
    folder = _folder(tmp_path, json.dumps({"study": "simulatability"}))
    batch = read_batch(folder)
    assert batch.tasks["a"].tolist() == ["x", ""] and batch.answer_key["layer"].tolist() == ["dense", "sparse"]
    assert batch.answers == {"Answer.choice": "choice", "Answer.confidence": "confidence"}
    assert read_manifest(folder) == {"study": "simulatability"}
    (folder / "tasks.csv").write_text("task_id\nt0\nt0\n")
    with pytest.raises(ValueError, match="tasks.csv: task_id values are not unique"):
        read_batch(folder)
    (folder / "tasks.csv").write_text("id\nt0\n")
    with pytest.raises(ValueError, match="tasks.csv: missing column task_id"):
        read_batch(folder)
    (folder / "manifest.json").write_text(json.dumps({"study": "nope"}))
    with pytest.raises(ValueError, match="manifest.json: unknown study"):
        read_batch(folder)


# ---------------------------------------------------------------------------------- atomic writers
class Boom(Exception):
    pass


class Exploding:
    """A value json.dumps reaches only after writing has begun, and that raises."""

    def __iter__(self):
        yield ["a", "b"]
        raise Boom("disk full")


def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path):
    path = tmp_path / "out.csv"
    _io.write_text(path, "old\n")
    with pytest.raises(Boom):
        _io.write_csv(path, Exploding(), header=["x", "y"])
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["out.csv"]
    with pytest.raises(Boom):
        with _io.atomic_path(tmp_path / "new.bin") as tmp:
            tmp.write_bytes(b"half")
            raise Boom("killed")
    assert os.listdir(tmp_path) == ["out.csv"]


def test_writers_refuse_to_overwrite_unless_asked(tmp_path):
    path = _io.write_json(tmp_path / "sub" / "m.json", {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1} and path.read_text().endswith("}\n")
    with pytest.raises(FileExistsError, match="m.json.*overwrite"):
        _io.write_bytes(path, b"x", overwrite=False)
    assert json.loads(path.read_text()) == {"a": 1}
    _io.write_bytes(path, b"x", overwrite=True)
    assert path.read_bytes() == b"x" and sorted(os.listdir(path.parent)) == ["m.json"]
    _io.write_text(tmp_path / "crlf.txt", "a\r\nb\r\n")
    assert (tmp_path / "crlf.txt").read_bytes() == b"a\r\nb\r\n"


def test_read_table_skips_blank_lines_and_names_ragged_rows(tmp_path):
    path = tmp_path / "tasks.csv"
    path.write_text("task_id,a\nt0,x\n\nt1,y\n")
    assert read_table(path)["task_id"].tolist() == ["t0", "t1"]
    path.write_text("task_id,a\nt0,x\nt1,y,z\n")
    with pytest.raises(ValueError, match="tasks.csv: line 3 has 3 cells"):
        read_table(path)
