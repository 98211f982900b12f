"""The same spec builds byte-identical batches in separate processes (issue 20): another hash seed,
working directory and time zone change nothing. The inputs are the same absolute folders."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path


from studykit.tasks import STUDIES

HERE = Path(__file__).resolve().parent
BUILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from studykit.tasks import build_batch
    from tasks_inputs_factory import small_spec
    root = Path(sys.argv[1])
    folders = {name: root / name for name in ("store", "path", "features")}
    for study in sys.argv[3:]:
        build_batch(small_spec(study, folders), Path(sys.argv[2]) / study)
""")


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_batches_are_byte_identical_across_processes(study_inputs, tmp_path):
    root = study_inputs["store"].parent
    outs = []
    for i, (hash_seed, tz) in enumerate((("1", "UTC"), ("4242", "Pacific/Chatham"))):
        cwd = tmp_path / f"cwd{i}"
        cwd.mkdir()
        out = tmp_path / f"out{i}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "TZ": tz,
               "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
        subprocess.run([sys.executable, "-c", BUILD, str(root), str(out), *STUDIES], cwd=cwd, env=env, check=True,
                       timeout=600)
        outs.append(out)
    for study in STUDIES:
        first, second = _files(outs[0] / study), _files(outs[1] / study)
        assert len(first) > 5 and first.keys() == second.keys()
        differ = [name for name in first if first[name] != second[name]]
        assert not differ, f"{study}: files differ between processes: {differ[:5]}"
