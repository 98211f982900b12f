"""The README's workflow runs as written, in order: its commands, its TOML spec and its Python blocks.

The data and model the README calls "yours" are made here from Fashion-MNIST and the shipped robust
CNN; MTurk is a local server speaking its protocol, reached through botocore's standard
``AWS_ENDPOINT_URL_MTURK``, with simulated workers answering between ``mturk post`` and ``fetch``.
"""

import re
import shlex
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from studykit.cli import main
from studykit.demo import submit_simulated_work
from studykit.datasets import load_fashion_mnist
from studykit.models.zoo import default_weights_path
from studykit.mturk.local import FakeMTurkServer

README = Path(__file__).resolve().parents[1] / "README.md"


def workflow_blocks():
    text = README.read_text()
    section = text[text.index("## Workflow"):text.index("## Posting to Mechanical Turk")]
    return re.findall(r"```(python|bash|toml)\n(.*?)```", section, flags=re.S)


@pytest.fixture
def your_data(tmp_path):
    """my-images/{train,test}/<class>/*.png (2,000 Fashion-MNIST photos) and my_cnn.pt (a checkpoint)."""
    for split, per_class in (("train", 150), ("test", 50)):
        arrays = load_fashion_mnist(split, download=False)
        for label, name in enumerate(arrays.classes):    # folders sort in the checkpoint's class order
            folder = tmp_path / "my-images" / split / f"{label}-{name.replace('/', '-')}"
            folder.mkdir(parents=True)
            for i in np.flatnonzero(arrays.labels == label)[:per_class]:
                Image.fromarray(arrays.images[i]).save(folder / f"{i}.png")
    shutil.copy(default_weights_path("robust"), tmp_path / "my_cnn.pt")


@pytest.fixture
def local_mturk(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "readme-test")
    with FakeMTurkServer() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_MTURK", server.endpoint_url)
        yield server


def run_preview(args):
    """``studykit preview batch`` in its own process: its index lists the HITs; then it is stopped."""
    process = subprocess.Popen([sys.executable, "-m", "studykit.cli", *args[1:]], stdout=subprocess.PIPE, text=True)
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+/?", process.stdout.readline()).group(0)
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200 and "t00000" in response.read().decode()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_readme_workflow_runs(tmp_path, monkeypatch, your_data, local_mturk):
    monkeypatch.chdir(tmp_path)
    blocks = workflow_blocks()
    assert [lang for lang, _ in blocks] == ["bash"] * 3 + ["toml"] + ["bash"] * 5 + ["python"] * 2
    runner = CliRunner()
    for lang, code in blocks:
        if lang == "toml":
            Path(code.splitlines()[0].removeprefix("# ").strip()).write_text(code)
        elif lang == "python":
            exec(compile(code, str(README), "exec"), {})
        for line in code.strip().splitlines() if lang == "bash" else ():
            args = shlex.split(line)
            assert args[0] == "studykit"
            if args[1] == "preview":
                run_preview(args)
                continue
            if args[1:3] == ["mturk", "post"]:      # real workers need HTTPS images: a placeholder host
                hosted = runner.invoke(main, ["mturk", "host", "batch", "--base-url", "https://assets.example.invalid"])
                assert hosted.exit_code == 0, hosted.output
            result = runner.invoke(main, args[1:], catch_exceptions=False)
            assert result.exit_code == 0, f"{line}\n{result.output}"
            if args[1:3] == ["mturk", "post"]:
                assert submit_simulated_work(local_mturk, tmp_path / "batch") > 0
    assert (tmp_path / "features" / "dense_layer.npz").exists()
    assert (tmp_path / "path" / "layers" / "sparse.npz").exists()
    fetched, simulated = pd.read_csv(tmp_path / "results.csv"), pd.read_csv(tmp_path / "Batch_4242_batch_results.csv")
    assert len(fetched) == len(simulated) > 0
    for report in ("report", "report-website"):
        assert (tmp_path / report / "table25.csv").exists()
    assert (tmp_path / "sparse.npz").exists()
