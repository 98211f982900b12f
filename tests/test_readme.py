"""The README's workflow runs as written: its Python blocks and its `studykit` commands, in order."""

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from studykit.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def workflow_blocks():
    text = README.read_text()
    section = text[text.index("## Workflow"):text.index("## The solver")]
    return re.findall(r"```(python|bash)\n(.*?)```", section, flags=re.S)


def test_readme_workflow_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = workflow_blocks()
    assert [lang for lang, _ in blocks] == ["bash", "python", "bash", "bash", "python"]
    runner = CliRunner()
    for lang, code in blocks:
        if lang == "python":
            exec(compile(code, str(README), "exec"), {})
            continue
        for line in code.strip().splitlines():
            args = shlex.split(line)
            assert args[0] == "studykit"
            result = runner.invoke(main, args[1:], catch_exceptions=False)
            assert result.exit_code == 0, result.output
    assert (tmp_path / "features" / "dense_layer.npz").exists()
    assert (tmp_path / "my-features" / "meta.json").exists()
    assert (tmp_path / "path" / "path.npz").exists()
    assert (tmp_path / "path" / "layers" / "sparse.npz").exists()
    assert (tmp_path / "sparse.npz").exists()
