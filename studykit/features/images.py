"""From a feature-store row back to the image (or sentence) it was computed from.

HITs show the images behind rows: ``row_image(store, "test", 17)`` opens the file of row 17 of the
test split (file-backed stores) or takes it from the embedded dataset (``fashion-mnist:*`` origins).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from .store import FeatureStore


def row_origin(store: FeatureStore, split: str, row: int) -> tuple[str, int]:
    """``(origin, index)``: where row ``row`` of ``split`` comes from (``("fashion-mnist:train", 5012)``)."""
    info = _split_info(store, split)
    index = np.load(store.directory / info["index"], mmap_mode="r")
    if not 0 <= row < len(index):
        raise IndexError(f"{store.directory}: split {split!r} has {len(index)} rows, no row {row}")
    return info["origin"], int(index[row])


def row_source(store: FeatureStore, split: str, row: int) -> str:
    """The file path (relative to the dataset root) or sentence of row ``row``, from ``{split}_sources.jsonl``."""
    info = _split_info(store, split)
    if not info.get("sources"):
        origin, index = row_origin(store, split, row)
        return f"{origin}#{index}"
    return _sources(str(store.directory / info["sources"]))[row]


def row_image(store: FeatureStore, split: str, row: int):
    """Row ``row`` of ``split`` as a PIL image."""
    from PIL import Image

    origin, index = row_origin(store, split, row)
    if origin.startswith("folder:"):
        root = Path(store.meta["dataset"]["name"].removeprefix("folder:"))
        return Image.open(root / row_source(store, split, row))
    name, _, part = origin.partition(":")
    if name in ("fashion-mnist", "sklearn-digits"):
        return _embedded(origin).image(index)
    raise ValueError(f"{store.directory}: rows of origin {origin!r} cannot be mapped back to images "
                     f"(extracted from arrays in memory)")


def _split_info(store: FeatureStore, split: str) -> dict:
    splits = store.meta.get("splits") or {}
    if split not in splits:
        raise ValueError(f"{store.directory}: meta.json records no row mapping for split {split!r}")
    return splits[split]


@lru_cache(maxsize=4)
def _embedded(origin: str):
    from studykit.datasets import load_default

    name, _, part = origin.partition(":")
    arrays, _ = load_default(part)
    if arrays.name != origin:
        raise ValueError(f"the store's rows come from {origin}, but only {arrays.name} is available here")
    return arrays


@lru_cache(maxsize=8)
def _sources(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]
