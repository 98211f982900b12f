"""Language counterfactuals from word clouds and a decision layer (Algorithm 3, appendix F.1).

For a sentence ``x = (x_1, ..., x_n)`` with deep encoding ``z`` and the layer's prediction
``y = argmax_y w_y z + b_y``:

1. ``Z = Z+ u Z-`` with ``Z+ = {(x_j, z_i) : x_j in WordCloud+(z_i), w_yi > 0}`` and
   ``Z- = {(x_j, z_i) : x_j in WordCloud-(z_i), w_yi < 0}``: the deep features that use words of the
   sentence as evidence for ``y``.
2. Draw ``(x_j, z_i)`` uniformly from ``Z``.
3. If it came from ``Z+``, draw ``x^_j`` uniformly from ``WordCloud-(z_i)``; from ``Z-``, from
   ``WordCloud+(z_i)``.
4. Substitute ``x_j -> x^_j``.

When ``Z`` is empty there is no candidate and no counterfactual (``Counterfactual.found`` is False).
Here ``x_j`` is the word at position ``j``: a word occurring twice gives two elements of ``Z``, and
the drawn one is the one replaced. Words are matched in lower case, as the clouds are built. A pair
whose opposite cloud is empty offers nothing to substitute and is left out of ``Z`` (with the
paper's 30-word clouds both sides are non-empty). :func:`counterfactual_flips` applies the
algorithm to many sentences for several layers (dense vs sparse) and records whether each
counterfactual flips the layer's prediction; :func:`flip_rates` summarizes, over all sentences with
a counterfactual and, as the paper reports, over those with a counterfactual under every layer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from studykit.solver.layers import DecisionLayer

from .text import WORD, Encoder, words
from .wordcloud import WordCloud

#: Columns of :func:`counterfactual_flips`.
FLIP_COLUMNS = ("layer", "sentence", "original", "label", "n_candidates", "position", "feature", "word",
                "replacement", "side", "counterfactual", "new_label", "flipped")
#: Columns of :func:`flip_rates`.
RATE_COLUMNS = ("layer", "n_sentences", "n_counterfactuals", "flip_rate", "n_common", "flip_rate_common")


@dataclass(frozen=True)
class Candidate:
    """One element of ``Z``: the word at ``position`` is evidence for the label through ``feature``;
    ``side`` is ``"+"`` (``Z+``) or ``"-"`` (``Z-``)."""

    position: int
    feature: int
    side: str


@dataclass(frozen=True)
class Counterfactual:
    """The outcome of Algorithm 3 on one sentence.

    Attributes
    ----------
    sentence : str
    label : int, the layer's prediction ``y`` on the sentence.
    n_candidates : int, ``|Z|``.
    position, feature, word, replacement, side : the drawn substitution ``x_j -> x^_j`` (``position``
        counts words from 0; ``word`` as written), or None when there is no candidate.
    text : str or None, the counterfactual sentence.
    """

    sentence: str
    label: int
    n_candidates: int
    position: int | None = None
    feature: int | None = None
    word: str | None = None
    replacement: str | None = None
    side: str | None = None
    text: str | None = None

    @property
    def found(self) -> bool:
        return self.text is not None


def candidates(sentence: str, label: int, weight: np.ndarray, clouds: Mapping[int, WordCloud]) -> list[Candidate]:
    """``Z = Z+ u Z-`` for ``sentence`` predicted as ``label`` under a layer with weights ``weight``
    ``(n_classes, n_features)``, ordered by feature then position.

    Raises ``ValueError`` when a feature with a non-zero weight for ``label`` has no word cloud.
    """
    row = np.asarray(weight)[label]
    used = np.flatnonzero(row)
    missing = [int(i) for i in used if int(i) not in clouds]
    if missing:
        raise ValueError(f"{len(missing)} features with a non-zero weight for class {label} have no word cloud "
                         f"(first: {missing[:5]}); compute clouds for every feature the layer uses")
    tokens = [w.lower() for w in words(sentence)]
    found = []
    for i in used:
        cloud = clouds[int(i)]
        evidence, opposite, side = ((cloud.positive, cloud.negative, "+") if row[i] > 0
                                    else (cloud.negative, cloud.positive, "-"))
        if not opposite:
            continue
        evidence = set(evidence)
        found.extend(Candidate(j, int(i), side) for j, token in enumerate(tokens) if token in evidence)
    return found


def counterfactual(sentence: str, label: int, weight: np.ndarray, clouds: Mapping[int, WordCloud],
                   rng: np.random.Generator) -> Counterfactual:
    """Algorithm 3 on one sentence: draw an element of ``Z`` and a word of the opposite cloud with ``rng``."""
    pool = candidates(sentence, label, weight, clouds)
    if not pool:
        return Counterfactual(sentence, int(label), 0)
    pick = pool[int(rng.integers(len(pool)))]
    cloud = clouds[pick.feature]
    opposite = cloud.negative if pick.side == "+" else cloud.positive
    replacement = opposite[int(rng.integers(len(opposite)))]
    span = list(WORD.finditer(sentence))[pick.position].span()
    return Counterfactual(sentence, int(label), len(pool), pick.position, pick.feature, sentence[span[0]:span[1]],
                          replacement, pick.side, sentence[:span[0]] + replacement + sentence[span[1]:])


def counterfactual_flips(sentences: Sequence[str], encode: Encoder, layers: Mapping[str, DecisionLayer],
                         clouds: Mapping[int, WordCloud], *, seed: int = 0) -> pd.DataFrame:
    """Algorithm 3 for every sentence under every layer, and whether the counterfactual flips the prediction.

    Sentence ``s`` draws from ``numpy.random.default_rng([seed, s])`` under every layer.

    Returns
    -------
    DataFrame
        One row per (layer, sentence), columns ``FLIP_COLUMNS``: ``sentence`` indexes ``sentences``,
        ``original`` is its text; ``label`` and ``new_label`` are the layer's predictions on the
        sentence and on its ``counterfactual``; ``new_label`` and ``flipped`` (nullable) are missing
        (``<NA>``) where there is no counterfactual.
    """
    sentences = list(sentences)
    encoded = np.asarray(encode(sentences), dtype=np.float32)
    frames = []
    for name, layer in layers.items():
        if layer.family != "multinomial":
            raise ValueError(f"layer {name!r} is {layer.family}: counterfactuals need a multinomial layer")
        labels = layer.predict(encoded)
        results = [counterfactual(s, int(y), layer.weight, clouds, np.random.default_rng([seed, n]))
                   for n, (s, y) in enumerate(zip(sentences, labels))]
        frame = pd.DataFrame([asdict(r) for r in results]).rename(columns={"sentence": "original",
                                                                           "text": "counterfactual"})
        frame.insert(0, "layer", name)
        frame.insert(1, "sentence", np.arange(len(results)))
        found = frame["counterfactual"].notna()
        new_label = pd.Series(pd.NA, index=frame.index, dtype="Int64")
        if found.any():
            new_label[found] = layer.predict(np.asarray(encode(frame.loc[found, "counterfactual"].tolist()),
                                                        dtype=np.float32))
        frame["new_label"] = new_label
        frame["flipped"] = (new_label != frame["label"]).astype("boolean")   # <NA> where no counterfactual
        frames.append(frame)
    return pd.concat(frames, ignore_index=True).reindex(columns=list(FLIP_COLUMNS))


def flip_rates(flips: pd.DataFrame) -> pd.DataFrame:
    """Per layer: sentences, counterfactuals found, flip rate over them, and over the ``n_common``
    sentences that have a counterfactual under every layer (the paper's comparison). NaN where a
    rate has no sentence."""
    found = flips.pivot(index="sentence", columns="layer", values="flipped").notna()
    common = found.index[found.all(axis=1)]
    rows = []
    for name, group in flips.groupby("layer", sort=False):
        flipped = group["flipped"].dropna().astype(bool)
        in_common = group.loc[group["sentence"].isin(common), "flipped"].dropna().astype(bool)
        rows.append((name, len(group), len(flipped), flipped.mean() if len(flipped) else np.nan,
                     len(in_common), in_common.mean() if len(in_common) else np.nan))
    return pd.DataFrame(rows, columns=list(RATE_COLUMNS))
