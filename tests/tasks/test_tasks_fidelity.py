"""The paper's pages by default (Figs. 23/28/32), extra options as flags, answer leakage across HITs,
location-independent batch ids, the starter spec and --strict."""

import csv
import dataclasses
import html
import json
import shutil
import tomllib

import pytest
from click.testing import CliRunner

from studykit.cli import main
from studykit.formats.batch import read_manifest
from studykit.tasks import TaskSpec, build_batch, load_spec
from studykit.tasks.starter import STARTER_INPUTS, starter_spec
from tasks_inputs_factory import make_inputs, small_spec

STUDIES = ("simulatability", "spurious", "misclassification")


def _options(page: str, name: str) -> list[str]:
    import re
    return re.findall(rf'<input type="(?:radio|checkbox)" name="{name}" value="([^"]+)"', page)


@pytest.fixture(scope="module")
def built(tmp_path_factory, study_inputs):
    """Per (study, flags on?): a batch folder."""
    root = tmp_path_factory.mktemp("fidelity")
    flags = {"spurious": {"offer_both": True, "offer_unsure": True}, "misclassification": {"offer_none": True}}
    batches = {}
    for study in ("spurious", "misclassification"):
        batches[study, False] = build_batch(small_spec(study, study_inputs), root / f"{study}-paper")
        batches[study, True] = build_batch(small_spec(study, study_inputs, **flags[study]), root / f"{study}-flags")
    return batches


def test_pages_are_the_papers_by_default(built):
    spurious = (built["spurious", False] / "hits" / "t00000.html").read_text()
    assert _options(spurious, "part_a") == _options(spurious, "part_b") == ["object", "surroundings"]
    assert "Part of object" in spurious and "Part of surroundings" in spurious and "Not sure" not in spurious
    assert "In these 4 images" in spurious          # n_images = 2 per class in the small spec
    mis = (built["misclassification", False] / "hits" / "t00000.html").read_text()
    assert _options(mis, "match") == ["A", "B"] and "Neither" not in mis
    assert "Select all the patterns that match the image shown." in mis and "on the left" not in mis
    assert "Please select at least one pattern." in mis
    assert read_manifest(built["spurious", False])["answer_options"]["part_a"] == ["object", "surroundings"]
    assert read_manifest(built["misclassification", False])["answer_options"]["match"] == ["A", "B"]
    template = (built["misclassification", False] / "requester_ui" / "template.html").read_text()
    assert _options(template, "match") == ["A", "B"]


def test_flags_add_the_options_and_the_manifest_records_them(built):
    spurious = (built["spurious", True] / "hits" / "t00000.html").read_text()
    assert _options(spurious, "part_b") == ["object", "surroundings", "both", "unsure"]
    manifest = read_manifest(built["spurious", True])
    assert manifest["answer_options"]["part_a"] == ["object", "surroundings", "both", "unsure"]
    assert manifest["spec"]["sampling"]["offer_both"] is True
    mis = (built["misclassification", True] / "hits" / "t00000.html").read_text()
    assert _options(mis, "match") == ["A", "B", "none"] and "at least one option" in mis
    assert read_manifest(built["misclassification", True])["answer_options"]["match"] == ["A", "B", "none"]


def test_flags_must_be_booleans():
    with pytest.raises(ValueError, match="sampling.offer_none='yes' is invalid"):
        TaskSpec.from_dict({"study": "misclassification", "inputs": {"store": "s", "path": "p"},
                            "sampling": {"offer_none": "yes"}})


def test_simulated_answers_stay_within_the_offered_options(built, tmp_path):
    from studykit.analysis.simulate import write_simulated_results

    for study, field, extra in (("spurious", "Answer.part_a", {"both", "unsure"}),
                                ("misclassification", "Answer.match", {"none"})):
        out = tmp_path / f"{study}.csv"
        write_simulated_results(built[study, False], out, seed=1)
        with open(out, newline="") as handle:
            values = {v for row in csv.DictReader(handle) for v in row[field].split("|")}
        assert values and not values & extra


def _images_per_class_layer(batch):
    """(layer, target class) -> the set of images shown as options across its tasks."""
    tasks = {r["task_id"]: r for r in csv.DictReader(open(batch / "tasks.csv", newline=""))}
    shown = {}
    for row in csv.DictReader(open(batch / "answer_key.csv", newline="")):
        shown.setdefault((row["layer"], row["target_class"]), set()).update(
            tasks[row["task_id"]][f"image_{x}"] for x in "ABC")
    return shown


def test_exposure_report_and_distinct_images(study_inputs, tmp_path):
    spec = small_spec("simulatability", study_inputs)      # 3 classes x 2 layers x 8 tasks on 120 rows
    plain = build_batch(spec, tmp_path / "plain")
    counts = read_manifest(plain)["counts"]
    exposure = counts["exposure"]
    assert len(exposure) == 6 and all(e["tasks"] == 8 and e["band_images"] == [6, 2, 1] for e in exposure)
    assert all(e["repeated_correct"] == 8 - e["distinct_correct"] for e in exposure)
    assert any("correct image repeats" in w for w in counts["warnings"])
    assert any("band (99.99, 100.0): fewer distinct images than tasks in 6 of 6" in w for w in counts["warnings"])
    distinct = dataclasses.replace(spec, sampling=dataclasses.replace(spec.sampling, distinct_images=True))
    batch = build_batch(distinct, tmp_path / "distinct")
    # every band's images are all used before any repeats: 6 + 2 + 1 distinct images per (class, layer)
    assert {len(images) for images in _images_per_class_layer(batch).values()} == {9}
    assert min(len(images) for images in _images_per_class_layer(plain).values()) < 9


def test_batch_id_and_manifest_do_not_depend_on_where_inputs_live(tmp_path):
    first, second = tmp_path / "here", tmp_path / "elsewhere" / "deeper"
    make_inputs(first)
    second.parent.mkdir()
    shutil.copytree(first, second)
    ids = []
    for root in (first, second):
        spec = root / "spec.toml"
        spec.write_text('study = "spurious"\nseed = 3\n[inputs]\nstore = "store"\npath = "path"\n'
                        'coefficients = "raw"\n[sampling]\nn_pairs = 3\nn_images = 2\n')
        done = CliRunner().invoke(main, ["tasks", "build", str(spec), "--out", str(root / "batch")])
        assert done.exit_code == 0, done.output
        manifest = read_manifest(root / "batch")
        ids.append(manifest["batch_id"])
        assert manifest["spec"]["inputs"]["store"] == "store"
        assert manifest["layers"]["dense"]["file"] == "path/layers/dense.npz"
        assert str(root) not in json.dumps(manifest)
    assert ids[0] == ids[1]
    make_inputs(tmp_path / "other", seed=1)                        # other contents: another id
    spec = tmp_path / "other" / "spec.toml"
    spec.write_text((first / "spec.toml").read_text())
    assert CliRunner().invoke(main, ["tasks", "build", str(spec), "--out", str(tmp_path / "o")]).exit_code == 0
    assert read_manifest(tmp_path / "o")["batch_id"] != ids[0]


@pytest.mark.parametrize("study", STUDIES)
def test_init_prints_a_spec_that_parses_back_to_the_papers_defaults(study, tmp_path):
    done = CliRunner().invoke(main, ["tasks", "init", study])
    assert done.exit_code == 0 and done.output == starter_spec(study)
    inputs = STARTER_INPUTS if study != "spurious" else dataclasses.replace(STARTER_INPUTS, feature_images=None)
    assert TaskSpec.from_dict(tomllib.loads(done.output)) == TaskSpec(study, inputs)
    (tmp_path / "spec.toml").write_text(done.output)
    assert load_spec(tmp_path / "spec.toml").sampling == TaskSpec(study, inputs).sampling


def test_shortfall_warns_and_strict_fails(study_inputs, tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(f'study = "spurious"\n[inputs]\nstore = "{study_inputs["store"]}"\n'
                    f'path = "{study_inputs["path"]}"\n'
                    'coefficients = "raw"\n[sampling]\nn_pairs = 50\nn_images = 2\n')
    runner = CliRunner()
    done = runner.invoke(main, ["tasks", "build", str(spec), "--out", str(tmp_path / "warned")])
    assert done.exit_code == 0 and "Warning: only 11 of 100 tasks built" in done.stderr
    assert "Warning" not in done.stdout
    strict = runner.invoke(main, ["tasks", "build", str(spec), "--out", str(tmp_path / "strict"), "--strict"])
    assert strict.exit_code != 0 and "11 of 100 tasks built (strict)" in strict.output
    assert "Traceback" not in strict.output and not (tmp_path / "strict").exists()


def test_requester_input_csv_is_html_escaped(study_inputs, tmp_path):
    batch = build_batch(small_spec("spurious", study_inputs, n_pairs=6), tmp_path / "b")
    with open(batch / "requester_ui" / "input.csv", newline="", encoding="utf-8") as handle:
        cells = [v for row in csv.DictReader(handle) for v in row.values()]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in cells and "fish &amp; chips" in cells
    assert not any("<" in v or '"' in v for v in cells)
    assert html.unescape("fish &amp; chips") in {html.unescape(v) for v in cells}
