"""Building a batch folder (``docs/batch-folder.md``) from a :class:`~studykit.tasks.spec.TaskSpec`.

:func:`build_batch` samples the study, shuffles the tasks (so HITs of one class or layer are not
posted together), and writes ``manifest.json``, ``tasks.csv``, ``answer_key.csv``, ``hits/<task_id>.html``
and ``.xml``, ``assets/`` and ``requester_ui/``. Nothing in it depends on the time or the machine: the
same spec and seed give a byte-identical batch. The folder is written next to its destination and
moved into place at the end, so a failed build leaves nothing behind.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from studykit import __version__
from studykit.formats.batch import ANSWER_KEY_CSV, HITS_DIR, TASKS_CSV, read_manifest, write_manifest
from studykit.formats.studies import study_schema

from .assets import ASSETS_DIR, AssetWriter, FeatureImages, TaskImages, as_feature_images
from .data import StudyData, layer_paths, load_study_data
from .misclassification import build_misclassification
from .render import html_question, render_page, requester_template
from .sampling import Counts, PageTask
from .simulatability import build_simulatability
from .spec import TaskSpec
from .spurious import build_spurious

__all__ = ["FORMAT", "build_batch", "write_batch", "batch_id", "answer_fields", "describe_batch"]

log = logging.getLogger(__name__)

FORMAT = "studykit-batch/1"
BUILDERS: Mapping[str, Callable[..., tuple[list[PageTask], Counts]]] = {
    "simulatability": build_simulatability,
    "spurious": build_spurious,
    "misclassification": build_misclassification,
}


def batch_id(spec: TaskSpec) -> str:
    """``<prefix>-<12 hex digits>`` (prefix from the study registry: sim, spu, mis) derived from the whole spec (seed included)."""
    digest = hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True).encode()).hexdigest()
    return f"{study_schema(spec.study).batch_prefix}-{digest[:12]}"


def answer_fields(study: str) -> dict[str, str]:
    """The manifest's ``answers``: ``Answer.<name>`` -> canonical name, for every field the pages post."""
    names = [field.name for field in study_schema(study).answers] + ["task_id"]
    return {f"Answer.{name}": name for name in names}


def build_batch(spec: TaskSpec, out: str | os.PathLike, *,
                feature_images: FeatureImages | str | os.PathLike | None = None) -> Path:
    """Sample the study of ``spec`` and write its batch folder.

    Parameters
    ----------
    spec : TaskSpec
    out : path-like
        The batch folder; it must not exist or be empty.
    feature_images : callable or folder, optional
        Images of the deep features (``feature -> PNG path``, or a folder of ``feature_<i>.png``);
        default: ``spec.inputs.feature_images``.

    Returns
    -------
    Path
        The batch folder.

    Raises
    ------
    FileExistsError
        When ``out`` exists and is not an empty folder.
    ValueError
        When the spec can build nothing (the message says why) or a page breaks MTurk's limits.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} already exists and is not an empty folder; choose a new --out")
    data = load_study_data(spec.inputs, spec.sampling.layers)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    staging.chmod(0o755)
    try:
        write_batch(spec, data, staging, feature_images=as_feature_images(
            feature_images if feature_images is not None else spec.inputs.feature_images))
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def write_batch(spec: TaskSpec, data: StudyData, directory: Path, *, feature_images: FeatureImages | None) -> None:
    """Sample the study on ``data`` and write every file of the batch into the existing folder ``directory``."""
    images = TaskImages(AssetWriter(directory / ASSETS_DIR, max_size=spec.page.image_size), data.image,
                        feature_images)
    rng = np.random.default_rng(spec.seed)
    pages, counts = BUILDERS[spec.study](data, spec.sampling, rng, images)
    pages = [pages[i] for i in rng.permutation(len(pages))]
    width = max(5, len(str(len(pages) - 1)))
    task_ids = [f"t{i:0{width}d}" for i in range(len(pages))]
    columns = ["task_id", *pages[0].variables]
    _write_csv(directory / TASKS_CSV, columns, [{"task_id": t, **p.variables} for t, p in zip(task_ids, pages)])
    _write_csv(directory / ANSWER_KEY_CSV, ["task_id", *pages[0].key],
               [{"task_id": t, **p.key} for t, p in zip(task_ids, pages)])
    _write_pages(spec, directory, task_ids, pages)
    _write_requester_ui(spec, directory, columns, task_ids, pages)
    manifest = {
        "format": FORMAT, "batch_id": batch_id(spec), "study": spec.study, "seed": spec.seed,
        "studykit_version": __version__, "spec": spec.to_dict(),
        "layers": data.describe_layers(layer_paths(spec.inputs, spec.sampling.layers)),
        "counts": counts.to_dict(), "hit": dataclasses.asdict(spec.hit), "n_hits": len(pages),
        "answers": answer_fields(spec.study), "asset_base_url": None,
    }
    write_manifest(directory, manifest)
    log.info("batch %s: %d HITs, %d images", manifest["batch_id"], len(pages), len(images.writer.names))


def _write_pages(spec: TaskSpec, directory: Path, task_ids: list[str], pages: list[PageTask]) -> None:
    """``hits/<task_id>.html`` (images from ``../assets/``, so the file opens as is in a browser) and
    ``hits/<task_id>.xml`` (images from ``assets/``, which ``studykit mturk host`` points at hosted URLs)."""
    hits = directory / HITS_DIR
    hits.mkdir()
    for task_id, page in zip(task_ids, pages):
        common = {"task_id": task_id, "title": spec.hit.title, "consent": spec.page.consent_text}
        html = render_page(spec.study, page.variables, asset_url=lambda name: f"../{ASSETS_DIR}/{name}", **common)
        posted = render_page(spec.study, page.variables, asset_url=lambda name: f"{ASSETS_DIR}/{name}", **common)
        _write_text(hits / f"{task_id}.html", html)
        _write_text(hits / f"{task_id}.xml", html_question(posted, frame_height=spec.page.frame_height))


def _write_requester_ui(spec: TaskSpec, directory: Path, columns: list[str], task_ids: list[str],
                        pages: list[PageTask]) -> None:
    """``requester_ui/template.html`` and ``input.csv``, whose image cells are ``assets/<name>`` URLs to be
    prefixed with the hosting base URL (see docs/tasks.md)."""
    folder = directory / "requester_ui"
    folder.mkdir()
    _write_text(folder / "template.html", requester_template(spec.study, columns, title=spec.hit.title,
                                                              consent=spec.page.consent_text))
    rows = [{"task_id": task_id, **{name: f"{ASSETS_DIR}/{value}" if _is_image(name) else value
                                    for name, value in page.variables.items()}}
            for task_id, page in zip(task_ids, pages)]
    _write_csv(folder / "input.csv", columns, rows)


def _is_image(column: str) -> bool:
    """Image columns are named ``image...`` or ``pattern_...`` (their cells are asset file names)."""
    return column.startswith(("image", "pattern_"))


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _write_text(path, buffer.getvalue())


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="")


def describe_batch(directory: str | os.PathLike) -> str:
    """A few lines on a batch folder: study, id, HITs, what was requested and built, and why fewer."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    counts = manifest.get("counts", {})
    lines = [f"{directory}: {manifest.get('study')} batch {manifest.get('batch_id')}, "
             f"{manifest.get('n_hits')} HITs, seed {manifest.get('seed')}"]
    requested, built = counts.get("requested", {}), counts.get("built", {})
    for name in requested:
        lines.append(f"  {name}: {built.get(name, 0)} built of {requested[name]} requested")
    lines += [f"  note: {note}" for note in counts.get("notes", [])]
    return "\n".join(lines)
