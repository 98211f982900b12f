"""studykit._progress: the one progress helper (a tqdm bar on a terminal, log lines otherwise)."""

import ast
import logging
from pathlib import Path

import studykit
from studykit import _progress
from studykit._progress import LogProgress, progress_bar, silenced


def test_every_progress_bar_goes_through_the_helper():
    """No module but studykit/_progress.py imports tqdm: a bar elsewhere would print carriage-return
    updates into logs."""
    root = Path(studykit.__file__).parent
    offenders = []
    for module in root.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(name.split(".")[0] == "tqdm" for name in names) and module.name != "_progress.py":
                offenders.append(f"{module.relative_to(root)}:{node.lineno}")
    assert offenders == []


def test_progress_bar_picks_its_form(monkeypatch, caplog):
    from tqdm.auto import tqdm

    monkeypatch.setattr(_progress, "stderr_is_terminal", lambda: False)
    with caplog.at_level(logging.INFO, logger="studykit.progress"):
        bar = progress_bar(total=1000, desc="work", unit="step")
        assert isinstance(bar, LogProgress)
        for _ in range(1000):
            bar.update(1)
        bar.set_postfix(nnz=3)
        bar.close()
        assert sum(1 for _ in progress_bar(range(5), desc="loop")) == 5
    messages = [r.getMessage() for r in caplog.records if r.name == "studykit.progress"]
    assert messages == ["work: started, 0/1000 step (0%)", messages[1], "loop: started, 0/5 it (0%)", messages[3]]
    assert messages[1].startswith("work: done, 1000/1000 step (100%) in ") and messages[1].endswith("(nnz=3)")
    assert messages[3].startswith("loop: done, 5/5 it (100%)")
    monkeypatch.setattr(_progress, "stderr_is_terminal", lambda: True)
    assert isinstance(progress_bar(total=3), tqdm) and not progress_bar(total=3).disable
    with silenced():
        assert progress_bar(total=3).disable
    assert progress_bar(total=3, disable=True).disable
