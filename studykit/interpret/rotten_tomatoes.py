"""The shipped sentiment corpus: Rotten Tomatoes review snippets (Pang & Lee 2005), offline.

12,808 one-sentence snippets of movie reviews, 7,403 ``fresh`` (positive) and 5,405 ``rotten``
(negative), from the data SST was built from; the file and its citation are in
``studykit/data/text/`` (see the README there). :func:`rotten_tomatoes_splits` gives seeded train /
val / test splits in the form :func:`studykit.features.text.extract_text` takes.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from studykit.features.sources import split_indices

#: Class names, indexed by label: 0 = rotten (negative), 1 = fresh (positive).
CLASSES = ("rotten", "fresh")


def corpus_path() -> Path:
    """The shipped ``rotten_tomatoes_corpus_full.csv.bz2``."""
    return Path(str(resources.files("studykit") / "data" / "text" / "rotten_tomatoes_corpus_full.csv.bz2"))


def load_rotten_tomatoes() -> pd.DataFrame:
    """The review snippets in file order: columns ``text``, ``label`` (0 rotten, 1 fresh), ``movie_name``."""
    path = corpus_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (it is package data of studykit; reinstall the package)")
    frame = pd.read_csv(path, keep_default_na=False)
    reviews = frame[frame["category"].isin(CLASSES)]
    return pd.DataFrame({"text": reviews["text"].astype(str),
                         "label": reviews["category"].map(CLASSES.index).astype(np.int64),
                         "movie_name": reviews["movie_name"].astype(str)}).reset_index(drop=True)


def rotten_tomatoes_splits(val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0,
                           limit: int | None = None) -> dict[str, tuple[list[str], list[int]]]:
    """Seeded random train / val / test splits of the snippets: ``{split: (sentences, labels)}``.

    ``test_fraction`` of all snippets is drawn first, then ``val_fraction`` of all from the rest;
    ``limit`` keeps the first ``limit`` of each split (quick trials). Each split keeps file order.
    """
    if not (0 <= test_fraction < 1 and 0 <= val_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"val_fraction={val_fraction!r} and test_fraction={test_fraction!r} are invalid: "
                         f"expected fractions in [0, 1) with a sum below 1")
    if limit is not None and limit < 1:
        raise ValueError(f"limit={limit!r} is invalid: expected None or an integer >= 1")
    frame = load_rotten_tomatoes()
    rest, test = split_indices(len(frame), test_fraction, seed)
    train, val = split_indices(len(rest), val_fraction / (1 - test_fraction), seed + 1)
    parts = {"train": rest[train], "val": rest[val], "test": test}
    return {name: (frame["text"].iloc[idx[:limit]].tolist(), frame["label"].iloc[idx[:limit]].tolist())
            for name, idx in parts.items() if len(idx)}
