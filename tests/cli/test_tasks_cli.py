"""``studykit tasks build|show`` and ``studykit preview --help``."""

import json

from click.testing import CliRunner

from studykit.cli import main


def _spec_file(tmp_path, folders, study="spurious", extra=""):
    path = tmp_path / f"{study}.toml"
    path.write_text(f'study = "{study}"\nseed = 1\n[inputs]\nstore = "{folders["store"]}"\npath = "{folders["path"]}"\n'
                    f'coefficients = "raw"\n[sampling]\nn_pairs = 4\nn_images = 2\n{extra}')
    return path


def test_build_then_show(study_inputs, tmp_path):
    runner = CliRunner()
    out = tmp_path / "batch"
    done = runner.invoke(main, ["tasks", "build", str(_spec_file(tmp_path, study_inputs)), "--out", str(out),
                                "--seed", "5"])
    assert done.exit_code == 0, done.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 5 and f"{manifest['n_hits']} HITs" in done.output
    assert "pairs_dense: 4 built of 4 requested" in done.output
    shown = runner.invoke(main, ["tasks", "show", str(out)])
    assert shown.exit_code == 0, shown.output
    assert "spurious batch spu-" in shown.output and "x $0.07 reward" in shown.output and "total" in shown.output


def test_build_errors_are_one_line(study_inputs, tmp_path):
    runner = CliRunner()
    done = runner.invoke(main, ["tasks", "build", str(tmp_path / "absent.toml"), "--out", str(tmp_path / "b")])
    assert done.exit_code == 1 and "no such spec file" in done.output
    spec = _spec_file(tmp_path, study_inputs, extra="n_colors = 3\n")
    done = runner.invoke(main, ["tasks", "build", str(spec), "--out", str(tmp_path / "b")])
    assert done.exit_code == 1 and "unknown key(s) n_colors" in done.output and "Traceback" not in done.output


def test_preview_is_registered():
    done = CliRunner().invoke(main, ["preview", "--help"])
    assert done.exit_code == 0 and "127.0.0.1" in done.output


def test_feature_images_option_completes_the_spec(study_inputs, tmp_path):
    spec = tmp_path / "mis.toml"
    spec.write_text(f'study = "misclassification"\n[inputs]\nstore = "{study_inputs["store"]}"\n'
                    f'path = "{study_inputs["path"]}"\ncoefficients = "raw"\n[sampling]\nn_tasks = 3\n')
    out = tmp_path / "batch"
    done = CliRunner().invoke(main, ["tasks", "build", str(spec), "--out", str(out),
                                     "--feature-images", str(study_inputs["features"])])
    assert done.exit_code == 0, done.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["spec"]["inputs"]["feature_images"] == str(study_inputs["features"]) and manifest["n_hits"] == 3


def test_tasks_build_refuses_a_spec_mturk_would_refuse(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('study = "simulatability"\n[inputs]\nstore = "s"\npath = "p"\n[hit]\nmax_assignments = 2000000\n')
    result = CliRunner().invoke(main, ["tasks", "build", str(spec), "--out", str(tmp_path / "b")])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code != 0 and len(lines) == 1, result.output
    assert lines[0].startswith("Error:") and "hit.max_assignments=2000000" in lines[0]
    assert not (tmp_path / "b").exists()
