"""Feature extraction across the ranks of a process group (``torchrun``), byte-identical to one process.

Each of the P ranks extracts one contiguous block of every split, cut at batch boundaries: rank r
gets batches ``[B r / P, B (r + 1) / P)`` of the B batches one process would run, so every batch
holds exactly the items it holds in one process and produces the same bytes. A rank writes its block
with the single-process writer into its own folder, ``OUT/.partial/rank-R/`` (its own memmaps, its
own ``progress.json``, checkpointed every ``checkpoint_every`` batches), so a crashed run resumes
rank by rank. No two processes ever write the same file, which keeps shared file systems (NFS,
Lustre) out of the picture of concurrent writes to one page.

When every rank has finished a split, rank 0 joins the blocks in rank order (= item order) into
``OUT/{split}*.npy`` (one sequential copy, chunk by chunk), writes the row -> source mapping
from the joined index, records the split as complete in ``OUT/.partial/progress.json`` and deletes
the blocks. After the last split and a barrier, rank 0 writes the dense layer and ``meta.json``, the
mark of a complete store. Only small summaries (row counts, failures) travel between ranks.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np

from studykit.distributed import all_gather_object, barrier, collective, shard_range, world

from .extract import (FeatureStore, _Capture, _fingerprint, _image_batches, _refuse_complete_store, _tf32,
                      _write_split, _write_store, find_layer)
from .sources import SplitSource, write_sources
from .writer import _CHUNK_ROWS, PARTIAL, Progress, SplitState

logger = logging.getLogger(__name__)


def batch_block(n_items: int, batch_size: int, rank: int, world_size: int) -> range:
    """The items of rank ``rank``: a contiguous run of whole batches (the last batch may be short)."""
    n_batches = -(-n_items // batch_size)
    first, stop = shard_range(n_batches, rank, world_size)
    return range(min(first * batch_size, n_items), min(stop * batch_size, n_items))


def extract_sharded(model, splits: dict[str, SplitSource], out_dir, *, classes, model_info: dict,
                    dataset_info: dict, config, normalize: dict | None = None,
                    progress: bool = True) -> FeatureStore:
    """:func:`~studykit.features.extract.extract_features` run by every rank of the active group.

    Every rank must call it with the same arguments (the model on its own device). Returns the
    complete store on every rank.
    """
    rank, size = world()
    out_dir = Path(out_dir)
    collective(lambda: _refuse_complete_store(out_dir, config.overwrite))
    layer = find_layer(model, config.layer)
    blocks = {name: [batch_block(len(s.dataset), config.batch_size, r, size) for r in range(size)]
              for name, s in splits.items()}
    fingerprint = dict(_fingerprint(model_info, layer[0], layer[2], config, dataset_info, normalize, splits),
                       world_size=size, batch_size=config.batch_size)
    top = collective(lambda: _open_top(out_dir, fingerprint, config.overwrite) if rank == 0 else None)
    run = collective(lambda: Progress.open(out_dir / PARTIAL / f"rank-{rank}", dict(fingerprint, rank=rank),
                                           overwrite=False))
    with _tf32(config.allow_tf32), contextlib.closing(_Capture(layer[1], layer[2], config.pool)) as capture:
        for split, source in splits.items():
            block = blocks[split][rank]
            state = run.state(split, len(block))
            batches = _image_batches(model, source, capture, config, state, normalize, items=block)
            collective(lambda: _write_split(run, split, source, batches, progress and rank == 0,
                                            config.checkpoint_every, shard=f"rank {rank} of {size}"))
            states = [SplitState.from_dict(s) for s in all_gather_object(state.to_dict())]
            collective(lambda: _join(top, split, source, states) if rank == 0 else None)
    barrier()
    collective(lambda: _write_store(top, splits, classes, model_info, dataset_info, config, layer, size)
               if rank == 0 else None)
    return FeatureStore.open(out_dir)


def _open_top(out_dir: Path, fingerprint: dict, overwrite: bool) -> Progress:
    """Rank 0: the run's own ``progress.json``, saved at once so that any other run can tell it is there."""
    top = Progress.open(out_dir, fingerprint, overwrite)
    top.save()
    return top


def _join(top: Progress, split: str, source: SplitSource, states: list[SplitState]) -> None:
    """Rank 0: the ranks' blocks of ``split`` -> the store's arrays, its sources file, its state."""
    if split in top.splits and top.splits[split].complete:
        logger.info("split %s: already joined, skipped", split)
        return
    merged = _merge(split, states)
    names = _array_names(split, merged)
    for name in names:
        _concatenate([top.partial / f"rank-{r}" / name for r, s in enumerate(states) if s.rows],
                     top.out_dir / name, merged.rows)
    write_sources(top.out_dir, split, source)
    top.splits[split] = merged
    top.save()
    for r in range(len(states)):
        for name in names:
            (top.partial / f"rank-{r}" / name).unlink(missing_ok=True)
    logger.info("split %s: %d rows joined from %d processes", split, merged.rows, len(states))


def _merge(split: str, states: list[SplitState]) -> SplitState:
    """One split's state from its blocks' (in rank order, so failures stay in item order)."""
    kept = [s for s in states if s.rows]
    if not kept:
        raise ValueError(f"split {split!r}: no item could be read ({sum(len(s.failed) for s in states)} failed)")
    return SplitState(n_items=sum(s.n_items for s in states), done=sum(s.done for s in states),
                      rows=sum(s.rows for s in states), n_features=kept[0].n_features,
                      n_outputs=kept[0].n_outputs, failed=[f for s in states for f in s.failed],
                      complete=True, input_shape=kept[0].input_shape)


def _array_names(split: str, state: SplitState) -> list[str]:
    names = [f"{split}.npy", f"{split}_labels.npy", f"{split}_index.npy"]
    return names + ([f"{split}_logits.npy"] if state.n_outputs is not None else [])


def _concatenate(parts: list[Path], target: Path, rows: int) -> None:
    """Rows of the ``.npy`` files ``parts``, in order, into ``target`` (via a temporary name)."""
    first = np.load(parts[0], mmap_mode="r")
    tmp = target.with_name(target.name + ".tmp")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=first.dtype, shape=(rows, *first.shape[1:]))
    offset = 0
    for path in parts:
        part = np.load(path, mmap_mode="r")
        for start in range(0, len(part), _CHUNK_ROWS):
            chunk = part[start:start + _CHUNK_ROWS]
            out[offset:offset + len(chunk)] = chunk
            offset += len(chunk)
        del part
    if offset != rows:
        raise ValueError(f"{target}: the blocks hold {offset} rows, their progress records {rows}")
    out.flush()
    del out, first
    tmp.replace(target)
