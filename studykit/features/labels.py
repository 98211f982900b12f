"""Labels and class names from files, as ImageNet, Places365 and most datasets ship them.

Class names (``--class-names FILE``), one class per line, in label order:

* ``n01440764 tench, Tinca tinca``: a WordNet synset and its names (ImageNet's ``LOC_synset_mapping.txt``,
  ``synset_words.txt``); the synset is kept as the class id;
* ``/a/airfield 0``: an id and its label index (Places365's ``categories_places365.txt``); the name is the
  id without its ``/a/`` letter folder, ``_`` and ``/`` as spaces and dashes (``/c/church/outdoor`` ->
  ``church-outdoor``);
* ``tench``: a name alone.

Labels of a flat folder of images (``--labels FILE``), one image per line:

* CSV with a header row: the first column names the file, the second its label (or columns named
  ``file``/``filename``/``image``/``ImageId`` and ``label``/``class``/``synset``/``PredictionString``);
  a label cell's first word counts, so Kaggle's ``LOC_val_solution.csv`` (``n01751748 90 33 ...``) reads;
* whitespace ``file label`` (ILSVRC's ``val.txt``, Places365's ``places365_val.txt``).

A file is matched by its path relative to the split folder, else its name, else its name without
extension. A label is a class index (0-based), a class id (synset), or a class name.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

_SYNSET = re.compile(r"^(n\d{8})\s+(.+)$")
_INDEXED = re.compile(r"^(\S+)\s+(\d+)$")
_FILE_HEADERS = {"file", "filename", "file_name", "image", "imageid", "image_id", "path", "name"}
_LABEL_HEADERS = {"label", "labels", "class", "class_id", "synset", "target", "predictionstring", "category"}


@dataclass(frozen=True)
class ClassNames:
    """Class names in label order, with their ids (synsets, Places ids) when the file gives them."""

    names: tuple[str, ...]
    ids: tuple[str, ...] | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if not self.names:
            raise ValueError("a class list needs at least one class")
        if self.ids is not None and len(self.ids) != len(self.names):
            raise ValueError(f"{len(self.ids)} class ids for {len(self.names)} names")

    def index(self, token: str, where: str) -> int:
        """The label index ``token`` stands for (an index, an id or a name); ``where`` names it in errors."""
        if token.isdigit():
            if int(token) < len(self.names):
                return int(token)
            raise ValueError(f"{where}: label {token} is out of range for {len(self.names)} classes")
        found = self._lookup().get(_key(token))
        if found is None:
            raise ValueError(f"{where}: label {token!r} is not a class" +
                             (f" of {self.source}" if self.source else ""))
        return found

    def _lookup(self) -> dict[str, int]:
        lookup = {}
        for i, name in enumerate(self.names):
            lookup.setdefault(_key(name), i)
        for i, ident in enumerate(self.ids or ()):
            lookup[_key(ident)] = i
        return lookup


def read_class_names(path) -> ClassNames:
    """Read a class-names file in any of the formats of the module docstring."""
    path = Path(path)
    lines = [(n, line.strip()) for n, line in enumerate(_read_text(path).splitlines(), 1) if line.strip()]
    if not lines:
        raise ValueError(f"{path}: no class names in the file")
    if all(_SYNSET.match(line) for _, line in lines):
        pairs = [_SYNSET.match(line).groups() for _, line in lines]
        return ClassNames(tuple(name.strip() for _, name in pairs), tuple(s for s, _ in pairs), str(path))
    if all(_INDEXED.match(line) for _, line in lines):
        by_index = {}
        for n, line in lines:
            ident, index = _INDEXED.match(line).groups()
            if int(index) in by_index:
                raise ValueError(f"{path}:{n}: label index {index} appears twice")
            by_index[int(index)] = ident
        if sorted(by_index) != list(range(len(by_index))):
            raise ValueError(f"{path}: label indices must be 0..{len(by_index) - 1}, each once")
        ids = tuple(by_index[i] for i in range(len(by_index)))
        return ClassNames(tuple(_places_name(i) for i in ids), ids, str(path))
    return ClassNames(tuple(line for _, line in lines), None, str(path))


def read_labels(path) -> dict[str, tuple[str, int]]:
    """``{file as written: (label token, line number)}`` from a labels file (CSV or whitespace)."""
    path = Path(path)
    text = _read_text(path)
    rows = _csv_rows(text) if path.suffix.lower() == ".csv" or _looks_csv(text) else _whitespace_rows(path, text)
    labels: dict[str, tuple[str, int]] = {}
    for n, file, token in rows:
        if not file or not token:
            raise ValueError(f"{path}:{n}: expected a file name and a label")
        if file in labels and labels[file][0] != token:
            raise ValueError(f"{path}:{n}: {file} is labelled twice ({labels[file][0]} and {token})")
        labels[file] = (token, n)
    if not labels:
        raise ValueError(f"{path}: no labels in the file")
    return labels


def match_labels(files: Sequence[Path], folder: Path, labels: dict[str, tuple[str, int]],
                 where: str) -> list[tuple[str, int]]:
    """Each file's ``(label token, line)``; raises naming the first files without a label."""
    by_key: dict[str, tuple[str, int]] = {}
    for written, value in labels.items():
        name = written.replace("\\", "/").rsplit("/", 1)[-1]
        for key in (written.replace("\\", "/"), name, name.rsplit(".", 1)[0]):
            by_key.setdefault(key, value)
    found, missing = [], []
    for file in files:
        rel = file.relative_to(folder).as_posix()
        value = by_key.get(rel) or by_key.get(file.name) or by_key.get(file.stem)
        if value is None:
            missing.append(rel)
        found.append(value)
    if missing:
        raise ValueError(f"{folder}: {len(missing)} of {len(files)} images have no label in {where} "
                         f"(first: {', '.join(missing[:3])})")
    return found


def classes_from_tokens(tokens: Sequence[str]) -> ClassNames:
    """Classes when no class list is given: indices 0..max when every label is one, else the sorted labels."""
    unique = sorted(set(tokens))
    if all(t.isdigit() for t in unique):
        return ClassNames(tuple(str(i) for i in range(max(int(t) for t in unique) + 1)))
    return ClassNames(tuple(unique), tuple(unique) if all(_SYNSET.match(t + " x") for t in unique) else None)


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None


def _looks_csv(text: str) -> bool:
    first = next((line for line in text.splitlines() if line.strip()), "")
    return "," in first


def _csv_rows(text: str):
    reader = list(csv.reader(text.splitlines()))
    rows = [(n, row) for n, row in enumerate(reader, 1) if any(cell.strip() for cell in row)]
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0][1]]
    file_col, label_col = 0, 1
    if set(header) & (_FILE_HEADERS | _LABEL_HEADERS):
        file_col = next((i for i, h in enumerate(header) if h in _FILE_HEADERS), 0)
        label_col = next((i for i, h in enumerate(header) if h in _LABEL_HEADERS), 1)
        rows = rows[1:]
    out = []
    for n, row in rows:
        file = row[file_col].strip() if len(row) > file_col else ""
        cell = row[label_col].split() if len(row) > label_col else []
        out.append((n, file, cell[0] if cell else ""))
    return out


def _whitespace_rows(path: Path, text: str):
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}:{n}: expected 'file label' (two fields), found {len(parts)} "
                             f"({line.strip()[:60]!r})")
        out.append((n, parts[0], parts[1]))
    return out


def _places_name(ident: str) -> str:
    parts = [p for p in ident.split("/") if p]
    if len(parts) > 1 and len(parts[0]) == 1:
        parts = parts[1:]
    return "-".join(parts).replace("_", " ")


def _key(text: str) -> str:
    """Loose key for matching folder names, ids and names: ``/c/church/outdoor`` ~ ``church-outdoor``."""
    text = text.strip().lower()
    parts = [p for p in text.split("/") if p]
    if len(parts) > 1 and len(parts[0]) == 1:
        text = "/".join(parts[1:])
    return re.sub(r"[\s/_\-']+", "_", text).strip("_")
