"""End to end on the real embedded data: ``studykit demo --mturk-local`` at small scale.

Asserts on the artifacts, not only the exit code: the stores, layers, batches, simulated and fetched
results and reports exist, parse and agree in their counts, and the reports recover the simulator's
parameters within their intervals.
"""

import json
import re
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from studykit.analysis.simulate import AnnotatorModel
from studykit.cli import main
from studykit.features import FeatureStore
from studykit.solver.layers import DecisionLayer
from studykit.tasks import load_spec
from studykit.tasks.batch import batch_id, content_digest
from studykit.tasks.data import layer_paths

STUDIES = ("simulatability", "spurious", "misclassification")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--limit", "1500", "--n-alphas", "12",
                                       "--mturk-local"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_stores_and_layers(demo):
    out, output = demo
    for model in ("standard", "robust"):
        store = FeatureStore.open(out / "features" / model)
        assert store.meta["splits"]["test"]["rows"] == 1500 and store.meta["model"]["spec"] == f"default:{model}"
        X, y = store.split("test")
        dense = DecisionLayer.load(out / "paths" / model / "layers" / "dense.npz")
        sparse = DecisionLayer.load(out / "paths" / model / "layers" / "sparse.npz")
        assert (sparse.weight != 0).sum() < (dense.weight != 0).sum() / 5
        accuracy = float((sparse.predict(np.asarray(X)) == y).mean())
        assert accuracy > 0.6
        assert f"{model:8s} sparse accuracy {accuracy:.3f}" in output
        assert (out / "paths" / model / "analysis").is_dir()
    assert len(list((out / "feature-images" / "fv").glob("feature_*.png"))) > 10
    assert len(list((out / "feature-images" / "lime").glob("feature_*.png"))) > 3


@pytest.mark.parametrize("study", STUDIES)
def test_batches_results_and_reports_agree(demo, study):
    out, _ = demo
    batch = out / "batches" / study
    manifest = json.loads((batch / "manifest.json").read_text())
    tasks = pd.read_csv(batch / "tasks.csv")
    assert manifest["n_hits"] == len(tasks) == len(list((batch / "hits").glob("*.xml"))) > 0
    simulated = pd.read_csv(batch / "results" / "simulated.csv")
    assert len(simulated) == manifest["n_hits"] * manifest["hit"]["max_assignments"]
    fetched = pd.read_csv(out / "mturk-local" / study / "results" / "mturk-local.csv")
    assert len(fetched) == len(simulated) and fetched["AssignmentStatus"].eq("Submitted").all()
    for name in ("qc_summary.csv",) + (("table25.csv",) if study == "simulatability" else ()):
        local = pd.read_csv(out / "reports-mturk-local" / study / name)
        pd.testing.assert_frame_equal(local, pd.read_csv(out / "reports" / study / name))   # boto3 lost nothing
    assert (out / "reports" / study / "report.md").read_text().startswith("#")
    # the spec written beside the batch (a TOML writer, not string concatenation) rebuilds it
    # (the id covers the spec's settings and the content built from its inputs, not where they live)
    spec = load_spec(out / "specs" / f"{study}.toml")
    content = content_digest(batch, layer_paths(spec.inputs, spec.sampling.layers))
    assert batch_id(spec, content) == manifest["batch_id"]


def test_simulatability_report_recovers_the_simulated_accuracy(demo):
    out, _ = demo
    model = AnnotatorModel.for_study("simulatability")
    table = pd.read_csv(out / "reports" / "simulatability" / "annotation_accuracy.csv").set_index("group")
    for layer in ("dense", "sparse"):
        expected = (1 - model.spammer_share) * model.accuracy[layer] + model.spammer_share / 3
        assert table.loc[layer, "ci_low"] <= expected <= table.loc[layer, "ci_high"]


def test_rerun_reuses_finished_stages(demo):
    out, _ = demo
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--limit", "1500", "--n-alphas", "12"])
    assert result.exit_code == 0, result.output
    assert result.output.count("done before, reused") >= 13


HEADLINE = re.compile(r"^\s+(standard|robust)\s+(dense|sparse)\s+accuracy (\d\.\d{3}),\s+([\d.]+) features per class$",
                      re.MULTILINE)


def test_headline_numbers_within_stated_tolerances(demo):
    """The README's headline block, at this test's scale (1,500 images per split, 12 alphas): the dense
    layers (the shipped models' own) within 0.03 of the accuracies measured on all 10,000 test images
    (fashion_cnn_metrics.json), every feature used; the sparse layers within 0.10 of their dense layer
    with at most 20 features per class (the README shows 2.7 and 5.2 at 5,000 images)."""
    _, output = demo
    found = {(m, layer): (float(acc), float(per_class)) for m, layer, acc, per_class in HEADLINE.findall(output)}
    assert set(found) == {(m, layer) for m in ("standard", "robust") for layer in ("dense", "sparse")}, output
    shipped = json.loads((files("studykit") / "data" / "models" / "fashion_cnn_metrics.json").read_text())
    for model in ("standard", "robust"):
        dense_accuracy, dense_features = found[(model, "dense")]
        sparse_accuracy, sparse_features = found[(model, "sparse")]
        assert abs(dense_accuracy - shipped[model]["metrics"]["clean_accuracy"]) <= 0.03
        assert dense_features == 128.0
        assert dense_accuracy - 0.10 <= sparse_accuracy and 0 < sparse_features <= 20
