"""The package's floors, checked on the source with ast so they cannot drift back:

- ``studykit._io`` and ``studykit.formats`` (the ground floor) import no other studykit subpackage
  (formats may import ``studykit._io``), and no torch, boto3 or botocore;
- ``studykit.analysis`` imports only ``studykit.formats`` and ``studykit._io`` of studykit, and no torch,
  boto3 or botocore;
- ``studykit.tasks``, ``studykit.mturk`` and ``studykit.preview`` never import ``studykit.analysis``.
"""

import ast
from pathlib import Path

import pytest

import studykit

PACKAGE = Path(studykit.__file__).parent
HEAVY = ("torch", "torchvision", "boto3", "botocore")


def imports(path: Path, package_dir: Path = PACKAGE) -> set[str]:
    """Every module ``path`` imports, anywhere in the file (function bodies included), relative ones resolved."""
    module = ".".join(path.relative_to(package_dir.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)   # `from studykit import analysis`
    return found


def files(subpackage: str, package_dir: Path = PACKAGE) -> list[Path]:
    target = package_dir / subpackage
    return [target] if target.suffix == ".py" else sorted(target.rglob("*.py"))


def studykit_parts(names: set[str]) -> set[str]:
    """The studykit subpackages/modules named (``studykit.formats.hit`` -> ``formats``)."""
    parts = set()
    for name in names:
        pieces = name.split(".")
        if pieces[0] == "studykit" and len(pieces) > 1 and \
                ((PACKAGE / pieces[1]).is_dir() or (PACKAGE / f"{pieces[1]}.py").is_file()):
            parts.add(pieces[1])
    return parts


def offences(subpackage: str, allowed: set[str], package_dir: Path = PACKAGE) -> list[str]:
    found = []
    for path in files(subpackage, package_dir):
        names = imports(path, package_dir)
        found += [f"{path.relative_to(package_dir)} imports {name}" for name in sorted(names)
                  if name.split(".")[0] in HEAVY]
        found += [f"{path.relative_to(package_dir)} imports studykit.{part}"
                  for part in sorted(studykit_parts(names) - allowed)]
    return found


@pytest.mark.parametrize("subpackage, allowed", [
    ("_io.py", set()), ("formats", {"formats", "_io"}), ("analysis", {"analysis", "formats", "_io"}),
])
def test_lower_floors_import_only_what_is_below_them(subpackage, allowed):
    assert offences(subpackage, allowed) == []


@pytest.mark.parametrize("subpackage", ["tasks", "mturk", "preview"])
def test_producers_do_not_import_analysis(subpackage):
    bad = [f"{path.relative_to(PACKAGE)}" for path in files(subpackage) if "analysis" in studykit_parts(imports(path))]
    assert bad == []


def test_the_checker_sees_what_it_must(tmp_path):
    """A deliberate violation, written the ways imports are written, is caught (on a copy of the layout)."""
    package = tmp_path / "studykit"
    for name in ("formats", "analysis", "tasks"):
        (package / name).mkdir(parents=True)
    (package / "formats" / "probe.py").write_text(
        "def f():\n    import torch\n    from ..analysis import plan\n    from studykit import tasks\n")
    found = offences("formats", {"formats", "_io"}, package)
    assert any("imports torch" in line for line in found)
    assert any("studykit.analysis" in line for line in found) and any("studykit.tasks" in line for line in found)
