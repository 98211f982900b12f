"""Batch folders: the docs/batch-folder.md contract, determinism, no answer leak, and what reads them."""

import csv
import dataclasses
import hashlib
import html
import json
import re
import xml.etree.ElementTree as ET

import pytest

from studykit.formats.studies import STUDIES as SCHEMAS
from studykit.mturk.batch import load_batch
from studykit.tasks import STUDIES, build_batch
from studykit.tasks.render import MAX_QUESTION_BYTES

from tasks_inputs_factory import CLASSES, small_spec


@pytest.fixture(scope="module")
def batches(study_inputs, tmp_path_factory):
    root = tmp_path_factory.mktemp("batches")
    return {study: build_batch(small_spec(study, study_inputs), root / study) for study in STUDIES}


def _rows(path):
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("study", STUDIES)
def test_batch_folder_contract(batches, study):
    batch = batches[study]
    manifest = json.loads((batch / "manifest.json").read_text())
    assert manifest["format"] == "studykit-batch/1" and manifest["study"] == study
    assert re.fullmatch(r"(sim|spu|mis)-[0-9a-f]{12}", manifest["batch_id"])
    assert manifest["answers"] == {**{f"Answer.{f.name}": f.name for f in SCHEMAS[study].answers},
                                   "Answer.task_id": "task_id"}
    assert set(manifest["counts"]) == {"requested", "built", "notes"} and manifest["asset_base_url"] is None
    sampling = manifest["spec"]["sampling"]
    assert list(manifest["layers"]) == sampling.get("layers", [sampling.get("layer")])
    tasks, key = _rows(batch / "tasks.csv"), _rows(batch / "answer_key.csv")
    assert manifest["n_hits"] == len(tasks) == len(key) == manifest["counts"]["built"]["tasks"] > 0
    assert [t["task_id"] for t in tasks] == [k["task_id"] for k in key] == [f"t{i:05d}" for i in range(len(tasks))]
    assert list(key[0]) == ["task_id", *SCHEMAS[study].key_columns]
    assert not set(tasks[0]) & set(SCHEMAS[study].key_columns) - {"class_a", "class_b"}
    for task in tasks:
        assert (batch / "hits" / f"{task['task_id']}.html").is_file()
        xml = (batch / "hits" / f"{task['task_id']}.xml").read_bytes()
        assert len(xml) <= MAX_QUESTION_BYTES and xml.count(b"]]>") == 1
        ET.fromstring(xml)
    loaded = load_batch(batch)                  # what studykit.mturk posts from
    assert loaded.batch_id == manifest["batch_id"] and len(loaded.tasks) == len(tasks)


@pytest.mark.parametrize("study", STUDIES)
def test_assets_are_named_by_content_and_all_referenced(batches, study):
    batch = batches[study]
    names = {path.name for path in (batch / "assets").iterdir()}
    for name in names:
        assert name == hashlib.sha256((batch / "assets" / name).read_bytes()).hexdigest()[:16] + ".png"
    referenced = set()
    for page in (batch / "hits").glob("*.html"):
        referenced |= set(re.findall(r'src="\.\./assets/([0-9a-f]{16}\.png)"', page.read_text()))
    assert referenced == names
    requester = _rows(batch / "requester_ui" / "input.csv")
    template = (batch / "requester_ui" / "template.html").read_text()
    assert list(requester[0]) == list(_rows(batch / "tasks.csv")[0])
    assert all("${" + column + "}" in template for column in requester[0])


def _hidden_values(study, key):
    """Key cells a page must never show (class names are shown by the spurious study only)."""
    values = [key["layer"]]
    if study == "simulatability":
        values += [key[f"prob_{x}"] for x in "ABC"] + [key["target_class"]] + [key[f"label_{x}"] for x in "ABC"]
    if study == "misclassification":
        values += [key["condition"], key["true_class"], key["predicted_class"]]
    return values


@pytest.mark.parametrize("study", STUDIES)
def test_no_page_leaks_the_answer_key(batches, study):
    batch = batches[study]
    for key in _rows(batch / "answer_key.csv"):
        for suffix in ("html", "xml"):
            page = (batch / "hits" / f"{key['task_id']}.{suffix}").read_text()
            text = page.lower()
            for value in _hidden_values(study, key):
                for form in {value, html.escape(value)}:
                    assert not re.search(rf"(?<![a-z]){re.escape(form.lower())}(?![a-z])", text), (study, form)
            assert "data-" not in text and "feature" not in text
            hidden = re.findall(r'<input type="hidden"[^>]*name="([^"]+)"', page)
            assert sorted(hidden) == ["assignmentId", "task_id"]
    if study == "simulatability":
        classes = {c.lower() for c in CLASSES} | {html.escape(c).lower() for c in CLASSES}
        for page in (batch / "hits").glob("*.html"):
            assert not any(re.search(rf"(?<![a-z]){re.escape(c)}(?![a-z])", page.read_text().lower())
                           for c in classes)


def test_options_are_shuffled(batches):
    choices = {row["correct_choice"] for row in _rows(batches["simulatability"] / "answer_key.csv")}
    assert choices == {"A", "B", "C"}
    fp_options = {row["option_fp"] for row in _rows(batches["misclassification"] / "answer_key.csv")}
    assert {"A", "B"} <= fp_options


def test_class_names_are_escaped_in_spurious_pages(batches):
    pages = [p.read_text() for p in (batches["spurious"] / "hits").glob("*.html")]
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in page for page in pages)
    assert all(page.count("<script") == 1 for page in pages)


@pytest.mark.parametrize("study", STUDIES)
def test_same_spec_and_seed_give_a_byte_identical_batch(batches, study_inputs, tmp_path, study):
    again = build_batch(small_spec(study, study_inputs), tmp_path / "again")
    files = sorted(p.relative_to(batches[study]) for p in batches[study].rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for name in files:
        assert (batches[study] / name).read_bytes() == (again / name).read_bytes(), name
    other = build_batch(dataclasses.replace(small_spec(study, study_inputs), seed=4), tmp_path / "other")
    assert json.loads((other / "manifest.json").read_text())["batch_id"] != \
        json.loads((again / "manifest.json").read_text())["batch_id"]


@pytest.mark.parametrize("study", STUDIES)
def test_simulate_and_analyze_read_the_batch(batches, study, tmp_path):
    from studykit.analysis import QCConfig, analyze, write_analysis, write_simulated_results

    results = tmp_path / "simulated.csv"
    manifest = json.loads((batches[study] / "manifest.json").read_text())
    assert write_simulated_results(batches[study], results) == manifest["n_hits"] * manifest["hit"]["max_assignments"]
    analysis = analyze(results, batch=batches[study], salt="s", qc=QCConfig.for_study(study, min_annotators=1))
    assert len(analysis.kept.frame) > 0
    write_analysis(analysis, tmp_path / "report")
    assert (tmp_path / "report" / "report.md").is_file()


def test_build_refuses_a_used_folder_and_a_spec_that_builds_nothing(study_inputs, tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        build_batch(small_spec("spurious", study_inputs), tmp_path / "used")
    with pytest.raises(ValueError, match="no class has 9 features"):
        build_batch(small_spec("simulatability", study_inputs, n_features=9), tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists() and [p.name for p in tmp_path.iterdir()] == ["used"]


def test_missing_feature_image_is_named(study_inputs, tmp_path):
    def only_feature_zero(feature):
        return study_inputs["features"] / f"feature_{feature}.png" if feature == 0 else tmp_path / "none.png"

    with pytest.raises(ValueError, match="none.png"):
        build_batch(small_spec("misclassification", study_inputs), tmp_path / "b", feature_images=only_feature_zero)
    inputs = dataclasses.replace(small_spec("simulatability", study_inputs).inputs, feature_images=None)
    spec = dataclasses.replace(small_spec("simulatability", study_inputs), inputs=inputs)
    with pytest.raises(ValueError, match="this study shows feature images"):
        build_batch(spec, tmp_path / "c")
