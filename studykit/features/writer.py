"""Writing one split of a feature store incrementally, on disk, resumable after a crash.

While a split is being extracted its arrays live in ``OUT/.partial/`` as memory-mapped ``.npy`` files
sized for every item of the split; rows are written in item order and flushed at each checkpoint,
after which ``.partial/progress.json`` records how many items are done. A re-run reads that record
and continues after the last checkpoint. Items that fail (an image that does not decode) are
skipped and listed; when a split completes, its files move into ``OUT/`` (compacted when items failed)
and the split's entry in ``progress.json`` says so. Memory stays flat: only a batch is ever in RAM.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PARTIAL = ".partial"
PROGRESS = "progress.json"
_CHUNK_ROWS = 65536


@dataclass
class SplitState:
    """Progress of one split: items consumed (``done``), rows written, failures, array widths."""

    n_items: int
    done: int = 0
    rows: int = 0
    n_features: int | None = None
    n_outputs: int | None = None
    failed: list = field(default_factory=list)
    complete: bool = False
    #: Shape (C, H, W) of one input as the model received it (images only).
    input_shape: list | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "SplitState":
        return cls(**data)

    def to_dict(self) -> dict:
        return {"n_items": self.n_items, "done": self.done, "rows": self.rows, "n_features": self.n_features,
                "n_outputs": self.n_outputs, "failed": self.failed, "complete": self.complete,
                "input_shape": self.input_shape}


class Progress:
    """``OUT/.partial/progress.json``: a fingerprint of what is extracted and each split's state."""

    def __init__(self, out_dir: Path, fingerprint: dict):
        self.out_dir = Path(out_dir)
        self.partial = self.out_dir / PARTIAL
        self.fingerprint = json.loads(json.dumps(fingerprint))
        self.splits: dict[str, SplitState] = {}

    @classmethod
    def open(cls, out_dir: Path, fingerprint: dict, overwrite: bool) -> "Progress":
        """Resume the extraction in ``out_dir`` or start one; refuse to mix two different extractions."""
        progress = cls(out_dir, fingerprint)
        path = progress.partial / PROGRESS
        if overwrite and progress.partial.exists():
            shutil.rmtree(progress.partial)
        if path.is_file():
            saved = json.loads(path.read_text())
            _check_run_settings(out_dir, saved["fingerprint"], progress.fingerprint)
            if saved["fingerprint"] != progress.fingerprint:
                raise ValueError(f"{out_dir}: holds an unfinished extraction of a different model, layer or "
                                 f"dataset; pass --overwrite to discard it, or choose another folder")
            progress.splits = {k: SplitState.from_dict(v) for k, v in saved["splits"].items()}
        progress.partial.mkdir(parents=True, exist_ok=True)
        return progress

    def state(self, split: str, n_items: int) -> SplitState:
        state = self.splits.setdefault(split, SplitState(n_items))
        if state.n_items != n_items:
            raise ValueError(f"{self.out_dir}: split {split!r} had {state.n_items} items when extraction "
                             f"started, now {n_items}; pass --overwrite to start again")
        return state

    def save(self) -> None:
        path = self.partial / PROGRESS
        tmp = path.with_name(PROGRESS + ".tmp")
        tmp.write_text(json.dumps({"fingerprint": self.fingerprint,
                                   "splits": {k: v.to_dict() for k, v in self.splits.items()}}, indent=1))
        os.replace(tmp, path)

    def finish(self) -> None:
        """Remove ``.partial/`` once the store's ``meta.json`` is written."""
        shutil.rmtree(self.partial, ignore_errors=True)


class SplitWriter:
    """Appends rows of one split to its partial arrays: features, labels, logits, source index."""

    def __init__(self, progress: Progress, split: str, state: SplitState):
        self.progress, self.split, self.state = progress, split, state
        self._arrays: dict[str, np.memmap] = {}
        if state.n_features is not None:
            self._open("r+")

    def _names(self) -> dict[str, tuple]:
        s = self.state
        names = {f"{self.split}.npy": (np.float32, (s.n_items, s.n_features)),
                 f"{self.split}_labels.npy": (np.int64, (s.n_items,)),
                 f"{self.split}_index.npy": (np.int64, (s.n_items,))}
        if s.n_outputs is not None:
            names[f"{self.split}_logits.npy"] = (np.float32, (s.n_items, s.n_outputs))
        return names

    def _open(self, mode: str) -> None:
        for name, (dtype, shape) in self._names().items():
            path = self.progress.partial / name
            self._arrays[name] = np.lib.format.open_memmap(path, mode=mode, dtype=dtype, shape=shape) \
                if mode == "w+" else np.load(path, mmap_mode="r+")

    def append(self, features: np.ndarray, labels: np.ndarray, index: np.ndarray,
               logits: np.ndarray | None, consumed: int, failed: list) -> None:
        """Write a batch's kept rows; ``consumed`` items (kept + failed) are now done."""
        s = self.state
        if s.n_features is None:
            s.n_features = int(features.shape[1])
            s.n_outputs = None if logits is None else int(logits.shape[1])
            self._open("w+")
        stop = s.rows + len(features)
        self._arrays[f"{self.split}.npy"][s.rows:stop] = features
        self._arrays[f"{self.split}_labels.npy"][s.rows:stop] = labels
        self._arrays[f"{self.split}_index.npy"][s.rows:stop] = index
        if logits is not None:
            self._arrays[f"{self.split}_logits.npy"][s.rows:stop] = logits
        s.rows, s.done = stop, s.done + consumed
        s.failed.extend(failed)

    def checkpoint(self) -> None:
        """Flush written rows to disk, then record the progress (in that order)."""
        for array in self._arrays.values():
            array.flush()
        self.progress.save()

    def finalize(self, allow_empty: bool = False) -> list[str]:
        """Move the split's arrays into the store folder (compacted to the kept rows); names written.

        ``allow_empty``: a split (one rank's block of it) without a readable item completes with no
        files instead of raising."""
        self.checkpoint()
        if not self._arrays and not allow_empty:
            raise ValueError(f"split {self.split!r}: no item could be read ({len(self.state.failed)} failed)")
        names = list(self._arrays)
        for name in names:
            source = self.progress.partial / name
            target = self.progress.out_dir / name
            array = self._arrays.pop(name)
            if self.state.rows == self.state.n_items:
                del array
                os.replace(source, target)
            else:
                _compact(array, self.state.rows, target)
                del array
                source.unlink()
        self.state.complete = True
        self.progress.save()
        return names


#: Settings of a sharded run that fix which rows each process writes: resuming needs the same ones.
_RUN_SETTINGS = ("world_size", "batch_size")


def _check_run_settings(out_dir: Path, saved: dict, new: dict) -> None:
    """Name the launch settings (processes, batch size) that differ from the unfinished run's."""
    changed = [k for k in _RUN_SETTINGS if saved.get(k) != new.get(k)]
    same_data = {k: v for k, v in saved.items() if k not in _RUN_SETTINGS} == \
        {k: v for k, v in new.items() if k not in _RUN_SETTINGS}
    if changed and same_data:
        def show(fingerprint):
            return ", ".join(f"{k}={fingerprint.get(k, 'one process' if k == 'world_size' else 'any')}"
                             for k in changed)
        raise ValueError(f"{out_dir}: holds an unfinished extraction started with {show(saved)}, now "
                         f"{show(new)}; resume it with the same number of processes (torchrun "
                         f"--nproc-per-node x --nnodes) and --batch-size, or pass --overwrite to start again")


def _compact(array: np.memmap, rows: int, target: Path) -> None:
    """Copy the first ``rows`` rows of ``array`` to a new ``.npy`` at ``target``, chunk by chunk."""
    tmp = target.with_name(target.name + ".tmp")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=array.dtype, shape=(rows, *array.shape[1:]))
    for start in range(0, rows, _CHUNK_ROWS):
        out[start:start + _CHUNK_ROWS] = array[start:min(rows, start + _CHUNK_ROWS)]
    out.flush()
    del out
    os.replace(tmp, target)
