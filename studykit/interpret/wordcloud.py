"""Word clouds of a deep feature (Algorithm 2, lines 4-8).

From a table of per-sentence LIME weights (:func:`studykit.interpret.text.explain_sentences`):

- :func:`word_weights` -- for every word ``w`` of the vocabulary, ``K_w`` = its number of
  occurrences over all sentences and ``beta_w`` = the average of the LIME weights of those
  occurrences (a word occurring twice in a sentence counts twice). Words are compared in lower case.
- :func:`word_cloud` -- the ``top_k`` (30 in the paper) words with the largest positive and the most
  negative average weights: the feature's positive and negative word clouds.
- :func:`write_word_clouds` -- renders both with the ``wordcloud`` package (word size proportional
  to ``|beta_w|``) and writes the data beside each PNG as CSV ``(word, weight, count)``;
  :func:`read_word_cloud` reads the clouds back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .text import weight_column

#: Columns of :func:`word_weights` and of the word-cloud CSV files.
CLOUD_COLUMNS = ("word", "weight", "count")
#: Word colours of the two clouds.
COLORS = {"positive": "#1a7f37", "negative": "#b42318"}


@dataclass(frozen=True)
class WordCloud:
    """A deep feature's word clouds: its ``top_k`` most positive and most negative words.

    Attributes
    ----------
    feature : int
    positive : tuple of str, largest average weight first (all weights > 0).
    negative : tuple of str, most negative average weight first (all weights < 0).
    """

    feature: int
    positive: tuple[str, ...]
    negative: tuple[str, ...]


def word_weights(explanations: pd.DataFrame, feature: int, *, min_count: int = 1) -> pd.DataFrame:
    """Average LIME weight of every word over its occurrences (Algorithm 2, lines 4-7).

    Parameters
    ----------
    explanations : DataFrame from :func:`~studykit.interpret.text.explain_sentences`
    feature : int, one of the explained features.
    min_count : int
        Leave out words with fewer occurrences (1, the default, keeps every word as Algorithm 2 does).

    Returns
    -------
    DataFrame
        Columns ``CLOUD_COLUMNS``: ``word`` (lower case), ``weight`` = sum over occurrences of the
        sentence's weight / ``count`` = ``K_w``; sorted by weight, largest first (ties by word).
    """
    column = weight_column(feature)
    if column not in explanations.columns:
        raise ValueError(f"feature {feature} was not explained (no column {column!r} in the explanations)")
    if min_count < 1:
        raise ValueError(f"min_count={min_count!r} is invalid: expected an integer >= 1")
    occurrences = pd.DataFrame({"word": explanations["word"].str.lower(), "count": explanations["count"],
                                "total": explanations["count"] * explanations[column]})
    grouped = occurrences.groupby("word", sort=True)[["total", "count"]].sum().reset_index()
    table = pd.DataFrame({"word": grouped["word"], "weight": grouped["total"] / grouped["count"],
                          "count": grouped["count"].astype(int)})
    table = table[table["count"] >= min_count]
    return table.sort_values(["weight", "word"], ascending=[False, True], kind="stable").reset_index(drop=True)


def cloud_tables(weights: pd.DataFrame, top_k: int = 30) -> dict[str, pd.DataFrame]:
    """The ``top_k`` words of each sign from :func:`word_weights`: ``{"positive": ..., "negative": ...}``,
    each strongest first."""
    if top_k < 1:
        raise ValueError(f"top_k={top_k!r} is invalid: expected an integer >= 1")
    positive = weights[weights["weight"] > 0].head(top_k)
    negative = weights[weights["weight"] < 0].sort_values(["weight", "word"], kind="stable").head(top_k)
    return {"positive": positive.reset_index(drop=True), "negative": negative.reset_index(drop=True)}


def word_cloud(explanations: pd.DataFrame, feature: int, top_k: int = 30, *, min_count: int = 1) -> WordCloud:
    """The positive and negative word clouds of ``feature`` (the words only)."""
    tables = cloud_tables(word_weights(explanations, feature, min_count=min_count), top_k)
    return WordCloud(int(feature), tuple(tables["positive"]["word"]), tuple(tables["negative"]["word"]))


def write_word_clouds(explanations: pd.DataFrame, feature: int, out_dir, top_k: int = 30, *,
                      min_count: int = 1, seed: int = 0) -> dict[str, Path]:
    """Write ``feature_{f}_words.csv`` (every word) and, for each non-empty sign,
    ``feature_{f}_{positive|negative}.png`` with its ``.csv`` (the cloud's words) to ``out_dir``.

    Returns
    -------
    dict of file name -> Path
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = word_weights(explanations, feature, min_count=min_count)
    written = {f"feature_{feature}_words.csv": out / f"feature_{feature}_words.csv"}
    weights.to_csv(written[f"feature_{feature}_words.csv"], index=False)
    for sign, table in cloud_tables(weights, top_k).items():
        if table.empty:
            continue
        stem = f"feature_{feature}_{sign}"
        table.to_csv(out / f"{stem}.csv", index=False)
        render_word_cloud(table, out / f"{stem}.png", color=COLORS[sign], seed=seed)
        written.update({f"{stem}.csv": out / f"{stem}.csv", f"{stem}.png": out / f"{stem}.png"})
    return written


def read_word_cloud(directory, feature: int, top_k: int = 30) -> WordCloud:
    """The word clouds of ``feature`` from the ``feature_{f}_words.csv`` that :func:`write_word_clouds` wrote."""
    path = Path(directory) / f"feature_{int(feature)}_words.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (no word cloud of feature {feature}; "
                                f"run `studykit interpret wordcloud`)")
    weights = pd.read_csv(path, keep_default_na=False)
    tables = cloud_tables(weights.astype({"word": str}), top_k)
    return WordCloud(int(feature), tuple(tables["positive"]["word"]), tuple(tables["negative"]["word"]))


def render_word_cloud(table: pd.DataFrame, path, *, color: str = COLORS["positive"], width: int = 600,
                      height: int = 300, seed: int = 0) -> Path:
    """Render ``table`` (columns ``word``, ``weight``) as a PNG word cloud, word size proportional to
    ``|weight|``, on a white background."""
    from wordcloud import WordCloud as Renderer

    frequencies = dict(zip(table["word"], np.abs(table["weight"].to_numpy(dtype=float))))
    if not frequencies or max(frequencies.values()) <= 0:
        raise ValueError(f"{path}: no word with a non-zero weight to draw")
    renderer = Renderer(width=width, height=height, background_color="white", random_state=seed,
                        color_func=lambda *args, **kwargs: color, prefer_horizontal=1.0, min_font_size=8)
    path = Path(path)
    renderer.generate_from_frequencies(frequencies).to_file(str(path))
    return path
